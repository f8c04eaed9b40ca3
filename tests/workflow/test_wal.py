"""SQLite's log is checkpointed by a thread of its own, not by the commit that fills it."""
import os
import threading
import time

import pytest
from sqlalchemy import event

from workflow import wal
from workflow.db import make_engine

THREAD = "casework-wal-checkpoint"


def checkpoint_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == THREAD and t.is_alive())


def eventually(condition, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(wal, "INTERVAL_SECONDS", 0.05)


def write_pages(engine, n: int) -> None:
    """`n` commits of a page each, over about a second, as a busy service would."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS blobs (b BLOB)")
    for i in range(n):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO blobs VALUES (?)", (os.urandom(4000),))
        if i % 50 == 0:
            time.sleep(0.03)


def test_the_log_is_copied_back_while_writers_write_so_it_does_not_grow(tmp_path, quick):
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    # Without SQLite's own checkpoint, only the thread keeps the log short.
    event.listen(engine, "connect", lambda dbapi, _r: dbapi.execute("PRAGMA wal_autocheckpoint=0"))
    try:
        write_pages(engine, 1500)           # about 6 MB of pages in all
        log = os.path.getsize(tmp_path / "casework.db-wal")
        assert log < 3_000_000, f"the log grew to {log:,} bytes: nothing checkpointed it"
    finally:
        engine.dispose()


def test_without_the_thread_the_same_writes_leave_the_whole_log(tmp_path, quick, monkeypatch):
    # The control for the test above: it measures the thread, not SQLite.
    monkeypatch.setattr(wal.LogCheckpoints, "ensure_running", lambda self: None)
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    event.listen(engine, "connect", lambda dbapi, _r: dbapi.execute("PRAGMA wal_autocheckpoint=0"))
    try:
        write_pages(engine, 1500)
        assert os.path.getsize(tmp_path / "casework.db-wal") > 6_000_000
    finally:
        engine.dispose()


def test_an_engine_starts_the_thread_when_it_first_connects_and_disposing_stops_it(tmp_path, quick):
    before = checkpoint_threads()
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    assert checkpoint_threads() == before          # nothing until it is used
    with engine.connect():
        pass
    assert checkpoint_threads() == before + 1
    engine.dispose()
    assert eventually(lambda: checkpoint_threads() == before)


def test_an_engine_that_is_thrown_away_stops_its_thread(tmp_path, quick):
    before = checkpoint_threads()
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    with engine.connect():
        pass
    engine.pool.dispose()                           # the pool's own, not the engine's event
    del engine
    import gc
    gc.collect()
    assert eventually(lambda: checkpoint_threads() == before)


def test_a_database_in_memory_has_no_thread(quick):
    before = checkpoint_threads()
    engine = make_engine("sqlite://")
    with engine.connect():
        pass
    assert checkpoint_threads() == before
    engine.dispose()


def test_the_thread_never_creates_the_database_file(tmp_path, quick):
    path = tmp_path / "casework.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect():
        pass
    engine.pool.dispose()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(f"{path}{suffix}"):
            os.remove(f"{path}{suffix}")
    time.sleep(0.3)                                 # several of the thread's turns
    assert not path.exists()
    engine.dispose()
