"""The scheduler: a sweep at start and every N minutes, delivery every minute, a clean stop."""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from tests.smtp_server import SmtpTestServer
from tests.workflow.monitoring_world import bid_in_monitoring
from workflow.storage.db import reading
from workflow.errors import SetupError
from workflow.runtime.scheduler import build_scheduler, delivery_job
from workflow.runtime.status import last_sweep, status
from workflow.runtime.sweep import sweep

UTC = timezone.utc
CASEWORK = str(Path(sys.executable).with_name("casework"))


def test_the_sweep_and_delivery_run_at_start_then_every_interval_and_never_twice_at_once(db):
    scheduler = build_scheduler(db, every_minutes=5)

    scheduler.start(paused=True)  # jobs take their settings at start
    try:
        sweep_job, deliver_job = scheduler.get_job("sweep"), scheduler.get_job("deliver")
    finally:
        scheduler.shutdown(wait=False)

    assert sweep_job.trigger.interval.total_seconds() == 300
    assert deliver_job.trigger.interval.total_seconds() == 60
    for job in (sweep_job, deliver_job):
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)
    assert scheduler.timezone == ZoneInfo("Europe/London")
    assert sweep_job.next_run_time <= datetime.now(UTC)  # the first sweep catches up
    assert deliver_job.next_run_time <= datetime.now(UTC)  # and the first delivery sends


def test_a_started_scheduler_sweeps_at_once_and_stops_when_asked(db):
    stop = threading.Event()
    scheduler = build_scheduler(db, every_minutes=60, deliver=False, stop=stop)

    scheduler.start()
    try:
        deadline = time.monotonic() + 30
        while not last_sweep_of(db) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        scheduler.shutdown(wait=True)

    assert last_sweep_of(db)["steps"] == 0


def last_sweep_of(engine) -> dict:
    with reading(engine) as conn:
        return last_sweep(conn)


def test_mail_settings_that_cannot_work_stop_the_scheduler_from_being_built(db):
    with pytest.raises(SetupError, match="CASEWORK_SMTP_PORT"):
        build_scheduler(db, every_minutes=5, environ={"CASEWORK_SMTP_PORT": "smtp"})


def test_a_sweep_interval_of_nothing_is_refused(db):
    with pytest.raises(SetupError, match="more than 0 minutes"):
        build_scheduler(db, every_minutes=0)


def test_the_delivery_job_sends_what_the_sweep_queued_through_real_smtp(world, db):
    bid_in_monitoring(world, datetime(2013, 10, 1, 10, tzinfo=UTC))
    with freeze_time(datetime(2013, 12, 19, 9, 30, tzinfo=UTC)):
        sweep(db)
    server = SmtpTestServer().start()
    try:
        run = delivery_job(
            db,
            "test-worker",
            environ={"CASEWORK_SMTP_HOST": "127.0.0.1", "CASEWORK_SMTP_PORT": str(server.port)},
        )
        with freeze_time(datetime(2013, 12, 19, 9, 31, tzinfo=UTC), real_asyncio=True):
            run()
    finally:
        server.stop()

    opened = [
        m for m in server.received if m.message["X-Casework-Key"] == "TCA-2013-0001/Q1:opened"
    ]
    assert [m.rcpt_tos for m in opened] == [["returns@e07000026.example.gov.uk"]]
    assert opened[0].message["Subject"] == (
        "TCA-2013-0001: your Q1 monitoring return is open, due by Thursday 2 January 2014"
    )


def test_with_notify_serve_polls_receipts_and_says_once_when_the_key_is_refused(world, db, caplog):
    from demo.notify_stub import NotifyStub

    bid_in_monitoring(world, datetime(2013, 10, 1, 10, tzinfo=UTC))
    with freeze_time(datetime(2013, 12, 19, 9, 30, tzinfo=UTC)):
        sweep(db)
    with NotifyStub() as stub:
        environ = {
            "CASEWORK_MAIL": "notify",
            "CASEWORK_NOTIFY_API_KEY": stub.api_key,
            "CASEWORK_NOTIFY_BASE_URL": stub.base_url,
            "CASEWORK_NOTIFY_TEMPLATE": stub.generic_template,
        }
        scheduler = build_scheduler(db, every_minutes=5, environ=environ)
        stub.revoke_key()
        run = scheduler.get_job("deliver").func
        with caplog.at_level("ERROR", logger="casework.scheduler"):
            run()
            run()

    assert {job.id for job in scheduler.get_jobs()} == {"sweep", "deliver", "receipts"}
    refused = [r for r in caplog.records if "Notify refused the API key" in r.getMessage()]
    assert len(refused) == 1


# --- status ------------------------------------------------------------------------
def test_status_is_stale_before_any_sweep(db):
    found = status(db, datetime(2014, 1, 6, 9, 30, tzinfo=UTC))

    assert found["ok"] is False
    assert found["sweep"]["last_at"] is None and found["sweep"]["stale"] is True


def test_status_is_fresh_after_a_sweep_and_stale_after_three_intervals(db):
    with freeze_time(datetime(2014, 1, 6, 9, 30, tzinfo=UTC)):
        sweep(db)

    fresh = status(db, datetime(2014, 1, 6, 9, 44, tzinfo=UTC))
    stale = status(db, datetime(2014, 1, 6, 9, 46, tzinfo=UTC))

    assert fresh["ok"] is True and fresh["sweep"]["age_seconds"] == 14 * 60
    assert stale["ok"] is False and stale["sweep"]["stale_after_seconds"] == 15 * 60


def test_status_counts_the_steps_due_and_the_outbox(world, db):
    bid_in_monitoring(world, datetime(2013, 10, 1, 10, tzinfo=UTC))

    before = status(db, datetime(2014, 1, 6, 9, 30, tzinfo=UTC))  # opened, reminder, overdue
    with freeze_time(datetime(2014, 1, 6, 9, 30, tzinfo=UTC)):
        sweep(db)
    after = status(db, datetime(2014, 1, 6, 10, 30, tzinfo=UTC))

    assert before["due_steps"] == 3
    assert after["due_steps"] == 0
    assert after["outbox"]["queued"] == before["outbox"]["queued"] + 3
    assert after["outbox"]["oldest_queued_age_seconds"] > 0


# --- casework serve ------------------------------------------------------------------
def serve(db, tmp_path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "CASEWORK_DB": db.test_url, "CASEWORK_MAIL": f"file:{tmp_path / 'mail'}"}
    return subprocess.Popen(
        [CASEWORK, "serve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_serve_sweeps_at_start_records_its_interval_and_stops_cleanly_on_sigterm(db, tmp_path):
    process = serve(db, tmp_path, "--no-web", "--every", "2")
    deadline = time.monotonic() + 60
    while not last_sweep_of(db) and time.monotonic() < deadline:
        time.sleep(0.1)

    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=60)

    assert process.returncode == 0, log
    lines = log.splitlines()
    assert any(
        " INFO sweep.done " in line
        and ": sweep at " in line
        and " steps" in line
        and line.endswith(" s")
        for line in lines
    ), log
    assert lines[-1].endswith(" INFO serve: stopped")
    assert status(db)["sweep"]["every_minutes"] == 2


def test_serve_with_nothing_to_serve_is_a_usage_error(db, tmp_path):
    process = serve(db, tmp_path, "--no-web", "--no-scheduler")
    _, err = process.communicate(timeout=60)

    assert process.returncode == 2
    assert "leave nothing to serve" in err


def test_a_run_longer_than_its_interval_is_not_a_warning_at_every_interval(db, caplog):
    import logging

    from apscheduler.triggers.interval import IntervalTrigger

    caplog.set_level(logging.INFO)
    scheduler = build_scheduler(db, every_minutes=60, deliver=False)
    scheduler.add_job(
        lambda: time.sleep(1.2),
        IntervalTrigger(seconds=0.2),
        id="slow",
        name="slow",
        next_run_time=datetime.now(timezone.utc),
    )
    scheduler.start()
    time.sleep(1.5)
    scheduler.shutdown(wait=True)

    warnings = [
        r
        for r in caplog.records
        if r.levelno >= logging.WARNING and "maximum number of running instances" in r.getMessage()
    ]
    told = [r for r in caplog.records if "still running" in r.getMessage()]
    assert warnings == []
    assert len(told) == 1 and told[0].levelno == logging.INFO
