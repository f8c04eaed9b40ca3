"""Opening SQLite for safe concurrent writes, and how a writer waits for the lock."""

import sqlite3
import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

from workflow.storage import db as database
from workflow.storage.db import make_engine
from workflow.storage.readonly import ReadInterrupted, plain_read
from workflow.errors import SetupError


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    with engine.connect():  # the file is in WAL mode from here on, as after init
        pass
    yield engine
    engine.dispose()


def test_sqlite_opens_in_wal_mode_with_foreign_keys_and_a_long_checkpoint_interval(engine):
    with engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL: a commit is on the disk
        assert pragma("foreign_keys") == 1
        assert pragma("wal_autocheckpoint") == 8000
        assert pragma("busy_timeout") == 30000


def test_casework_sqlite_sync_normal_is_for_those_who_accept_the_risk(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEWORK_SQLITE_SYNC", "normal")
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()
    monkeypatch.setenv("CASEWORK_SQLITE_SYNC", "off")
    with pytest.raises(
        SetupError, match="CASEWORK_SQLITE_SYNC must be 'full' .* or 'normal', not 'off'"
    ):
        make_engine(f"sqlite:///{tmp_path / 'casework.db'}")


def test_a_writer_waits_for_the_write_lock_and_gets_it_once_it_is_free(engine, tmp_path):
    holder = sqlite3.connect(
        tmp_path / "casework.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    with engine.begin() as conn:  # waits about 0.3 s, then writes
        conn.exec_driver_sql("CREATE TABLE t (x)")
    release.join()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


def test_a_writer_gives_up_with_database_is_locked_when_the_lock_never_comes(
    engine, tmp_path, monkeypatch
):
    monkeypatch.setattr(database, "WRITE_WAIT_SECONDS", 0.05)
    holder = sqlite3.connect(
        tmp_path / "casework.db", isolation_level=None, check_same_thread=False
    )
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE t (x)")
    finally:
        holder.execute("ROLLBACK")
    with engine.connect() as conn:  # other statements keep SQLite's own wait, as long
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 50


# A read-only engine on a file whose log was folded back in and removed (as
# after `casework init`, or any command, has closed): SQLite would create the
# -wal and -shm even to read, so the file is read as it stands (immutable)
# under SQLite's own shared lock, and checked at each transaction's edges.


@pytest.fixture
def closed(tmp_path):
    """A database in WAL mode with one table and row, closed cleanly: no -wal, no -shm."""
    path = tmp_path / "casework.db"
    writer = make_engine(f"sqlite:///{path}")
    with writer.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    writer.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["casework.db"]
    return path


def _names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_reader_of_a_closed_file_creates_nothing_and_writes_nothing(closed):
    before = closed.read_bytes()
    reader = make_engine(f"sqlite:///{closed}", read_only=True)
    with database.reading(reader) as conn:
        assert conn.exec_driver_sql("SELECT x FROM t").scalar() == 1
    with reader.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    reader.dispose()
    assert _names(closed.parent) == ["casework.db"]
    assert closed.read_bytes() == before


def test_a_writer_starting_beside_the_reader_is_not_held_up_and_the_read_still_holds(closed):
    reader = make_engine(f"sqlite:///{closed}", read_only=True)
    writer = make_engine(f"sqlite:///{closed}")
    with database.reading(reader) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
        with writer.begin() as w:  # gets the lock at once, commits to its log
            w.exec_driver_sql("INSERT INTO t VALUES (2)")
    # Nothing reached the file itself yet: what was read is whole, no refusal.
    with database.reading(reader) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
    writer.dispose()  # cannot tidy the log away while the reader holds its shared lock
    assert (closed.parent / "casework.db-wal").exists()
    reader.dispose()


def test_a_read_during_which_a_checkpoint_wrote_the_file_is_refused_saying_run_it_again(closed):
    reader = make_engine(f"sqlite:///{closed}", read_only=True)
    writer = make_engine(f"sqlite:///{closed}")
    with pytest.raises(
        database.ReadInterrupted, match="while this command read it.*Run the command again"
    ):
        with database.reading(reader) as conn:
            conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
            time.sleep(0.05)  # past the file clock's tick
            with writer.begin() as w:
                w.exec_driver_sql("INSERT INTO t VALUES (2)")
            raw = sqlite3.connect(closed, isolation_level=None)  # as the log's thread does
            assert raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
            raw.close()
    with pytest.raises(database.ReadInterrupted):  # and nothing more is read from memory
        with database.reading(reader) as conn:
            conn.exec_driver_sql("SELECT count(*) FROM t").scalar()
    assert database.read_interrupted(reader) is not None
    writer.dispose()
    reader.dispose()


def test_a_plain_read_during_which_a_checkpoint_wrote_the_file_is_refused_likewise(closed):
    # `case list`'s table reads through sqlite3 alone (storage.readonly.plain_read), as the
    # read-only engine opens the file: immutable under the shared lock, checked likewise.
    writer = make_engine(f"sqlite:///{closed}")
    with pytest.raises(ReadInterrupted, match="while this command read it.*Run the command again"):
        with plain_read(str(closed)) as conn:
            assert conn.execute("SELECT count(*) FROM t").fetchone() == (1,)
            time.sleep(0.05)  # past the file clock's tick
            with writer.begin() as w:  # not held up by the reader
                w.exec_driver_sql("INSERT INTO t VALUES (2)")
            raw = sqlite3.connect(closed, isolation_level=None)  # as the log's thread does
            assert raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[0] == 0
            raw.close()
    writer.dispose()


def test_a_plain_read_of_a_closed_file_creates_nothing_and_writes_nothing(closed):
    before = closed.read_bytes()

    with plain_read(str(closed)) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]

    assert _names(closed.parent) == ["casework.db"]
    assert closed.read_bytes() == before


def test_with_a_log_there_the_reader_reads_through_it(closed):
    writer = make_engine(f"sqlite:///{closed}")
    with writer.begin() as w:
        w.exec_driver_sql("INSERT INTO t VALUES (2)")  # in the log, not yet in the file
    names = _names(closed.parent)
    reader = make_engine(f"sqlite:///{closed}", read_only=True)
    with database.reading(reader) as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 2
    assert database.read_interrupted(reader) is None
    reader.dispose()
    writer.dispose()
    assert names == ["casework.db", "casework.db-shm", "casework.db-wal"]


def test_a_reader_used_after_its_engine_was_disposed_of_refuses_rather_than_read_unguarded(closed):
    reader = make_engine(f"sqlite:///{closed}", read_only=True)
    with database.reading(reader) as conn:
        conn.exec_driver_sql("SELECT 1").scalar()
    reader.dispose()  # lets go of the shared lock
    with pytest.raises(database.ReadInterrupted):
        with database.reading(reader) as conn:
            conn.exec_driver_sql("SELECT 1").scalar()
