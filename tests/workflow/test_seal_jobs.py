"""`serve` seals every day at 02:00 Europe/London and after every 10,000 new rows, when keyed."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from apscheduler.schedulers.background import BackgroundScheduler

from sqlalchemy import func, select

from workflow.clock import LONDON
from workflow.storage.db import reading
from workflow.runtime.sealing import add_seal_jobs, seal_job
from workflow.services.seals import ROWS_PER_SEAL, generate, latest
from workflow.storage.tables import history


def _env(tmp_path) -> dict:
    generate(tmp_path / "audit.pem")
    return {
        "CASEWORK_AUDIT_KEY": str(tmp_path / "audit.pem"),
        "CASEWORK_SEAL_DIR": str(tmp_path / "seals"),
    }


def test_without_a_key_serve_adds_no_seal_jobs(db):
    scheduler = BackgroundScheduler(timezone=LONDON)

    assert add_seal_jobs(scheduler, db, environ={}) is False
    assert scheduler.get_jobs() == []


def test_the_daily_seal_falls_at_two_in_the_morning_london_time_in_summer_and_winter(db, tmp_path):
    scheduler = BackgroundScheduler(timezone=LONDON)
    add_seal_jobs(scheduler, db, environ=_env(tmp_path))
    daily = scheduler.get_job("seal-daily").trigger

    summer = daily.get_next_fire_time(None, datetime(2027, 7, 1, 12, tzinfo=timezone.utc))
    winter = daily.get_next_fire_time(None, datetime(2027, 1, 1, 12, tzinfo=timezone.utc))

    assert summer.astimezone(timezone.utc) == datetime(2027, 7, 2, 1, tzinfo=timezone.utc)
    assert winter.astimezone(timezone.utc) == datetime(2027, 1, 2, 2, tzinfo=timezone.utc)
    assert ROWS_PER_SEAL == 10_000


def test_the_row_count_job_seals_only_once_enough_rows_are_new(world, tmp_path):
    world.cast()
    env = _env(tmp_path)
    ref = world.bid()
    world.advance(ref, "submit")  # its opening, submission and due-diligence rows
    with reading(world.engine) as conn:
        so_far = conn.execute(select(func.count()).select_from(history)).scalar()
    run = seal_job(world.engine, env, at_least=so_far + 1)

    run()  # one row short: not yet
    with reading(world.engine) as conn:
        assert latest(conn) is None
    world.advance(ref, "check", "start_assessment")
    run()  # enough new rows: sealed, and copied
    with reading(world.engine) as conn:
        made = latest(conn)
        rows = conn.execute(select(func.count()).select_from(history)).scalar()

    assert made.tree_size == rows > so_far + 1
    copy = json.loads((tmp_path / "seals" / "seal-000001.json").read_text())
    assert copy["root"] == made.statement["root"]
