"""Two sweeps at once never do a step twice and never leave one out."""

import json
import subprocess
import sys
import threading
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from tests.workflow.monitoring_world import bulk_bids, exactly_once
from workflow.services.chain import verify
from workflow.storage.tables import checkpoints
from workflow.runtime.sweep import sweep

UTC = timezone.utc
CASEWORK = str(Path(sys.executable).with_name("casework"))
Q1_DUE = date(2014, 1, 2)
FAR = date(2015, 6, 1)
# 09:30 on 6 January 2014: Q1 has opened, been reminded of and marked overdue.
SWEPT_AT = datetime(2014, 1, 6, 9, 30, tzinfo=UTC)
DUE_AT_SWEEP = ["opened", "reminder", "overdue"]


def q1_due(i: int, n: int) -> date:
    return Q1_DUE if n == 1 else FAR


def steps_of_q1(engine) -> list[list[str]]:
    with engine.connect() as conn:
        return [
            list(s)
            for s in conn.execute(
                select(checkpoints.c.steps_done)
                .where(checkpoints.c.n == 1)
                .order_by(checkpoints.c.id)
            ).scalars()
        ]


def test_two_sweeps_at_once_on_sqlite_do_each_step_exactly_once(db):
    bulk_bids(db, 40, q1_due)
    reports, failures = [], []

    def worker():
        try:
            reports.append(sweep(db))
        except Exception as err:  # surfaced by the assertion below
            failures.append(err)

    with freeze_time(SWEPT_AT):
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)

    assert failures == []
    assert sum(r.total for r in reports) == 40 * len(DUE_AT_SWEEP)
    assert steps_of_q1(db) == [DUE_AT_SWEEP] * 40
    assert exactly_once(db)["ok"]


def test_twice_the_same_sweep_leaves_the_database_as_the_first_left_it(world, db):
    bulk_bids(db, 10, q1_due)
    sweep(db, SWEPT_AT)
    before = world.snapshot()

    second = sweep(db, SWEPT_AT)

    assert second.total == 0
    assert world.snapshot() == before


def run_sweep_process(url: str, at: datetime) -> subprocess.Popen:
    return subprocess.Popen(
        [CASEWORK, "--db", url, "sweep", "--now", at.isoformat(), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_sweeping_a_thousand_due_returns_on_postgresql_share_the_work(pg_db):
    bulk_bids(pg_db, 1000, q1_due)

    procs = [run_sweep_process(pg_db.test_url, SWEPT_AT) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(r["total"] for r in reports) == 1000 * len(DUE_AT_SWEEP)
    assert all(r["total"] > 0 for r in reports)  # both took a share
    assert steps_of_q1(pg_db) == [DUE_AT_SWEEP] * 1000  # none missing
    assert exactly_once(pg_db) == {
        "history_rows": 3000,
        "steps_recorded": 3000,
        "repeated_steps": 0,
        "messages": 3000,
        "distinct_keys": 3000,
        "ok": True,
    }
    with pg_db.connect() as conn:
        assert verify(conn).ok


def test_a_writer_gets_in_while_a_long_sweep_on_sqlite_is_still_running(db):
    bulk_bids(db, 1500, q1_due)
    failures = []

    def long_sweep():
        try:
            with freeze_time(SWEPT_AT):
                sweep(db)
        except Exception as err:  # surfaced by the assertion below
            failures.append(err)

    def sweep_has_begun() -> bool:
        with db.connect() as conn:
            return (
                conn.execute(
                    select(checkpoints.c.id).where(checkpoints.c.state != "scheduled").limit(1)
                ).first()
                is not None
            )

    worker = threading.Thread(target=long_sweep)
    worker.start()
    while worker.is_alive() and not sweep_has_begun():
        threading.Event().wait(0.01)
    # A return saved from the web while the sweep works through the backlog:
    with db.begin() as conn:
        conn.execute(checkpoints.update().where(checkpoints.c.id == 1).values(figures={"x": 1}))
    still_sweeping = worker.is_alive()
    worker.join(timeout=300)

    assert failures == []
    assert still_sweeping, "the write waited for the whole sweep to finish"
