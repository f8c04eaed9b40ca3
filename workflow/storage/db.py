"""Opening the database: SQLite tuned for safe concurrent writes, or PostgreSQL."""
from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from typing import Iterator

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from workflow.errors import SetupError
from workflow.storage.wal import LogCheckpoints

DEFAULT_URL = "sqlite:///casework.db"


def resolve_url(url: str | None) -> str:
    """`--db`, else CASEWORK_DB, else the local default; postgresql:// means psycopg 3."""
    url = url or os.environ.get("CASEWORK_DB") or DEFAULT_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str | None = None, *, echo: bool = False) -> Engine:
    url = resolve_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SetupError(f"'{url}' is not a database URL (try sqlite:///casework.db "
                         f"or postgresql://user@host/db).") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise SetupError(f"'{parsed.get_backend_name()}' databases are not supported; "
                     f"use SQLite or PostgreSQL.")


def _sqlite_engine(url: str, echo: bool) -> Engine:
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})
    database = make_url(url).database
    on_file = bool(database) and database != ":memory:" and not database.startswith("file:")
    checkpoints = LogCheckpoints(engine, database) if on_file else None

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's `begin` event issue BEGIN itself: the driver's own
        # deferred BEGIN fails with "database is locked" when a read turns
        # into a write under concurrency, whatever the busy timeout.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
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
    def _on_begin(conn):
        # Readers take no write lock (WAL lets them run beside a writer);
        # writers take it at BEGIN, before their first read.
        read_only = conn.get_execution_options().get("casework_read_only", False)
        # On the driver itself: every write transaction starts here, and going
        # through exec_driver_sql would cost half as much again as the BEGIN.
        driver = conn.connection.driver_connection
        if read_only:
            driver.execute("BEGIN")
        else:
            begin_immediate(driver)

    return engine


WRITE_WAIT_SECONDS = 30.0    # how long a writer waits for the write lock before giving up
_RETRY_SECONDS = 0.001


def _busy_timeout() -> str:
    return f"PRAGMA busy_timeout={int(WRITE_WAIT_SECONDS * 1000)}"


def begin_immediate(driver: sqlite3.Connection) -> None:
    """Take SQLite's write lock, waiting up to WRITE_WAIT_SECONDS for it.

    SQLite's own busy handler backs off to one try every 100 ms, so a writer
    queued behind a long sweep would only get in through a gap that long.
    Here the wait is a try every millisecond, so the sweep need only leave a
    short gap between its steps for a web request to get in.
    """
    driver.execute("PRAGMA busy_timeout=0")
    try:
        # Tries are counted, not timed: a test's frozen clock must not stop the wait.
        tries = max(1, int(WRITE_WAIT_SECONDS / _RETRY_SECONDS))
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
        driver.execute(_busy_timeout())


def is_postgres(engine_or_conn: Engine | Connection) -> bool:
    return engine_or_conn.dialect.name == "postgresql"


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back on any error."""
    with engine.begin() as conn:
        yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only connection: no write lock on SQLite, nothing committed."""
    with engine.connect() as conn:
        conn.execution_options(casework_read_only=True)
        yield conn
        conn.rollback()


def check_reachable(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except OperationalError as err:
        raise SetupError(f"The database at {engine.url.render_as_string(hide_password=True)} "
                         f"cannot be opened: {str(err.orig).strip().splitlines()[0]}") from None
