"""`casework backup`: a consistent copy of a running installation in one archive.

SQLite: the online backup API copies the database page by page while `serve`
goes on writing. The copy's connection opens one read transaction first and
keeps it to the end, so every step copies the same snapshot (without it,
SQLite starts the copy again whenever another connection commits, and a busy
database is never copied). In WAL mode a reader never blocks a writer; the
copy only holds the log's checkpoint back until it ends. Between steps it
pauses, so on a small machine the writers get the disk and a core.

PostgreSQL: every table is read in one REPEATABLE READ, READ ONLY transaction
(one snapshot) into portable JSON lines (workflow.storage.table_dump). For the server
itself an operator should still use pg_dump (the command says so).

Order: the seals are copied first, then the database, then the evidence
files, so every seal in the archive covers rows the copy holds, and every
file a copied return names is already in place (a file is stored before the
row that names it is committed, and never changed).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url

from workflow import clock
from workflow.runtime import archive
from workflow.storage import table_dump
from workflow.storage.db import check_reachable, is_postgres
from workflow.errors import Refused, SetupError
from workflow.services.chain import moment

STEP_PAGES = 1024  # 4 MB of 4 KB pages a step
PAUSE_SECONDS = 0.005  # between two steps


class BackupRefused(Refused):
    pass


@dataclass
class BackupReport:
    path: Path
    dialect: str
    cases: int
    history_rows: int
    files: int
    seals: int
    size: int
    seconds: float
    made_at: str
    longest_step_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "path": str(self.path),
            "dialect": self.dialect,
            "cases": self.cases,
            "history_rows": self.history_rows,
            "files": self.files,
            "seals": self.seals,
            "bytes": self.size,
            "seconds": round(self.seconds, 3),
            "made_at": self.made_at,
        }

    def __str__(self) -> str:
        return (
            f"backup written: {self.path} ({self.cases:,} cases, {self.history_rows:,} "
            f"history rows, {self.files:,} evidence files, {self.seals:,} seal copies "
            f"from CASEWORK_SEAL_DIR; "
            f"{self.size / 1e6:,.1f} MB in {self.seconds:.1f} s)"
        )


def dated_name(at: datetime) -> str:
    """`casework-20140304T010002.tar.gz`: when the backup was made, in UTC."""
    return f"casework-{at.astimezone(timezone.utc):%Y%m%dT%H%M%S}.tar.gz"


def target_path(dest: Path, at: datetime) -> Path:
    """Where the archive goes: `dest` itself, or a dated name inside `dest` when it is a folder."""
    return dest / dated_name(at) if dest.is_dir() else dest


def cannot_write(folder: Path) -> str:
    """Why this process cannot write a file in `folder` ("" when it can): asked of the folder
    itself, by writing one, since root passes every access() check."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".casework-backup-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        return str(err.strerror or err)
    return ""


def check_destination(path: Path) -> None:
    """Refuse a destination that cannot take the archive, before anything is read or written."""
    folder = path.parent
    if not folder.is_dir():
        raise BackupRefused(f"The backup was not taken: the folder {folder} does not exist.")
    why = cannot_write(folder)
    if why:
        raise BackupRefused(
            f"The backup was not taken: the folder {folder} is not writable ({why})."
        )
    if path.exists():
        raise BackupRefused(
            f"The backup was not taken: {path} already exists (a backup never replaces another)."
        )


def backup(engine: Engine, dest: Path, *, files_root: Path, seal_dir: Path | None) -> BackupReport:
    """Write one archive of the database, the evidence files and the seals at `dest`."""
    started, now = time.perf_counter(), clock.now()
    made_at = moment(now)
    path = target_path(dest, now)
    check_destination(path)
    check_reachable(engine)
    if seal_dir is not None and not seal_dir.is_dir():
        raise BackupRefused(
            f"The backup was not taken: CASEWORK_SEAL_DIR ({seal_dir}) is not a folder."
        )
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".casework-backup-") as staging:
        stage = Path(staging)
        seals = _copy_seals(seal_dir, stage / "seals") if seal_dir is not None else []
        if is_postgres(engine):
            database, summary = _dump_postgres(engine, stage)
        else:
            database, summary = _copy_sqlite(engine, stage / "database.sqlite3")
        evidence = sorted(_evidence(files_root))
        members = (
            database
            + [(f"seals/{p.relative_to(stage / 'seals').as_posix()}", p) for p in seals]
            + [(f"files/{p.relative_to(files_root).as_posix()}", p) for p in evidence]
        )
        about = {
            "made_at": made_at,
            "database": summary,
            "files": len(evidence),
            "seals": len(seals),
        }
        archive.write(path, members, about)
    report = BackupReport(
        path=path,
        dialect=engine.dialect.name,
        cases=summary["cases"],
        history_rows=summary["history_rows"],
        files=len(evidence),
        seals=len(seals),
        size=path.stat().st_size,
        seconds=time.perf_counter() - started,
        made_at=made_at,
        longest_step_seconds=summary.get("longest_step_seconds", 0.0),
    )
    if is_postgres(engine):
        report.notes.append(
            "This is casework's portable copy. Back up the PostgreSQL server "
            "itself with pg_dump (pg_dump -Fc) or its own tools as well."
        )
    return report


def _copy_seals(seal_dir: Path, into: Path) -> list[Path]:
    copied = []
    for source in sorted(p for p in seal_dir.rglob("*") if p.is_file()):
        if source.name.endswith(".partial"):  # a seal still being written
            continue
        target = into / source.relative_to(seal_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(source, target)
        except FileNotFoundError:  # renamed away while listed
            continue
        copied.append(target)
    return copied


def _evidence(root: Path) -> Iterator[Path]:
    """The stored evidence files (`ab/cdef…`), not one still being written (hidden, `.partial`)."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if folder.is_dir() and len(folder.name) == 2:
            for p in folder.iterdir():
                if p.is_file() and not p.name.startswith("."):
                    yield p


def sqlite_path(engine: Engine) -> Path:
    database = make_url(str(engine.url)).database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupRefused(
            "The backup was not taken: only a SQLite database in a file can be backed up."
        )
    return Path(database)


def _copy_sqlite(engine: Engine, target: Path) -> tuple[list[tuple[str, Path]], dict]:
    source_path = sqlite_path(engine)
    source = sqlite3.connect(
        source_path.resolve().as_uri() + "?mode=rw",
        uri=True,
        isolation_level=None,
        check_same_thread=False,
    )
    copy = sqlite3.connect(target)
    written = os.open(target, os.O_RDONLY)
    longest, last = [0.0], [time.perf_counter()]

    def between_steps(_status: int, _remaining: int, _total: int) -> None:
        # Each step's pages go to the disk before the next: left to pile up in
        # the page cache, hundreds of megabytes of them make the kernel hold
        # back every process that writes, the database's writers included.
        os.fdatasync(written)
        now = time.perf_counter()
        longest[0] = max(longest[0], now - last[0])
        time.sleep(PAUSE_SECONDS)
        last[0] = time.perf_counter()

    try:
        # The snapshot every step copies from (see the module's docstring).
        source.execute("BEGIN")
        cases, rows = source.execute(
            "SELECT (SELECT count(*) FROM cases), (SELECT count(*) FROM history)"
        ).fetchone()
        snapshot_at, copying = clock.real_now(), time.perf_counter()
        schema = sorted(r[0] for r in source.execute("SELECT version_num FROM alembic_version"))
        source.backup(copy, pages=STEP_PAGES, progress=between_steps)
        source.execute("COMMIT")
        copy_seconds = time.perf_counter() - copying
    finally:
        source.close()
        copy.close()
        os.close(written)
    summary = {
        "dialect": "sqlite",
        "kind": "sqlite-file",
        "cases": cases,
        "history_rows": rows,
        "schema": schema,
        "snapshot_at": moment(snapshot_at),
        "copy_seconds": round(copy_seconds, 4),
        "longest_step_seconds": round(longest[0], 4),
    }
    return [("database.sqlite3", target)], summary


def _dump_postgres(engine: Engine, stage: Path) -> tuple[list[tuple[str, Path]], dict]:
    from workflow.storage.tables import cases, history

    with engine.connect().execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    ) as conn:
        with conn.begin():
            schema = sorted(
                conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()
            )
            n_cases = conn.execute(select(func.count()).select_from(cases)).scalar()
            n_rows = conn.execute(select(func.count()).select_from(history)).scalar()
            counts = table_dump.dump(conn, stage)
    members = [(f"tables/{name}.jsonl", stage / "tables" / f"{name}.jsonl") for name in counts]
    summary = {
        "dialect": "postgresql",
        "kind": "rows",
        "cases": n_cases,
        "history_rows": n_rows,
        "schema": schema,
        "tables": counts,
    }
    return members, summary


def before_upgrade(
    engine: Engine,
    folder: Path | None,
    *,
    files_root: Path,
    seal_dir: Path | None,
    skip: bool = False,
) -> BackupReport | None:
    """`casework init` on a database with cases and a migration to apply backs it up first.

    None when there is nothing to protect (a new database, no cases, no
    pending migration) or when `skip` (--no-backup); SetupError when a backup
    is needed and CASEWORK_BACKUP_DIR is not set.
    """
    from workflow.storage.tables import cases
    from workflow.storage.schema import current_revisions, head_revisions

    check_reachable(engine)
    applied = current_revisions(engine)
    if not applied or applied == head_revisions() or skip:
        return None
    with engine.connect() as conn:
        n_cases = conn.execute(select(func.count()).select_from(cases)).scalar()
    if not n_cases:
        return None
    if folder is None:
        raise SetupError(
            f"This database has {n_cases:,} cases and migrations to apply, so "
            f"`casework init` backs it up first: set CASEWORK_BACKUP_DIR to a "
            f"folder for the backup, or give --no-backup. Nothing was changed."
        )
    return backup(
        engine, folder / dated_name(clock.now()), files_root=files_root, seal_dir=seal_dir
    )
