"""A sweep whose database connection is cut mid-way carries on with a fresh one."""

import logging
import threading
import time
from datetime import date, datetime, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, text

from tests.workflow.monitoring_world import bulk_bids, exactly_once
from workflow.storage.tables import history
from workflow.runtime.status import last_sweep
from workflow.runtime.sweep import sweep

SWEPT_AT = datetime(2014, 1, 6, 9, 30, tzinfo=timezone.utc)  # Q1: opened, reminded, overdue
STEPS_EACH = 3


def q1_due(i: int, n: int) -> date:
    return date(2014, 1, 2) if n == 1 else date(2015, 6, 1)


def steps_done(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(history).where(history.c.actor == "system")
        ).scalar()


@pytest.mark.postgres
def test_pg_terminate_backend_mid_sweep_the_backlog_finishes_in_the_same_sweep_each_step_once(
    pg_db, caplog
):
    cases = 200
    bulk_bids(pg_db, cases, q1_due)
    outcome: dict = {}

    def long_sweep():
        try:
            with freeze_time(SWEPT_AT):
                outcome["report"] = sweep(pg_db, owner="sweeper")
        except Exception as err:  # surfaced by the assertions below
            outcome["error"] = err

    caplog.set_level(logging.INFO, logger="casework.sweep")
    worker = threading.Thread(target=long_sweep)
    worker.start()
    deadline = time.monotonic() + 120
    while steps_done(pg_db) < 60 and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    with pg_db.connect() as conn:  # every other connection to this database: the sweeper's
        cut = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    worker.join(timeout=300)

    assert cut >= 1 and "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert report.errors == [] and report.total == cases * STEPS_EACH
    assert exactly_once(pg_db) == {
        "history_rows": cases * STEPS_EACH,
        "steps_recorded": cases * STEPS_EACH,
        "repeated_steps": 0,
        "messages": cases * STEPS_EACH,
        "distinct_keys": cases * STEPS_EACH,
        "ok": True,
    }
    lost = [r for r in caplog.records if "connection was lost" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelno == logging.WARNING
    assert "\n" not in lost[0].getMessage() and lost[0].exc_info is None
    with pg_db.connect() as conn:  # the sweep is recorded, as any other
        assert last_sweep(conn)["steps"] == cases * STEPS_EACH
