"""`casework serve` killed mid-sweep and started again: nothing lost, nothing twice.

Real processes on a real SQLite file, on the real clock: the returns are laid
out around today so that a whole ladder (six steps) is due for each of them.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.workflow.monitoring_world import bulk_bids, exactly_once
from workflow.storage.db import reading
from workflow.services.chain import verify
from workflow.storage.tables import checkpoints, history

CASEWORK = str(Path(sys.executable).with_name("casework"))
CASES = 300
LADDER = ["opened", "reminder", "overdue", "escalated_1", "escalated_2", "suspended"]


def due_long_ago(i: int, n: int) -> date:
    today = datetime.now(timezone.utc).date()
    return today - timedelta(days=60) if n == 1 else today + timedelta(days=200 + 91 * n)


def start_serve(url: str, tmp: Path) -> subprocess.Popen:
    env = {**os.environ, "CASEWORK_DB": url, "CASEWORK_MAIL": f"file:{tmp / 'mail'}"}
    log = open(tmp / "serve.log", "a")
    return subprocess.Popen(
        [CASEWORK, "serve", "--no-web", "--every", "10"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
        text=True,
    )


def log_of(tmp: Path) -> str:
    return (tmp / "serve.log").read_text()


def ladder_rows(engine) -> int:
    with reading(engine) as conn:
        return conn.execute(
            select(func.count()).select_from(history).where(history.c.actor == "system")
        ).scalar()


def still_due(engine) -> int:
    with reading(engine) as conn:
        return conn.execute(
            select(func.count())
            .select_from(checkpoints)
            .where(checkpoints.c.next_step_at <= datetime.now(timezone.utc))
        ).scalar()


def wait_for(condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_serve_process_killed_mid_sweep_loses_nothing_and_repeats_nothing(db, tmp_path):
    bulk_bids(db, CASES, due_long_ago)
    first = start_serve(db.test_url, tmp_path)
    wait_for(lambda: ladder_rows(db) >= 200)

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)

    done_before_restart = ladder_rows(db)
    assert 200 <= done_before_restart < CASES * len(LADDER)  # killed part-way
    assert exactly_once(db)["ok"]  # and nothing half done
    second = start_serve(db.test_url, tmp_path)
    wait_for(lambda: still_due(db) == 0)
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=60)

    assert second.returncode == 0, log_of(tmp_path)
    with db.connect() as conn:
        q1 = conn.execute(select(checkpoints.c.steps_done).where(checkpoints.c.n == 1)).scalars()
        assert [list(s) for s in q1] == [LADDER] * CASES
        assert verify(conn).ok
    assert exactly_once(db) == {
        "history_rows": CASES * len(LADDER),
        "steps_recorded": CASES * len(LADDER),
        "repeated_steps": 0,
        "messages": CASES * len(LADDER),
        "distinct_keys": CASES * len(LADDER),
        "ok": True,
    }


@pytest.mark.slow
def test_ctrl_c_mid_sweep_stops_between_two_steps_and_leaves_the_rest_due(db, tmp_path):
    bulk_bids(db, CASES, due_long_ago)
    serve = start_serve(db.test_url, tmp_path)
    wait_for(lambda: ladder_rows(db) >= 100)

    serve.send_signal(signal.SIGINT)
    serve.wait(timeout=30)

    log = log_of(tmp_path)
    assert serve.returncode == 0, log
    assert "SIGINT received: stopping" in log and log.splitlines()[-1].endswith("stopped")
    assert still_due(db) > 0  # it did not finish the backlog first
    assert exactly_once(db)["ok"]  # and every step it did is whole
