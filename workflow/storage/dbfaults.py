"""A database fault in one line: what happened, and what to do about it.

Every face shows the same line: the command line prints it on stderr and
exits 1, `casework serve` logs it as one line. SQLite says what went wrong in
its error name (SQLITE_BUSY, SQLITE_CORRUPT...), PostgreSQL's driver in
its message; `explain` reads either, whatever SQLAlchemy wrapped it in.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

DEBUG_HINT = "Set CASEWORK_DEBUG=1 to see the details."


@dataclass(frozen=True)
class Fault:
    """What kind of fault (`kind`), and the line to show for it."""

    kind: str
    line: str

    def __str__(self) -> str:
        return self.line


def is_database_error(err: BaseException) -> bool:
    """An error raised by the database or its driver (not by our own code)."""
    return isinstance(err, (SQLAlchemyError, sqlite3.Error)) or _is_psycopg(err)


def explain(err: BaseException, where: str, *, wait_seconds: float | None = None) -> Fault:
    """The one line for `err`, a database error met while using the database at `where`.

    `wait_seconds` is how long a writer waited for SQLite's write lock.
    """
    orig = err.orig if isinstance(err, DBAPIError) and err.orig is not None else err
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    name = getattr(orig, "sqlite_errorname", "") or ""
    if isinstance(orig, sqlite3.Error):
        return _sqlite_fault(name, first, where, wait_seconds)
    if _is_psycopg(orig) or (isinstance(err, DBAPIError) and err.connection_invalidated):
        if refused := _connection_refused_by_server(first, where):
            return refused
        if isinstance(err, DBAPIError) and err.connection_invalidated or _unreachable(first):
            return Fault(
                "unreachable",
                f"The database server for {where} cannot be reached "
                f"({first}): check that it is running and that --db or "
                f"CASEWORK_DB names it. Nothing was changed.",
            )
        if "could not extend file" in first or "No space left" in first:
            return Fault(
                "full",
                f"The database server for {where} has run out of disk space "
                f"({first}): nothing was changed. Free some space on it and "
                f"try again.",
            )
    if isinstance(orig, OSError) and orig.errno == errno.ENOSPC:
        return _full(where)
    return Fault(
        "other",
        f"The database {where} refused the command ({first}); nothing was changed. {DEBUG_HINT}",
    )


def _sqlite_fault(name: str, first: str, where: str, wait_seconds: float | None) -> Fault:
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED") or "locked" in first:
        waited = f" for {wait_seconds:g} s" if wait_seconds else ""
        return Fault(
            "locked",
            f"The database {where} is locked: another process held its write "
            f"lock all the while this one waited{waited}. Nothing was changed; "
            f"try again when that process has finished (CASEWORK_LOCK_WAIT "
            f"sets the wait).",
        )
    if name.startswith("SQLITE_READONLY"):
        return Fault(
            "read-only",
            f"The database {where} cannot be written ({first}): the file, "
            f"its -wal and -shm files and their folder must be writable by "
            f"this user. Nothing was changed.",
        )
    if name.startswith("SQLITE_CANTOPEN"):
        return Fault(
            "cannot-open",
            f"The database {where} cannot be opened ({first}): check that "
            f"its folder exists and that this user may write to the file, "
            f"its -wal and -shm files and the folder. Nothing was changed.",
        )
    if name.startswith("SQLITE_NOTADB"):
        return Fault(
            "not-a-database",
            f"{where} is not a casework database (SQLite: {first}): "
            f"check --db or CASEWORK_DB. Nothing was changed.",
        )
    if name.startswith("SQLITE_CORRUPT"):
        return Fault("corrupt", damaged(where, first))
    if name.startswith("SQLITE_FULL"):
        return _full(where)
    if name.startswith("SQLITE_IOERR"):
        if _no_room(where):  # e.g. the -shm file could not grow: the disk is full
            return _full(where)
        return Fault(
            "io",
            f"The database {where} could not be read or written ({first}): check "
            f"the disk and the free space on it. Nothing was changed.",
        )
    return Fault(
        "other",
        f"The database {where} refused the command (SQLite: {first}); nothing "
        f"was changed. {DEBUG_HINT}",
    )


def _no_room(path: str) -> bool:
    """Less room left beside `path` than SQLite needs to grow its files (64 KB)."""
    try:
        found = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except OSError:
        return False
    return found.f_bavail * found.f_frsize < 64 * 1024


def damaged(where: str, found: str) -> str:
    """The line for a SQLite file found damaged (`found`: what SQLite said)."""
    return (
        f"The database {where} is damaged (SQLite: {found}); nothing was written to it. "
        f"Check it with `sqlite3 {where} 'PRAGMA integrity_check'` and restore it from your "
        f"latest backup."
    )


def _full(where: str) -> Fault:
    return Fault(
        "full",
        f"The disk holding the database {where} is full: nothing was changed. "
        f"Free some space and try again.",
    )


def _connection_refused_by_server(first: str, where: str) -> Fault | None:
    """The server answered and said no: no such database, no such user, a wrong password
    or no pg_hba.conf entry. Not 'cannot be reached': the server is running."""
    said = first.split("FATAL:", 1)[1].strip() if "FATAL:" in first else ""
    if not said:
        return None
    if said.startswith("database ") and said.endswith("does not exist"):
        name = said.removeprefix("database ").removesuffix(" does not exist").strip('" ')
        return Fault(
            "no-database",
            f"The database server for {where} answered, but has no database {name}: "
            f"create it (createdb {name}) or name another with --db or CASEWORK_DB. "
            f"Nothing was changed.",
        )
    if any(w in said for w in ("authentication failed", "role ", "pg_hba.conf")):
        return Fault(
            "refused",
            f"The database server for {where} answered, but refused the connection "
            f"({said}): check the user and password in --db or CASEWORK_DB, and the "
            f"server's pg_hba.conf. Nothing was changed.",
        )
    return None


_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "connection failed",
    "could not translate host",
    "server closed the connection",
    "timeout expired",
    "terminating connection",
    "connection is closed",
    "no route to host",
    "name or service not known",
    "connection not open",
    "consuming input failed",
)


def _unreachable(message: str) -> bool:
    lowered = message.lower()
    return any(words in lowered for words in _UNREACHABLE)


def _is_psycopg(err: BaseException) -> bool:
    return any(cls.__module__.startswith("psycopg") for cls in type(err).__mro__)


def stops_everything(err: BaseException) -> bool:
    """A fault of the database as a whole (not of one case's step): stop rather than go on.

    A damaged, full or read-only file: every later write would meet it too,
    and writing on into a file SQLite calls malformed can only do harm.
    """
    if not is_database_error(err):
        return False
    return explain(err, "").kind in (
        "corrupt",
        "full",
        "read-only",
        "cannot-open",
        "not-a-database",
        "io",
    )


def is_disconnect(err: BaseException) -> bool:
    """The connection itself was lost (a server restart, pg_terminate_backend): a fresh one may work."""
    if isinstance(err, DBAPIError) and err.connection_invalidated:
        return True
    orig = err.orig if isinstance(err, DBAPIError) and err.orig is not None else err
    return _is_psycopg(orig) and _unreachable(str(orig))
