"""Reading a SQLite file without writing to it, with the sqlite3 module alone.

What a read command needs before SQLAlchemy: the database's URL, how long to
wait for a lock, `Unlogged` (a file with no `-wal` read as it stands, under
SQLite's SHARED lock, without creating the log), and `plain_read`, one read
transaction on a file through sqlite3 opened exactly as a read-only engine
(`workflow.storage.db.make_engine(url, read_only=True)`) opens it. Importing
SQLAlchemy costs more than half of `casework case list`'s start (bench/startup.py),
so the command's table is read through `plain_read` when it can be; nothing
here imports SQLAlchemy (tests/cli/test_startup.py).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import struct
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Mapping

try:
    import fcntl
except ImportError:  # not on Windows: read commands then open the file as SQLite does
    fcntl = None  # type: ignore[assignment]

from workflow.errors import SetupError

DEFAULT_URL = "sqlite:///casework.db"


def resolve_url(url: str | None) -> str:
    """`--db`, else CASEWORK_DB, else the local default; postgresql:// means psycopg 3."""
    url = url or os.environ.get("CASEWORK_DB") or DEFAULT_URL
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


WRITE_WAIT_SECONDS = 30.0  # how long a writer waits for the write lock before giving up
_RETRY_SECONDS = 0.001


def lock_wait_seconds(
    environ: Mapping[str, str] = os.environ, default: float = WRITE_WAIT_SECONDS
) -> float:
    """CASEWORK_LOCK_WAIT: how long a SQLite writer waits for the write lock (`default`, 30 s,
    unless it says otherwise)."""
    raw = environ.get("CASEWORK_LOCK_WAIT", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise SetupError(
            f"CASEWORK_LOCK_WAIT must be a number of seconds from 0 to 3600, not {raw!r}."
        )
    return value


class ReadInterrupted(SetupError):
    """A writer changed a file with no log while a read command read it as it stood."""


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


def plain_file(url: str | None) -> str | None:
    """The file of `url` (resolved as `resolve_url` does) when it is a plain `sqlite:///PATH`
    naming a file that exists; None for anything else (in memory, a `file:` URI, query
    arguments, a character a URI would read otherwise, no file, another database), which
    is then opened through SQLAlchemy as usual, and refused there in its words."""
    url = resolve_url(url)
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:" or path.startswith("file:") or any(c in path for c in "?#%"):
        return None
    return path if os.path.isfile(path) else None


@contextmanager
def plain_read(path: str) -> Iterator[sqlite3.Connection]:
    """One read transaction on the SQLite file at `path` (see `plain_file`), opened as
    `db._sqlite_reader` opens it: read-only, `immutable=1` under `Unlogged` when there is no
    log, SQLite's own wait for a lock. ReadInterrupted when a writer changed the file under
    an unlogged read; any other fault is sqlite3's own error."""
    wait = lock_wait_seconds()
    unlogged = Unlogged.take(path, wait)
    try:
        immutable = "&immutable=1" if unlogged else ""
        conn = sqlite3.connect(
            f"file:{os.path.abspath(path)}?mode=ro{immutable}",
            uri=True,
            timeout=wait,
            isolation_level=None,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            if unlogged:
                unlogged.check()
            conn.execute("BEGIN")  # deferred: in WAL mode a reader never waits for a writer
            yield conn
            if unlogged:
                unlogged.check()  # everything read was read whole
        finally:
            conn.close()  # which ends the read transaction
    finally:
        if unlogged:
            unlogged.release()
