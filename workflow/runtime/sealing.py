"""`serve`'s sealing: every day at 02:00 Europe/London, and after every 10,000 new rows.

Only where a key is configured (CASEWORK_AUDIT_KEY). The key is read once, at
start, so a key that cannot be used stops `serve` at once instead of failing
every night. Several processes may seal one database: a seal made by another
meanwhile only makes this one's attempt a no-op (logged).
"""

from __future__ import annotations

import logging
import os
from typing import Callable, Mapping

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from workflow.clock import LONDON
from workflow.errors import ConflictError
from workflow.services.seals import (
    PREVIOUS_KEY_SETTING,
    ROWS_PER_SEAL,
    key_from_env,
    rows_text,
    seal_and_copy,
    unsealed_rows,
)

log = logging.getLogger("casework.seals")


def seal_job(
    engine: Engine, environ: Mapping[str, str], *, at_least: int = 0
) -> Callable[[], None]:
    """One seal (when at least `at_least` rows are new), logged in one line; failures logged."""
    key = key_from_env(environ)
    previous = key_from_env(environ, PREVIOUS_KEY_SETTING)

    def run() -> None:
        try:
            if at_least and unsealed_rows(engine) < at_least:
                return
            made, copy = seal_and_copy(engine, key, previous_key=previous, environ=environ)
        except ConflictError as err:
            log.info("seal skipped: %s", err)
            return
        except Exception:
            log.exception("sealing failed; the next run will try again")
            return
        log.info(
            "%s: %s, root %s%s",
            made.label,
            rows_text(made.tree_size),
            made.statement["root"],
            f", copy {copy}" if copy else "",
        )

    return run


def add_seal_jobs(
    scheduler: BaseScheduler, engine: Engine, environ: Mapping[str, str] = os.environ
) -> bool:
    """Add the daily and the every-10,000-rows seals; False (nothing added) without a key."""
    if not environ.get("CASEWORK_AUDIT_KEY"):
        return False
    scheduler.add_job(
        seal_job(engine, environ),
        CronTrigger(hour=2, minute=0, timezone=LONDON),
        id="seal-daily",
        name="seal daily",
        replace_existing=True,
    )
    scheduler.add_job(
        seal_job(engine, environ, at_least=ROWS_PER_SEAL),
        IntervalTrigger(minutes=1),
        id="seal-rows",
        name="seal after 10,000 rows",
        replace_existing=True,
    )
    return True
