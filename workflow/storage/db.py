"""Opening the database: SQLite tuned for safe concurrent writes, or PostgreSQL."""

from __future__ import annotations

import errno
import os
import sqlite3
import struct
import sys
import time
import weakref
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

try:
    import fcntl
except ImportError:  # not on Windows: read commands then open the file as SQLite does
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from workflow.storage.dbfaults import Fault, damaged, explain
from workflow.errors import SetupError
from workflow.storage.wal import LogCheckpoints

DEFAULT_URL = "sqlite:///casework.db"


def resolve_url(url: str | None) -> str:
    """`--db`, else CASEWORK_DB, else the local default; postgresql:// means psycopg 3."""
    url = url or os.environ.get("CASEWORK_DB") or DEFAULT_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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


def lock_wait_seconds(environ: Mapping[str, str] = os.environ) -> float:
    """CASEWORK_LOCK_WAIT: how long a SQLite writer waits for the write lock (default 30 s)."""
    raw = environ.get("CASEWORK_LOCK_WAIT", "").strip()
    if not raw:
        return WRITE_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise SetupError(
            f"CASEWORK_LOCK_WAIT must be a number of seconds from 0 to 3600, not {raw!r}."
        )
    return value


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


class ReadInterrupted(SetupError):
    """A writer changed a file with no log while a read command read it as it stood."""


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


# SQLite's locks on a database file (os_unix.c): a byte that a reader takes
# shared for a moment and a writer wanting the whole file takes exclusive,
# then 510 bytes that every connection holds shared and the one that writes
# the file itself (a checkpoint on closing, a change of journal mode, a
# rollback-journal commit) takes exclusive.
_PENDING_BYTE = 0x40000000
_SHARED_FIRST, _SHARED_SIZE = _PENDING_BYTE + 2, 510


class Unlogged:
    """A SQLite file in WAL mode with no `-wal` beside it, read without creating one.

    SQLite's rules for a read-only WAL database (https://www.sqlite.org/wal.html,
    "Read-Only Databases"): it reads one if the -wal and -shm files exist, or
    if it may create them, or if the connection is opened `immutable=1`. A
    read command must create nothing, so when there is no -wal the file is
    opened immutable: read as it stands, with no locks and no log. That is
    right only while no one writes the file itself, so:

    - There being no -wal means the file is wholly checkpointed and no
      connection has it open in WAL mode: every such connection creates
      the -wal on its first read and only the last one to close deletes it,
      after taking SQLite's EXCLUSIVE lock on the file.
    - This process holds SQLite's SHARED lock on the file (taken as SQLite
      takes it, before looking for the -wal) for as long as the engine
      lives. A writer may still start meanwhile; it creates the -wal, and
      its checkpoints may write into the file. But no one can take the
      EXCLUSIVE lock, so the -wal cannot go away again until this process
      lets go.
    - So at the start and end of every transaction: no -wal means nothing
      was written to the file since the lock was taken (what was read is
      whole). A -wal that has appeared is harmless while the file itself is
      unchanged (its size and modification time as when the lock was
      taken); once it has changed, what was read may mix two moments, and
      `check` raises ReadInterrupted, which says to run the command again.
      (A checkpoint comes 0.25 s after its writer's first connection at the
      soonest, so a change cannot hide inside the clock's tick.)

    Never waiting: a writer waits for none of this (it only needs SHARED,
    and a WAL writer never needs EXCLUSIVE but to tidy up on closing, which
    it then leaves to the next one), and neither does this reader, unless a
    last connection is that moment checkpointing as it closes.

    The lock is an open-file-description lock (Linux's F_OFD_SETLK): a
    classic POSIX lock would be dropped when SQLite closes its own
    descriptor of the file. Elsewhere, `take` gives None, and SQLite reads
    the file as usual (creating the -wal and -shm).
    """

    def __init__(self, path: str, fd: int, stamp: tuple[int, int, int, int]):
        self.path, self._fd, self._stamp = path, fd, stamp
        self._spoiled = self._reported = False

    @classmethod
    def take(cls, path: str, wait: float) -> "Unlogged | None":
        """The file's SHARED lock, if it has no -wal (nor a rollback journal) beside it."""
        if not _OFD_LOCKS or any(os.path.exists(path + s) for s in ("-wal", "-journal")):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None  # SQLite will say what is wrong with it
        tries = max(1, int(wait / _RETRY_SECONDS))
        try:
            for _ in range(tries):
                if _shared_lock(fd):
                    break
                time.sleep(_RETRY_SECONDS)  # a last connection checkpointing as it closes
            else:
                os.close(fd)
                return None
        except OSError:  # a file system without these locks
            os.close(fd)
            return None
        if os.path.exists(path + "-wal") or os.path.exists(path + "-journal"):
            os.close(fd)  # someone opened it meanwhile: read through the log
            return None
        return cls(path, fd, _stamp(os.fstat(fd)))

    def check(self, *, again: bool = True) -> None:
        """ReadInterrupted if the file may have been written since the lock was taken
        (`again=False`: only the first time it is found so)."""
        if self._fd < 0:
            self._spoiled = True  # used after its engine was disposed of: no lock any more
        elif not self._spoiled and os.path.exists(self.path + "-wal"):
            try:
                self._spoiled = _stamp(os.stat(self.path)) != self._stamp
            except OSError:
                self._spoiled = True
        if not self._spoiled or (self._reported and not again):
            return
        self._reported = True
        raise ReadInterrupted(
            f"Another process wrote to the database {self.path} while this command read it, "
            f"so what it read may not fit together; nothing was changed. Run the command again."
        )

    def release(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


def _stamp(found: os.stat_result) -> tuple[int, int, int, int]:
    return (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


_OFD_LOCKS = sys.platform == "linux" and fcntl is not None and hasattr(fcntl, "F_OFD_SETLK")


def _ofd_lock(fd: int, kind: int, start: int, length: int) -> bool:
    # struct flock: l_type, l_whence, l_start, l_len, l_pid (0 for OFD locks), padded.
    try:
        fcntl.fcntl(
            fd, fcntl.F_OFD_SETLK, struct.pack("hhqqi4x", kind, os.SEEK_SET, start, length, 0)
        )
        return True
    except OSError as err:
        if err.errno in (errno.EAGAIN, errno.EACCES):
            return False
        raise


def _shared_lock(fd: int) -> bool:
    """SQLite's SHARED lock, as os_unix.c takes it: via PENDING, which a writer wanting
    EXCLUSIVE holds, so that such a writer is never starved."""
    if not _ofd_lock(fd, fcntl.F_RDLCK, _PENDING_BYTE, 1):
        return False
    try:
        return _ofd_lock(fd, fcntl.F_RDLCK, _SHARED_FIRST, _SHARED_SIZE)
    finally:
        _ofd_lock(fd, fcntl.F_UNLCK, _PENDING_BYTE, 1)


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


WRITE_WAIT_SECONDS = 30.0  # how long a writer waits for the write lock before giving up
_RETRY_SECONDS = 0.001


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
