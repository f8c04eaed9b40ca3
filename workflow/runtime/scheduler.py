"""APScheduler 3 wiring: the sweep every N minutes, outbox delivery (and Notify's receipts) every minute.

Deadlines live in the database, never only in the scheduler: the jobs are kept
in memory and added again at every start (LIBRARY-NOTES section 2), so a
restart loses nothing. Both jobs are idempotent; several processes may run
them against one PostgreSQL database at once.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta
from typing import Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from notifications.transports import sender_from_env, transport_from_env
from states.ladder import LONDON
from workflow import clock
from workflow.runtime import mail
from workflow.storage.db import fault_of, reading
from workflow.storage.dbfaults import is_database_error
from workflow.errors import SetupError
from workflow.runtime.sweep import default_owner, sweep

__all__ = ["build_scheduler", "sweep_job", "delivery_job", "receipts_job"]

log = logging.getLogger("casework.scheduler")


def _log_failure(engine: Engine, what: str, err: Exception) -> None:
    """A database fault is one line saying what to do; anything else keeps its traceback."""
    if is_database_error(err):
        log.error("%s failed; the next run will try again. %s", what, fault_of(engine, err).line)
    else:
        log.exception("%s failed; the next run will try again", what)


class _StillRunning(logging.Filter):
    """APScheduler warns at every interval that a long run is still going: say it once, quietly.

    (A run that outlasts its interval is normal for a sweep catching up, and
    `max_instances=1` is what keeps a second one from starting beside it.)
    """

    def __init__(self) -> None:
        super().__init__()
        self.told: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" not in str(record.msg):
            return True
        job = getattr(record.args[0], "name", "a job") if record.args else "a job"
        if job not in self.told:
            self.told.add(job)
            log.info(
                "the %s job is still running; its next run starts when it has finished (said once)",
                job,
            )
        return False


def _quiet_still_running() -> None:
    apscheduler_log = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, _StillRunning) for f in apscheduler_log.filters):
        apscheduler_log.addFilter(_StillRunning())


def sweep_job(engine: Engine, owner: str, stop: threading.Event) -> Callable[[], None]:
    """One sweep (it logs its own line); a failure is logged and the next run tries again."""

    def run() -> None:
        try:
            sweep(engine, owner=owner, should_stop=stop.is_set)  # logs its own line
        except Exception as err:
            _log_failure(engine, "sweep", err)

    return run


def _mail_settings(environ) -> tuple[object, str]:
    """The transport and the sender, read once, so a setting that cannot work
    stops `casework serve` at start instead of failing every minute."""
    try:
        return transport_from_env(environ), sender_from_env(environ)
    except ValueError as err:
        raise SetupError(f"The mail settings cannot be used: {err}") from None


def delivery_job(
    engine: Engine, owner: str, environ=os.environ, *, transport=None
) -> Callable[[], None]:
    """One delivery run over the outbox (workflow.runtime.mail.deliver, which logs its own line)."""
    configured, sender = _mail_settings(environ)
    transport = transport or configured
    said: list[str] = []

    def run() -> None:
        try:  # mail.deliver logs the run's line (delivery.done)
            mail.deliver(
                engine, transport=transport, sender=sender, owner=owner, refuse_when_stopped=False
            )
        except Exception as err:
            _log_failure(engine, "delivery", err)
            return
        stopped = getattr(transport, "stopped", None)
        if stopped and not said:  # a refused Notify key: said once, not every minute
            said.append(stopped)
            log.error("%s", stopped)

    return run


def receipts_job(engine: Engine, transport) -> Callable[[], None]:
    """One poll of GOV.UK Notify's delivery receipts (workflow.runtime.mail.poll_receipts), logged in one line."""

    def run() -> None:
        started = time.perf_counter()
        try:
            report = mail.poll_receipts(engine, transport=transport)
        except SetupError:
            return  # a refused key: the transport has said so, once
        except Exception:
            log.exception("polling delivery receipts failed; the next run will try again")
            return
        log.info("receipts: %s in %.3f s", report, time.perf_counter() - started)

    return run


def build_scheduler(
    engine: Engine,
    *,
    every_minutes: float,
    deliver: bool = True,
    owner: str | None = None,
    stop: threading.Event | None = None,
    environ=os.environ,
) -> BackgroundScheduler:
    """A scheduler (not started) that sweeps every `every_minutes` and delivers every minute,
    and backs up nightly when CASEWORK_BACKUP_DIR is set (workflow.runtime.backup_schedule).

    The first sweep and the first delivery run at start, so whatever fell
    due while nothing was running is caught up, and sent, at once. `stop`, when set, ends a running sweep
    between two steps (a clean shutdown does not wait for a long backlog).
    """
    if not every_minutes > 0:
        raise SetupError(f"The sweep interval must be more than 0 minutes, not {every_minutes}.")
    owner = owner or default_owner()
    stop = stop or threading.Event()
    _quiet_still_running()
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=2)},
        job_defaults={
            "coalesce": True,  # runs missed while busy become one run
            "max_instances": 1,  # never two sweeps at once in one process
            "misfire_grace_time": None,  # a late run still runs (the default drops it after 1 s)
        },
        # The machine's zone is not ours to rely on (APScheduler defaults to it).
        timezone=LONDON,
    )
    now = clock.now().astimezone(LONDON)
    scheduler.add_job(
        sweep_job(engine, owner, stop),
        IntervalTrigger(minutes=every_minutes),
        id="sweep",
        name="sweep",
        replace_existing=True,
        next_run_time=now,
    )
    if deliver:
        transport, _sender = _mail_settings(environ)
        # The first delivery at start too: mail queued while nothing ran (or
        # by the command that started this) does not wait a minute more.
        scheduler.add_job(
            delivery_job(engine, owner, environ, transport=transport),
            IntervalTrigger(minutes=1),
            id="deliver",
            name="deliver",
            replace_existing=True,
            next_run_time=now,
        )
        # GOV.UK Notify's receipts, asked for every minute unless Notify posts them to us.
        if getattr(transport, "receipts", None) == "poll":
            scheduler.add_job(
                receipts_job(engine, transport),
                IntervalTrigger(minutes=1),
                id="receipts",
                name="receipts",
                replace_existing=True,
            )
    _add_nightly_backup(scheduler, engine, environ)
    return scheduler


def _add_nightly_backup(scheduler: BackgroundScheduler, engine: Engine, environ) -> None:
    from workflow.services.attachments import files_root
    from workflow.services.seals import seal_dir
    from workflow.runtime.backup_schedule import (
        AT_HOUR,
        backup_dir,
        backup_job,
        check_writable,
        missed,
    )

    folder = backup_dir(environ)  # a folder that cannot be used stops `serve` at start
    if folder is None:
        return
    check_writable(folder)
    job = backup_job(engine, folder, files_root=files_root(engine), seal_dir=seal_dir(environ))
    scheduler.add_job(
        job,
        CronTrigger(hour=AT_HOUR, minute=0, timezone=LONDON),
        id="backup",
        name="backup",
        replace_existing=True,
    )
    now = clock.now()
    with reading(engine) as conn:
        late = missed(conn, now)
    # Said at start, so that the log shows serve was given the setting (`status` asks).
    log.info(
        "backing up nightly at %02d:00 Europe/London into %s%s",
        AT_HOUR,
        folder,
        "; the missed night's backup in a minute" if late else "",
    )
    if late:  # the night's backup was missed while nothing ran: make it up now
        scheduler.add_job(
            _unless_taken_since(engine, job),
            DateTrigger(now + timedelta(minutes=1)),
            id="backup-missed",
            name="backup (missed night)",
            replace_existing=True,
        )


def _unless_taken_since(engine: Engine, job: Callable[[], None]) -> Callable[[], None]:
    """The make-up run asks again when its minute comes: serve started at 00:59 has the
    night's own backup at 01:00 first, and a second a minute later would be one too many."""
    from workflow.runtime.backup_schedule import missed

    def run() -> None:
        with reading(engine) as conn:
            still = missed(conn, clock.now())
        if still:
            job()
        else:
            log.info("the missed night's backup is not needed: one was taken since serve started")

    return run
