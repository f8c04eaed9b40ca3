"""The sweep commits its steps in batches: each step whole or not at all, none lost, none
done twice, and nothing said of a step before its batch has committed."""

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from freezegun import freeze_time
from sqlalchemy import func, select, text

from tests.workflow.monitoring_world import bulk_bids, exactly_once
from workflow.runtime import metrics
from workflow.runtime.sweep import BATCH_STEPS, sweep
from workflow.storage.db import is_postgres, sqlite_path
from workflow.storage.tables import cases, checkpoints, history, outbox

UTC = timezone.utc
CASEWORK = str(Path(sys.executable).with_name("casework"))
SWEPT_AT = datetime(2014, 1, 6, 9, 30, tzinfo=UTC)  # Q1 has opened, been reminded, is overdue
DUE_AT_SWEEP = ["opened", "reminder", "overdue"]
CASES = 40  # 120 steps: more than two batches


def q1_due(i: int, n: int) -> date:
    return date(2014, 1, 2) if n == 1 else date(2015, 6, 1)


def q1_of(engine) -> dict[str, tuple[list[str], str, int, datetime | None]]:
    """Each Q1 return: its steps done, state, version and next step's time."""
    with engine.connect() as conn:
        return {
            row.ref: (list(row.steps_done), row.state, row.version, row.next_step_at)
            for row in conn.execute(
                select(
                    checkpoints.c.ref,
                    checkpoints.c.steps_done,
                    checkpoints.c.state,
                    checkpoints.c.version,
                    checkpoints.c.next_step_at,
                ).where(checkpoints.c.n == 1)
            )
        }


def in_background(run) -> tuple[threading.Thread, dict]:
    """`run()` on a thread of its own: its result, or the error it raised, in the dict."""
    outcome: dict = {}

    def work() -> None:
        try:
            outcome["result"] = run()
        except Exception as err:  # surfaced by the test's assertions
            outcome["error"] = err

    worker = threading.Thread(target=work)
    worker.start()
    return worker, outcome


def system_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(history).where(history.c.actor == "system")
        ).scalar()


def refuse_history_of(engine, case_id: int) -> None:
    """The database itself refuses the history rows of one case: that case's steps fail,
    for real, after they have queued their message and changed their rows."""
    with engine.begin() as conn:
        if is_postgres(engine):
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'history refused for this test'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON history FOR EACH ROW "
                    f"WHEN (NEW.case_id = {case_id}) EXECUTE FUNCTION refuse_one()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON history "
                    f"WHEN NEW.case_id = {case_id} "
                    "BEGIN SELECT RAISE(ABORT, 'history refused for this test'); END"
                )
            )


def accept_history_again(engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "DROP TRIGGER refuse_one ON history"
                if is_postgres(engine)
                else "DROP TRIGGER refuse_one"
            )
        )
        if is_postgres(engine):
            conn.execute(text("DROP FUNCTION refuse_one()"))


def test_a_step_that_fails_mid_batch_undoes_itself_alone_and_stays_due(any_db):
    bulk_bids(any_db, CASES, q1_due)
    # Case 5's return opens fifth, in the middle of the first batch.
    refuse_history_of(any_db, 5)
    failing = "TCA-2013-000005/Q1"

    report = sweep(any_db, SWEPT_AT)

    assert len(report.errors) == 1 and report.errors[0].startswith(failing), report.errors
    assert report.total == (CASES - 1) * len(DUE_AT_SWEEP)
    returns = q1_of(any_db)
    # The batch went on: every other return had all its steps, the failing one none ...
    assert {ref: r[0] for ref, r in returns.items() if ref != failing} == {
        ref: DUE_AT_SWEEP for ref in returns if ref != failing
    }
    steps, state, version, next_at = returns[failing]
    # ... and its savepoint took back everything it had written: its return's row, its
    # case's row and the message it had queued before its history row was refused.
    assert (steps, state, version) == ([], "scheduled", 1) and next_at <= SWEPT_AT
    with any_db.connect() as conn:
        assert conn.execute(select(cases.c.version).where(cases.c.id == 5)).scalar() == 10
        assert (
            conn.execute(select(func.count()).where(outbox.c.checkpoint_ref == failing)).scalar()
            == 0
        )
    assert exactly_once(any_db)["ok"]

    accept_history_again(any_db)
    again = sweep(any_db, SWEPT_AT)  # the next sweep does it

    assert again.errors == [] and again.total == len(DUE_AT_SWEEP)
    assert q1_of(any_db)[failing][0] == DUE_AT_SWEEP
    assert exactly_once(any_db) == {
        "history_rows": CASES * 3,
        "steps_recorded": CASES * 3,
        "repeated_steps": 0,
        "messages": CASES * 3,
        "distinct_keys": CASES * 3,
        "ok": True,
    }


def whole_ladder_due(today: date):
    """Return 1 of each case is 60 days overdue (its whole ladder is due: six steps,
    the last the case's suspension); the others are due years from now."""

    def due(i: int, n: int) -> date:
        if n == 1:
            return today - timedelta(days=60)
        return date(today.year + 2, 1, 4) + timedelta(days=91 * n)

    return due


def test_a_sweep_killed_mid_batch_loses_no_step_repeats_none_and_told_only_what_committed(db):
    cases_n, steps_each = 200, 6
    bulk_bids(db, cases_n, whole_ladder_due(datetime.now(UTC).date()))
    path = sqlite_path(db.test_url)

    env = {
        **{k: v for k, v in os.environ.items() if k != "CASEWORK_DEBUG"},
        "CASEWORK_DB": db.test_url,
        "CASEWORK_MAIL": f"file:{Path(path).parent / 'mail'}",
    }
    sweeping = subprocess.Popen(
        [CASEWORK, "sweep"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "CASEWORK_LOG_LEVEL": "INFO", "CASEWORK_LOG_FORMAT": "json"},
    )
    deadline = time.monotonic() + 120
    while system_rows(db) < 2 * BATCH_STEPS + 10:  # two batches in, the third under way
        assert sweeping.poll() is None, sweeping.communicate()
        assert time.monotonic() < deadline, "the sweep never got going"
        time.sleep(0.002)
    time.sleep(0.01)  # into the batch under way
    os.kill(sweeping.pid, signal.SIGKILL)
    _, err = sweeping.communicate(timeout=60)
    assert sweeping.returncode == -signal.SIGKILL

    at_kill = system_rows(db)
    # (Read line by line: the last line may have been cut short by the kill.)
    told = [line for line in err.splitlines() if '"event": "ladder.step"' in line]
    # It said nothing of the batch the kill took back (nor of a batch it committed but
    # did not live to tell, which is at most one).
    assert at_kill - BATCH_STEPS <= len(told) <= at_kill < cases_n * steps_each
    assert exactly_once(db)["ok"]

    rest = subprocess.run(
        [CASEWORK, "sweep", "--json"], capture_output=True, text=True, env=env, timeout=300
    )

    assert rest.returncode == 0, rest.stderr
    report = json.loads(rest.stdout)
    assert report["errors"] == [] and report["total"] == cases_n * steps_each - at_kill
    after = exactly_once(db)
    assert after["ok"] and after["history_rows"] == cases_n * steps_each, after


def ladder_steps_counted() -> float:
    return sum(
        sample.value
        for family in metrics.REGISTRY.collect()
        if family.name == "casework_ladder_steps"
        for sample in family.samples
        if sample.name.endswith("_total")
    )


@pytest.mark.postgres
def test_a_batch_lost_with_its_connection_is_told_once_when_done_again(pg_db, caplog):
    cases_n = 200
    bulk_bids(pg_db, cases_n, q1_due)
    counted_before = ladder_steps_counted()
    caplog.set_level(logging.INFO, logger="casework.sweep")

    def long_sweep():
        with freeze_time(SWEPT_AT):
            return sweep(pg_db, owner="sweeper")

    worker, outcome = in_background(long_sweep)
    deadline = time.monotonic() + 120
    while system_rows(pg_db) < BATCH_STEPS + 10 and worker.is_alive():
        assert time.monotonic() < deadline, "the sweep never got going"
        time.sleep(0.002)
    time.sleep(0.01)  # into the batch under way
    with pg_db.connect() as conn:  # every other connection to this database: the sweeper's
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    worker.join(timeout=300)

    assert "error" not in outcome, outcome.get("error")
    report = outcome["result"]
    everything = cases_n * len(DUE_AT_SWEEP)
    told = [r for r in caplog.records if getattr(r, "casework", {}).get("event") == "ladder.step"]
    assert any("connection was lost" in r.getMessage() for r in caplog.records)
    # The steps of the batch lost were done twice over (once rolled back), told once.
    assert report.errors == [] and report.total == everything
    assert len(told) == everything
    assert ladder_steps_counted() - counted_before == everything
    assert exactly_once(pg_db)["ok"]


@pytest.mark.postgres
def test_a_batch_meeting_a_locked_case_commits_before_it_waits(pg_db):
    bulk_bids(pg_db, CASES, q1_due)
    holder = pg_db.connect()
    holder.begin()
    # A caseworker's transaction holds case 5, whose return opens fifth.
    holder.execute(select(cases.c.id).where(cases.c.id == 5).with_for_update())
    worker, outcome = in_background(lambda: sweep(pg_db, SWEPT_AT))
    try:
        deadline = time.monotonic() + 60
        while not (seen := system_rows(pg_db)) and worker.is_alive():
            assert time.monotonic() < deadline, "nothing was committed"
            time.sleep(0.01)
        # The four steps before it are committed while the sweep waits for case 5: the
        # batch holds nothing another transaction (another sweeper) could be waiting for.
        assert seen == 4 and worker.is_alive()
    finally:
        holder.rollback()
        holder.close()
    worker.join(timeout=120)

    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"].errors == [] and outcome["result"].total == CASES * 3
    assert exactly_once(pg_db)["ok"]
