"""What an operator checks first: is the sweep running, is work piling up, is mail leaving?

The sweep records each run in the `meta` table (key `sweep`); `casework serve`
records its sweep interval there (key `sweep_interval`), so `status` knows
what "stale" means: no sweep for three intervals. Both rows are created by
migration 0002, so recording only ever UPDATEs them.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import Connection, Engine, select, update

from notifications.outbox import counts as outbox_counts
from workflow import clock
from workflow.services import programme_files as programme_store
from workflow.storage.db import check_intact, is_postgres, reading
from workflow.errors import RuleViolation
from workflow.services.chain import moment
from workflow.runtime.backup_schedule import backup_status
from workflow.storage.tables import cases, checkpoints, meta
from workflow.services.monitoring import pending_steps
from workflow.services.sro import without_sro

DEFAULT_EVERY_MINUTES = 5.0
STALE_AFTER_INTERVALS = 3


# --- the sweep's record ----------------------------------------------------------
def _meta(conn: Connection, key: str, *, lock: bool = False) -> dict:
    q = select(meta.c.value).where(meta.c.key == key)
    if lock and is_postgres(conn):
        q = q.with_for_update()
    return dict(conn.execute(q).scalar() or {})


def last_sweep(conn: Connection) -> dict:
    """The last sweep: `at` (when it ran), `now` (the latest moment ever swept), `seconds`, …"""
    return _meta(conn, "sweep")


def refuse_going_back(engine: Engine, now: datetime) -> None:
    """RuleViolation when `now` is before a moment already swept: the ladder only goes forward."""
    with reading(engine) as conn:
        swept = last_sweep(conn).get("now")
    if swept and now < datetime.fromisoformat(swept):
        raise RuleViolation(
            f"{now.isoformat()} is earlier than {swept}, the latest moment "
            f"already swept: the ladder only goes forward, so nothing was done."
        )


def record_sweep(engine: Engine, report: Any, wall: datetime) -> None:
    """Keep the sweep that just ran (a workflow.runtime.sweep.SweepReport) in `meta`."""
    with engine.begin() as conn:
        previous = _meta(conn, "sweep", lock=True)
        swept = previous.get("now")
        latest = max(report.now, datetime.fromisoformat(swept)) if swept else report.now
        value = {
            "at": moment(wall),
            "finished_at": moment(clock.now()),
            "now": moment(latest),
            "swept": moment(report.now),
            "seconds": round(report.seconds, 4),
            "steps": report.total,
            "late": report.late,
            "skipped": report.skipped,
            "errors": len(report.errors),
            "owner": report.owner,
        }
        conn.execute(update(meta).where(meta.c.key == "sweep").values(value=value))


def record_interval(engine: Engine, minutes: float, owner: str) -> None:
    """`casework serve` says how often it sweeps (what `status` calls stale depends on it)."""
    with engine.begin() as conn:
        conn.execute(
            update(meta)
            .where(meta.c.key == "sweep_interval")
            .values(value={"minutes": minutes, "owner": owner, "at": moment(clock.now())})
        )


def interval_minutes(conn: Connection) -> float:
    return float(_meta(conn, "sweep_interval").get("minutes") or DEFAULT_EVERY_MINUTES)


# --- the backlog ---------------------------------------------------------------------
def due_steps(conn: Connection, now: datetime) -> int:
    """How many ladder steps are due at `now` and not yet done.

    Only checkpoints whose next step is due are read (the index on
    `next_step_at`), so this costs what the backlog is, not the table.
    """
    q = (
        select(
            checkpoints.c.due,
            checkpoints.c.steps_done,
            checkpoints.c.scheduled_at,
            cases.c.programme,
        )
        .join(cases, cases.c.id == checkpoints.c.case_id)
        .where(checkpoints.c.next_step_at <= now)
    )
    specs: dict[str, Any] = {}
    total = 0
    for row in conn.execute(q):
        if row.programme not in specs:
            specs[row.programme] = programme_store.spec_for(conn, row.programme)
        ladder = specs[row.programme].ladder
        total += sum(
            1
            for _, at in pending_steps(ladder, row.due, list(row.steps_done))
            if max(at, row.scheduled_at or at) <= now
        )
    return total


# --- status -------------------------------------------------------------------------
def none_yet(environ: Mapping[str, str]) -> dict | None:
    """Where CASEWORK_BACKUP_DIR is set and no backup was ever recorded: stale, saying so
    (serve takes the first a minute after it starts; a serve not given the setting never
    does, and monitoring that reads `backup.stale` must hear of it). None where unset."""
    folder = environ.get("CASEWORK_BACKUP_DIR", "").strip()
    if not folder:
        return None
    return {
        "at": None,
        "ok": None,
        "folder": folder,
        "age_seconds": None,
        "stale": True,
        "error": (
            "none taken yet: `casework serve` takes the first a minute after it starts "
            "with CASEWORK_BACKUP_DIR set (is serve given it too?)"
        ),
        "backups": [],
    }


def status(
    engine: Engine, now: datetime | None = None, environ: Mapping[str, str] = os.environ
) -> dict:
    """The state of the sweep, the outbox and the nightly backup at `now`; `ok` is False
    when the sweep is stale or the backup is.

    Stale: no sweep has finished in the last three sweep intervals (or none ever has);
    the last nightly backup failed, or the last good one is more than two days old.
    """
    now = now or clock.now()
    check_intact(engine)
    with reading(engine) as conn:
        last = last_sweep(conn)
        every = interval_minutes(conn)
        backlog = due_steps(conn, now)
        mail = outbox_counts(conn, now)
        backup = backup_status(conn, now) or none_yet(environ)
        no_sro = without_sro(conn)
    finished = last.get("finished_at") or last.get("at")
    age = (now - datetime.fromisoformat(finished)).total_seconds() if finished else None
    stale_after = every * 60 * STALE_AFTER_INTERVALS
    stale = age is None or age > stale_after
    found = {
        "ok": not stale and not (backup or {}).get("stale"),
        "now": moment(now),
        "sweep": {
            "last_at": last.get("at"),
            "finished_at": finished,
            "age_seconds": round(age, 1) if age is not None else None,
            "seconds": last.get("seconds"),
            "steps": last.get("steps"),
            "late": last.get("late"),
            "skipped": last.get("skipped"),
            "errors": last.get("errors"),
            "owner": last.get("owner"),
            "swept_until": last.get("now"),
            "every_minutes": every,
            "stale_after_seconds": stale_after,
            "stale": stale,
        },
        "due_steps": backlog,
        "outbox": {
            "queued": mail["queued"],
            "retrying": mail["retrying"],
            "dead": mail["dead"],
            "sent": mail["sent"],
            "oldest_queued_age_seconds": round(mail["oldest_queued_age_seconds"], 1),
        },
        # Programmes naming no senior responsible owner (DESIGN section 9): the moves that
        # need one are refused until an admin names one. Said, but not counted against `ok`.
        "programmes_without_sro": no_sro,
    }
    if backup is not None:  # once a nightly backup has run, or where one is asked for
        found["backup"] = backup
    return found
