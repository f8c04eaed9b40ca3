"""Opening SQLite for safe concurrent writes, and how a writer waits for the lock."""
import sqlite3
import threading

import pytest
from sqlalchemy.exc import OperationalError

from workflow.storage import db as database
from workflow.storage.db import make_engine
from workflow.errors import SetupError


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    with engine.connect():              # the file is in WAL mode from here on, as after init
        pass
    yield engine
    engine.dispose()


def test_sqlite_opens_in_wal_mode_with_foreign_keys_and_a_long_checkpoint_interval(engine):
    with engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2          # FULL: a commit is on the disk
        assert pragma("foreign_keys") == 1
        assert pragma("wal_autocheckpoint") == 8000
        assert pragma("busy_timeout") == 30000


def test_casework_sqlite_sync_normal_is_for_those_who_accept_the_risk(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEWORK_SQLITE_SYNC", "normal")
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1     # NORMAL
    engine.dispose()
    monkeypatch.setenv("CASEWORK_SQLITE_SYNC", "off")
    with pytest.raises(SetupError, match="CASEWORK_SQLITE_SYNC must be 'full' .* or 'normal', not 'off'"):
        make_engine(f"sqlite:///{tmp_path / 'casework.db'}")


def test_a_writer_waits_for_the_write_lock_and_gets_it_once_it_is_free(engine, tmp_path):
    holder = sqlite3.connect(tmp_path / "casework.db", isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    with engine.begin() as conn:        # waits about 0.3 s, then writes
        conn.exec_driver_sql("CREATE TABLE t (x)")
    release.join()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 0


def test_a_writer_gives_up_with_database_is_locked_when_the_lock_never_comes(engine, tmp_path,
                                                                              monkeypatch):
    monkeypatch.setattr(database, "WRITE_WAIT_SECONDS", 0.05)
    holder = sqlite3.connect(tmp_path / "casework.db", isolation_level=None,
                             check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE t (x)")
    finally:
        holder.execute("ROLLBACK")
    with engine.connect() as conn:      # other statements keep SQLite's own wait, as long
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 50
