"""Opening the database: SQLite tuned for safe concurrent writes, or PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from workflow.storage.dbfaults import Fault, damaged, explain, is_disconnect
from workflow.errors import SetupError
from workflow.storage.wal import LogCheckpoints

# Opening a file read-only (and what comes before SQLAlchemy) lives in readonly.py, which
# `case list` uses without importing SQLAlchemy; named here as well, as before.
from workflow.storage.readonly import (
    DEFAULT_URL as DEFAULT_URL,
    ReadInterrupted as ReadInterrupted,
    Unlogged as Unlogged,
    resolve_url as resolve_url,
)
from workflow.storage import readonly


def make_engine(url: str | None = None, *, echo: bool = False, read_only: bool = False) -> Engine:
    """An engine for `url`. `read_only` (SQLite): open the file read-only and never create it.

    A read-only engine takes no lock a writer waits for, writes nothing (no
    checkpoint, no journal-mode change), and refuses a missing file with
    "run `casework init` first" instead of creating an empty one.
    """
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SetupError(
            f"'{url}' is not a database URL (try sqlite:///casework.db "
            f"or postgresql://user@host/db)."
        ) from None
    if parsed.get_backend_name() == "sqlite":
        if read_only:
            return _sqlite_reader(parsed, echo)
        return _sqlite_engine(url, echo)
    if parsed.get_backend_name() == "postgresql":
        from workflow.storage.tables import on_postgresql

        on_postgresql()
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise SetupError(
        f"'{parsed.get_backend_name()}' databases are not supported; use SQLite or PostgreSQL."
    )


SYNC_SETTINGS = {"full": "FULL", "normal": "NORMAL"}


def sqlite_sync(environ: Mapping[str, str] = os.environ) -> str:
    """CASEWORK_SQLITE_SYNC: FULL by default; NORMAL for those who accept the risk.

    With NORMAL, SQLite in WAL mode does not wait for the disk at each
    commit, so a power cut can lose the last transitions committed, after
    the delivery worker has already emailed about them.
    """
    raw = environ.get("CASEWORK_SQLITE_SYNC", "").strip().lower() or "full"
    if raw not in SYNC_SETTINGS:
        raise SetupError(
            f"CASEWORK_SQLITE_SYNC must be 'full' (the default) or 'normal', not {raw!r}."
        )
    return SYNC_SETTINGS[raw]


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, or None (in memory, or not SQLite)."""
    parsed = make_url(resolve_url(url))
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return database[len("file:") :].split("?", 1)[0] if database.startswith("file:") else database


def new_id(result: CursorResult[Any]) -> int:
    """The primary key the database gave the one row an INSERT wrote."""
    key = result.inserted_primary_key
    if key is None:
        raise ValueError("not the result of an INSERT of one row")
    return int(key[0])


def where(url: str | None) -> str:
    """The database as people name it in a message: the file, or the URL without its password."""
    url = resolve_url(url)
    path = sqlite_path(url)
    return path if path else make_url(url).render_as_string(hide_password=True)


def _sqlite_reader(parsed: URL, echo: bool) -> Engine:
    path = sqlite_path(parsed.render_as_string(hide_password=False))
    if path is None:  # in memory: nothing to protect, nothing to create
        return _sqlite_engine(parsed.render_as_string(hide_password=False), echo)
    if not os.path.exists(path):
        raise SetupError(
            f"There is no database at {path}: run `casework init` first "
            f"(or name another with --db or CASEWORK_DB)."
        )
    wait = lock_wait_seconds()
    # With its log there (a writer has the file open), SQLite reads it
    # read-only through the log and its index, creating nothing. Without,
    # SQLite would create both files, even for a read-only connection; the
    # file is then read whole as it stands, under the guard of `Unlogged`.
    unlogged = Unlogged.take(path, wait)
    immutable = "&immutable=1" if unlogged else ""
    engine = create_engine(
        f"sqlite:///file:{os.path.abspath(path)}?mode=ro{immutable}&uri=true",
        echo=echo,
        connect_args={"timeout": wait, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if unlogged:
            unlogged.check()  # what an earlier transaction kept in memory still holds
        # A deferred BEGIN: in WAL mode a reader never waits for a writer.
        driver: Any = conn.connection.driver_connection  # a DB-API connection: untyped
        driver.execute("BEGIN")

    if unlogged:
        _UNLOGGED[engine] = unlogged

        def _after(_conn: Connection) -> None:
            # Everything this transaction read was read whole (said once: the
            # rollback that follows the refusal must not refuse again).
            unlogged.check(again=False)

        event.listen(engine, "commit", _after)
        event.listen(engine, "rollback", _after)
        event.listen(engine, "engine_disposed", lambda _engine: unlogged.release())
        weakref.finalize(engine, unlogged.release)
    return engine


_UNLOGGED: "weakref.WeakKeyDictionary[Engine, Unlogged]" = weakref.WeakKeyDictionary()


def read_interrupted(engine: Engine) -> str | None:
    """The line to show when a read-only engine's file was written while it was read
    (whatever error the read then met: a page half copied can look damaged)."""
    unlogged = _UNLOGGED.get(engine)
    if unlogged is None:
        return None
    try:
        unlogged.check()
    except ReadInterrupted as err:
        return str(err)
    return None


def _sqlite_engine(url: str, echo: bool) -> Engine:
    sync = sqlite_sync()
    engine = create_engine(
        url, echo=echo, connect_args={"timeout": lock_wait_seconds(), "check_same_thread": False}
    )
    database = make_url(url).database or ""
    on_file = database not in ("", ":memory:") and not database.startswith("file:")
    checkpoints = LogCheckpoints(engine, database) if on_file else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
        # Let SQLAlchemy's `begin` event issue BEGIN itself: the driver's own
        # deferred BEGIN fails with "database is locked" when a read turns
        # into a write under concurrency, whatever the busy timeout.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL unless CASEWORK_SQLITE_SYNC says otherwise: a commit is on
        # the disk before the delivery worker can email about it.
        cur.execute(f"PRAGMA synchronous={sync}")
        # The log is checkpointed by a thread of its own (workflow/wal.py).
        # SQLite's own checkpoint, done by the commit that fills the log, is
        # the backstop, at 8,000 pages (about 32 MB) rather than 1,000: should
        # it run, the pages every transition rewrites (a case row, the top of
        # each index) are copied back once instead of eight times, and its
        # fsyncs stall one commit in thousands rather than one in a hundred.
        cur.execute("PRAGMA wal_autocheckpoint=8000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(_busy_timeout())
        cur.close()
        if checkpoints is not None:
            checkpoints.ensure_running()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Readers take no write lock (WAL lets them run beside a writer);
        # writers take it at BEGIN, before their first read.
        read_only = conn.get_execution_options().get("casework_read_only", False)
        # On the driver itself: every write transaction starts here, and going
        # through exec_driver_sql would cost half as much again as the BEGIN.
        driver: Any = conn.connection.driver_connection
        if read_only:
            driver.execute("BEGIN")
        else:
            begin_immediate(driver)

    return engine


WRITE_WAIT_SECONDS = readonly.WRITE_WAIT_SECONDS
_RETRY_SECONDS = 0.001


def lock_wait_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """CASEWORK_LOCK_WAIT: how long a SQLite writer waits for the write lock (default 30 s)."""
    return readonly.lock_wait_seconds(environ, WRITE_WAIT_SECONDS)


def _busy_timeout(wait: float | None = None) -> str:
    return f"PRAGMA busy_timeout={int((wait if wait is not None else lock_wait_seconds()) * 1000)}"


def begin_immediate(driver: sqlite3.Connection, wait: float | None = None) -> None:
    """Take SQLite's write lock, waiting up to `wait` (CASEWORK_LOCK_WAIT, 30 s) for it.

    SQLite's own busy handler backs off to one try every 100 ms, so a writer
    queued behind a long sweep would only get in through a gap that long.
    Here the wait is a try every millisecond, so the sweep need only leave a
    short gap between its steps for a web request to get in.
    """
    driver.execute("PRAGMA busy_timeout=0")
    try:
        # Tries are counted, not timed: a test's frozen clock must not stop the wait.
        wait = wait if wait is not None else lock_wait_seconds()
        tries = max(1, int(wait / _RETRY_SECONDS))
        for tried in range(1, tries + 1):
            try:
                driver.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as err:
                if "locked" not in str(err):
                    raise
                if tried == tries:
                    # As SQLAlchemy raises it elsewhere: OperationalError, "database is locked".
                    raise DBAPIError.instance("BEGIN IMMEDIATE", (), err, sqlite3.Error) from err
                time.sleep(_RETRY_SECONDS)
    finally:
        # Other statements keep SQLite's handler (a reader meeting a WAL reset).
        driver.execute(_busy_timeout(wait))


def is_postgres(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "postgresql"


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back on any error."""
    with engine.begin() as conn:
        yield conn


@contextmanager
def savepoint(conn: Connection) -> Iterator[Connection]:
    """A savepoint in `conn`'s open transaction: released when the block ends, rolled back
    to when it raises, so the transaction goes on without the block's work.

    On the driver itself, as BEGIN is: SQLAlchemy's `begin_nested` sends SAVEPOINT and
    RELEASE through its whole execution path (a statement compiled, a result built, each
    time), which made the sweep's 10,000-step backlog take a third more CPU; on the
    driver the savepoints cost it under a tenth (a sweep step is one savepoint).
    """
    _on_driver(conn, "SAVEPOINT casework_unit")
    try:
        yield conn
    except BaseException:
        try:
            _on_driver(conn, "ROLLBACK TO SAVEPOINT casework_unit")
            _on_driver(conn, "RELEASE SAVEPOINT casework_unit")
        except DBAPIError as undo:
            # A lost connection took the whole transaction with it: the error that
            # met it first says so. Anything else leaves the transaction unusable.
            if not is_disconnect(undo):
                raise
        raise
    _on_driver(conn, "RELEASE SAVEPOINT casework_unit")


def _on_driver(conn: Connection, sql: str) -> None:
    try:
        driver: Any = conn.connection.driver_connection  # a DB-API connection: untyped
        driver.execute(sql)
    except conn.dialect.loaded_dbapi.Error as err:  # as SQLAlchemy would raise it
        raise DBAPIError.instance(sql, (), err, conn.dialect.loaded_dbapi.Error) from err


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only connection: no write lock on SQLite, nothing committed."""
    with engine.connect() as conn:
        conn.execution_options(casework_read_only=True)
        yield conn
        conn.rollback()


def check_reachable(engine: Engine) -> None:
    """SetupError unless the database answers; a read, so it never waits for a writer."""
    # On SQLite, reading the schema reads the file's first page: a file that
    # is not a database, or cannot be read, is found here rather than mid-command.
    probe = "SELECT 1" if is_postgres(engine) else "SELECT count(*) FROM sqlite_master"
    try:
        with reading(engine) as conn:
            conn.exec_driver_sql(probe)
    except DBAPIError as err:
        raise SetupError(explain(err, where_engine(engine)).line) from None


def check_intact(engine: Engine) -> None:
    """SQLite: SetupError saying what to do when `PRAGMA quick_check` finds the file damaged.

    It reads every page (a fraction of a second for a year's data), so only
    `init` and `status` run it: an operator's first look, and the command
    that would otherwise write into the damage.
    """
    if is_postgres(engine):
        return
    with reading(engine) as conn:
        found = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check(5)")]
    if found != ["ok"]:
        raise SetupError(damaged(where_engine(engine), "; ".join(found)[:200]))


def fault_of(engine: Engine, err: BaseException) -> Fault:
    """The one line for database error `err`, met while using `engine` (a writer having
    waited CASEWORK_LOCK_WAIT for SQLite's lock): for the logs of `serve` and its pages."""
    return explain(err, where_engine(engine), wait_seconds=lock_wait_seconds())


def where_engine(engine: Engine) -> str:
    """The database of `engine` as `where` names it."""
    if engine.dialect.name == "sqlite":
        return sqlite_path(str(engine.url)) or "in memory"
    return engine.url.render_as_string(hide_password=True)
