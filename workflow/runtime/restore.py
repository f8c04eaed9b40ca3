"""`casework restore`: an archive back into an empty database, checked before it counts.

Nothing is written until the archive has been read whole and every member
matches its SHA-256, and the restored history has passed `audit verify`
(and, where the archive holds seals, matches the newest one):
- a SQLite copy going into SQLite is checked where it was unpacked, then
  copied into place with the backup API;
- anything else (a PostgreSQL archive, or SQLite into PostgreSQL) goes in
  row by row in one transaction that also creates the schema and checks the
  history, and is rolled back whole if any check fails.
Evidence files and seal files are then put back beside it; a file already
there is never replaced. `check` (`casework backup --verify`) makes the same
checks, by the same functions, on a temporary copy, and restores nothing.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from typing import Any
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from workflow.runtime import archive
from workflow.storage import table_dump
from workflow.runtime.backup import sqlite_path
from workflow.storage.db import check_reachable, make_engine, reading
from workflow.errors import Refused
from workflow.services.chain import Verification, verify
from workflow.storage.schema import alembic_config


class RestoreRefused(Refused):
    pass


class HistoryFails(Exception):
    """The archived history fails a check `restore` makes before it writes (`what`: how, as
    "fails audit verify (…)"); each caller says what it did not do because of it."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


@dataclass
class ArchiveCheck:
    """What `backup --verify` found: the manifest, and the history as `restore` checks it."""

    manifest: dict
    verification: Verification
    seals: str


def check(path: Path, *, trusted: set[str] | None = None) -> ArchiveCheck:
    """Everything `restore` checks before it writes, without restoring: every member against
    the manifest, the schema known, then the archived database, opened as a temporary copy
    (a SQLite copy where it was unpacked; a PostgreSQL archive's rows loaded into a scratch
    SQLite file), through audit verify's chain check and, where it carries seals, the seals
    (the newest included). Refused as a `BadArchive` naming what failed."""
    with tempfile.TemporaryDirectory(prefix=".casework-verify-") as staging:
        stage = Path(staging)
        manifest = archive.extract(path, stage)
        about = manifest.get("database") or {}
        revision = newer_schema(about.get("schema") or [])
        if revision is not None:
            raise archive.BadArchive(
                path, f"it was made by a newer casework (schema revision {revision})"
            )
        try:
            if about.get("kind") == "sqlite-file":
                checked, seals = _check_copy(stage, trusted)
            else:
                scratch = make_engine(f"sqlite:///{stage / 'scratch.sqlite3'}")
                try:
                    checked, seals = _load_rows(path, scratch, stage, about, trusted)
                finally:
                    scratch.dispose()
        except HistoryFails as failed:
            raise archive.BadArchive(path, f"the history in it {failed.what}") from None
    return ArchiveCheck(manifest, checked, seals)


@dataclass
class RestoreReport:
    source: Path
    made_at: str
    cases: int
    verification: Verification
    seals: str
    files: int
    schema_current: bool
    seconds: float

    def lines(self) -> list[str]:
        out = [
            f"restored {self.source} (made {self.made_at}): {self.cases:,} cases, "
            f"{self.files:,} evidence files in {self.seconds:.1f} s",
            f"audit verify: {self.verification.summary()}",
            self.seals,
        ]
        if not self.schema_current:
            out.append(
                "the schema is older than this casework's: run `casework init` to upgrade it"
            )
        return out


def restore(
    path: Path,
    engine: Engine,
    *,
    files_root: Path,
    seal_dir: Path | None,
    trusted: set[str] | None = None,
) -> RestoreReport:
    """Restore the archive at `path` into `engine`'s database, which must hold no cases.

    `trusted`: the seals' public keys to check against (default: those the
    restored database recorded at `audit keygen`)."""
    started = time.perf_counter()
    _refuse_if_cases(engine)
    with tempfile.TemporaryDirectory(
        dir=_staging_folder(engine), prefix=".casework-restore-"
    ) as staging:
        stage = Path(staging)
        manifest = archive.extract(path, stage)
        about = manifest.get("database") or {}
        try:
            _refuse_unknown_schema(path, about.get("schema") or [])
            if about.get("kind") == "sqlite-file" and engine.dialect.name == "sqlite":
                checked, seals = _check_copy(stage, trusted)
                _copy_into(stage / "database.sqlite3", sqlite_path(engine))
            else:
                checked, seals = _load_rows(path, engine, stage, about, trusted)
        except HistoryFails as failed:
            raise RestoreRefused(
                f"Nothing was restored: the history in {path} {failed.what}."
            ) from None
        files = _put_back(stage / "files", files_root)
        if seal_dir is not None:
            _put_back(stage / "seals", seal_dir)
    from workflow.storage.schema import is_current

    return RestoreReport(
        source=path,
        made_at=manifest.get("made_at", "?"),
        cases=about.get("cases", 0),
        verification=checked,
        seals=seals,
        files=files,
        schema_current=is_current(engine),
        seconds=time.perf_counter() - started,
    )


def _staging_folder(engine: Engine) -> str | None:
    """Beside a SQLite target (the copy is as large as the database); else the temp folder."""
    if engine.dialect.name == "sqlite":
        folder = sqlite_path(engine).resolve().parent
        if not folder.is_dir():
            raise RestoreRefused(f"Nothing was restored: the folder {folder} does not exist.")
        return str(folder)
    return None


def _refuse_if_cases(engine: Engine) -> None:
    if engine.dialect.name == "sqlite" and not sqlite_path(engine).exists():
        return  # a new file: empty by definition
    check_reachable(engine)
    from workflow.storage.tables import cases

    with reading(engine) as conn:
        if not table_dump.has_table(conn, "cases"):
            return
        found = conn.execute(select(cases.c.ref).limit(1)).scalar()
    if found is not None:
        url = engine.url.render_as_string(hide_password=True)
        raise RestoreRefused(
            f"Nothing was restored: {url} already has cases ({found}, …); "
            f"restore only into an empty database."
        )


def _refuse_unknown_schema(path: Path, schema: list[str]) -> None:
    revision = newer_schema(schema)
    if revision is not None:
        raise RestoreRefused(
            f"Nothing was restored: {path} was made by a newer casework "
            f"(schema revision {revision}); restore it with that version."
        )


def newer_schema(schema: list[str]) -> str | None:
    """The first of an archive's schema revisions this casework does not know (it was made
    by a newer one), or None."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    for revision in schema:
        try:
            known = script.get_revision(revision)
        except Exception:
            known = None
        if known is None:
            return revision
    return None


def checked_history(
    conn: Connection, seal_files: Path, trusted: set[str] | None
) -> tuple[Verification, str]:
    """The archived history as every restore checks it before writing (and `backup --verify`
    without restoring): audit verify's chain checks (every case's, the admin log's), then the
    seals, the newest included;
    `HistoryFails` naming the first thing that failed."""
    checked = verify(conn)
    if not checked.ok:
        ref, problem = next(iter(checked.broken.items()))
        raise HistoryFails(f"fails audit verify ({checked.summary()}; {ref}: {problem})")
    # audit verify checks the admin log's chain too: a role granted and the row that says
    # so rewritten would otherwise be restored and found only by the next audit verify.
    if table_dump.has_table(conn, "admin_log"):
        from workflow.services import admin_log

        admin = admin_log.verify(conn)
        if admin.problems:
            raise HistoryFails(f"fails audit verify ({admin.problems[0]})")
    return checked, _seal_check(conn, seal_files, trusted)


def _check_copy(stage: Path, trusted: set[str] | None) -> tuple[Verification, str]:
    """audit verify and the seal check on the unpacked SQLite copy, before it goes anywhere."""
    copy = make_engine(f"sqlite:///{stage / 'database.sqlite3'}")
    try:
        with reading(copy) as conn:
            return checked_history(conn, stage / "seals", trusted)
    finally:
        copy.dispose()


def _copy_into(source: Path, target: Path) -> None:
    """The checked copy becomes the target: renamed into place when there is no target file
    yet (it was unpacked beside it), else copied over the empty database's pages."""
    if not target.exists():
        for leftover in (Path(f"{target}-wal"), Path(f"{target}-shm")):
            leftover.unlink(missing_ok=True)  # a log with no database is no one's
        os.replace(source, target)
        return
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _load_rows(
    path: Path, engine: Engine, stage: Path, about: dict, trusted: set[str] | None
) -> tuple[Verification, str]:
    """Schema, rows, id sequences and the checks, in one transaction on the target."""
    from alembic import command

    source = (
        make_engine(f"sqlite:///{stage / 'database.sqlite3'}")
        if about.get("kind") == "sqlite-file"
        else None
    )
    try:
        with engine.begin() as conn:
            _refuse_other_schema(conn, about.get("schema") or [])
            for revision in about.get("schema") or []:
                command.upgrade(alembic_config(conn), revision)
            tables = table_dump.tables_in(conn)
            for table in reversed(tables):  # rows `init` put in a database with no cases
                if table.name == "admin_log":
                    _clear_append_only(conn, table)
                else:
                    conn.execute(table.delete())
            for table in tables:
                _fill(conn, table, stage, source)
                table_dump.follow_ids(conn, table)
            checked, seals = checked_history(conn, stage / "seals", trusted)
    finally:
        if source is not None:
            source.dispose()
    return checked, seals


def _clear_append_only(conn: Connection, table: Any) -> None:
    """Remove the rows `init` wrote to an append-only table (the admin log's programme
    loads) in a database with no cases, its guards lifted for the moment and put back in
    the same transaction."""
    if conn.execute(select(func.count()).select_from(table)).scalar_one() == 0:
        return
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ALTER TABLE {table.name} DISABLE TRIGGER USER")
        conn.execute(table.delete())
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ENABLE TRIGGER USER")
        return
    guards = conn.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table.name,)
    ).all()
    for name, _ in guards:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    conn.execute(table.delete())
    for _, sql in guards:
        conn.exec_driver_sql(sql)


def _refuse_other_schema(conn: Connection, schema: list[str]) -> None:
    if not table_dump.has_table(conn, "alembic_version"):
        return
    there = sorted(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
    if there and there != sorted(schema):
        raise RestoreRefused(
            f"Nothing was restored: the database is at schema {', '.join(there)} "
            f"and the archive at {', '.join(sorted(schema))}; restore into a "
            f"new, empty database."
        )


def _fill(conn: Connection, table, stage: Path, source: Engine | None) -> None:
    if source is None:
        if not (stage / "tables" / f"{table.name}.jsonl").exists():
            return
        columns, rows = table_dump.read_dump(stage, table.name)
        table_dump.load(conn, table, columns, rows, decode=True)
        return
    with reading(source) as src:
        if not table_dump.has_table(src, table.name):
            return
        columns = [c.name for c in table.columns]
        table_dump.load(conn, table, columns, table_dump.rows_of(src, table), decode=False)


def _seal_check(conn: Connection, seal_files: Path, trusted: set[str] | None) -> str:
    """The restored history against every seal, the newest included: the database's own and
    the copies in the archive (CASEWORK_SEAL_DIR's, taken before the database was)."""
    from workflow.services.seal_check import check

    if not table_dump.has_table(conn, "seals"):
        return "seals: none (this backup was made before casework had seals)"
    found = check(conn, trusted=trusted, copies=seal_files if seal_files.is_dir() else None)
    if found.problems:
        raise HistoryFails(f"does not match its seals ({found.problems[0]})")
    if not found.checked:
        return "seals: none in this backup, so the history was checked by its chains alone"
    return (
        f"seals: {found.checked:,} checked; the newest covers rows "
        f"1-{found.sealed_rows:,}, and they match"
    )


def _put_back(staged: Path, root: Path) -> int:
    """Copy what was unpacked under `staged` to `root`, never replacing a file already there."""
    if not staged.is_dir():
        return 0
    n = 0
    for source in staged.rglob("*"):
        if source.is_file():
            target = root / source.relative_to(staged)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
            n += 1
    return n
