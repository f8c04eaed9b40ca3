"""The nightly backup `serve` takes when CASEWORK_BACKUP_DIR is set, and which ones it keeps.

Daily at 01:00 Europe/London (an hour before the nightly seal, outside the
working day). Kept: the newest 14, and the first of each calendar month
(London), so a programme year can be wound back to any month's start. The
rest are deleted after each new one is written. Only files named as this
job names them (`casework-YYYYMMDDTHHMMSS.tar.gz`) are ever deleted.

Each run, done or failed, is recorded in `meta` (key `backup`) for `casework
status`, and counted in /metrics; `status` also lists every backup kept. A
night missed while `serve` was down is made up a minute after it starts
(`missed`): the scheduler keeps its jobs in memory, so it cannot know.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import Connection, Engine, insert, select, update

from workflow import clock
from workflow.clock import LONDON
from workflow.errors import SetupError
from workflow.services.chain import moment
from workflow.logs import event

log = logging.getLogger("casework.backup")

KEEP_LAST = 14
AT_HOUR = 1  # 01:00 Europe/London
STALE_AFTER_HOURS = 48  # `status` says so when the last good backup is older
_NAME = re.compile(r"^casework-(\d{8}T\d{6})\.tar\.gz$")


def backup_dir(environ=os.environ) -> Path | None:
    """CASEWORK_BACKUP_DIR, checked: None when unset; SetupError when it cannot be used."""
    configured = environ.get("CASEWORK_BACKUP_DIR", "").strip()
    if not configured:
        return None
    folder = Path(configured)
    if not folder.is_dir():
        raise SetupError(
            f"CASEWORK_BACKUP_DIR ({folder}) is not a folder: create it (writable "
            f"by the user casework runs as), or unset it."
        )
    return folder


def check_writable(folder: Path) -> None:
    """SetupError unless this process can write in `folder`: `serve` asks at start, since a
    folder it cannot write would otherwise fail every night, seen only in `status`."""
    from workflow.runtime.backup import cannot_write

    why = cannot_write(folder)  # asked as `casework backup` asks of its folder
    if why:
        raise SetupError(
            f"CASEWORK_BACKUP_DIR ({folder}) is not writable by the user casework runs "
            f"as ({why}): give that user the folder, or unset it."
        )


def taken_at(path: Path) -> datetime | None:
    """When a scheduled backup was made, from its name (None for any other file)."""
    found = _NAME.match(path.name)
    if not found:
        return None
    return datetime.strptime(found.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=timezone.utc)


def to_keep(taken: Iterable[datetime], keep_last: int = KEEP_LAST) -> set[datetime]:
    """The newest `keep_last`, and the first of each month in London."""
    ordered = sorted(set(taken))
    keep = set(ordered[-keep_last:]) if keep_last else set()
    firsts: dict[tuple[int, int], datetime] = {}
    for at in ordered:
        local = at.astimezone(LONDON)
        firsts.setdefault((local.year, local.month), at)
    return keep | set(firsts.values())


def prune(folder: Path, keep_last: int = KEEP_LAST) -> list[Path]:
    """Delete the scheduled backups in `folder` that `to_keep` does not keep; returns them."""
    dated = {at: p for p in folder.iterdir() if (at := taken_at(p)) is not None}
    keep = to_keep(dated, keep_last)
    gone = [p for at, p in sorted(dated.items()) if at not in keep]
    for p in gone:
        p.unlink(missing_ok=True)
    return gone


def record(conn: Connection, value: dict) -> None:
    """Keep the latest run in `meta` (the row is made by the first run)."""
    from workflow.storage.tables import meta

    done = conn.execute(update(meta).where(meta.c.key == "backup").values(value=value))
    if done.rowcount == 0:
        conn.execute(insert(meta).values(key="backup", value=value))


def last_backup(conn: Connection) -> dict:
    from workflow.storage.tables import meta

    return dict(conn.execute(select(meta.c.value).where(meta.c.key == "backup")).scalar() or {})


def backup_status(conn: Connection, now: datetime) -> dict | None:
    """For `casework status`: the last run, whether the last good one is too old, and
    every scheduled backup kept in its folder (newest first)."""
    last = last_backup(conn)
    if not last:
        return None
    good = last.get("last_ok_at")
    age = (now - datetime.fromisoformat(good)).total_seconds() if good else None
    stale = age is None or age > STALE_AFTER_HOURS * 3600 or not last.get("ok")
    folder = Path(last.get("folder") or "")
    return {
        **last,
        "age_seconds": round(age, 1) if age is not None else None,
        "stale": stale,
        "backups": kept(folder) if last.get("folder") and folder.is_dir() else [],
    }


def kept(folder: Path) -> list[dict]:
    """Each scheduled backup in `folder`, newest first: when, its file, its size."""
    dated = sorted(
        ((at, p) for p in folder.iterdir() if (at := taken_at(p)) is not None), reverse=True
    )
    return [{"at": moment(at), "file": p.name, "bytes": p.stat().st_size} for at, p in dated]


def last_due(now: datetime) -> datetime:
    """The latest 01:00 in London at or before `now`, in UTC."""
    local = now.astimezone(LONDON)
    due = datetime.combine(local.date(), time(AT_HOUR), tzinfo=LONDON)
    if due > local:
        due = datetime.combine(local.date() - timedelta(days=1), time(AT_HOUR), tzinfo=LONDON)
    return due.astimezone(timezone.utc)


def missed(conn: Connection, now: datetime) -> bool:
    """No backup was tried since the last 01:00 (serve was down then, or has never run one)."""
    at = last_backup(conn).get("at")
    return at is None or datetime.fromisoformat(at) < last_due(now)


def backup_job(
    engine: Engine, folder: Path, *, files_root: Path, seal_dir: Path | None
) -> Callable[[], None]:
    """One scheduled backup and its pruning, recorded and logged; a failure waits for tomorrow."""
    from workflow.runtime.backup import backup, dated_name
    from workflow.runtime.metrics import BACKUPS, LAST_BACKUP

    def run() -> None:
        started = clock.now()
        value: dict = {"at": moment(started), "folder": str(folder)}
        try:
            report = backup(
                engine, folder / dated_name(started), files_root=files_root, seal_dir=seal_dir
            )
            gone = prune(folder)
        except Exception as err:
            BACKUPS.labels("failed").inc()
            log.exception(
                "backup failed; the next one is due tomorrow at 01:00",
                extra={"casework": {"event": "backup.failed"}},
            )
            value.update(
                ok=False, error=str(err).splitlines()[0] if str(err) else type(err).__name__
            )
        else:
            BACKUPS.labels("ok").inc()
            LAST_BACKUP.set(report.path.stat().st_mtime)
            kept = sum(1 for p in folder.iterdir() if taken_at(p) is not None)
            value.update(
                ok=True,
                last_ok_at=moment(started),
                path=str(report.path),
                bytes=report.size,
                seconds=round(report.seconds, 2),
                cases=report.cases,
                kept=kept,
                deleted=[p.name for p in gone],
            )
            event(log, "backup.done", str(report), seconds=report.seconds)
        with engine.begin() as conn:
            previous = last_backup(conn)
            if not value["ok"] and previous.get("last_ok_at"):
                value["last_ok_at"] = previous["last_ok_at"]
            record(conn, value)

    return run
