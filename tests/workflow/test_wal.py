"""SQLite's log is checkpointed by a thread of its own, not by the commit that fills it."""

import gc
import os
import threading
import time

import pytest
from sqlalchemy import event

from workflow.storage import wal
from workflow.storage.db import make_engine

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
    """`n` commits of a page each."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS blobs (b BLOB)")
    for _ in range(n):
        with engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO blobs VALUES (?)", (os.urandom(4000),))


def two_bursts_with_a_pause(engine) -> tuple[int, int]:
    """The log's size after a burst of 500 commits, and after a second one half a second later.

    Once a checkpoint has copied the whole log back, the next writer starts it
    again from the beginning: the second burst reuses the first one's room.
    SQLite's own checkpoint is off, so only the thread can do that.
    """
    event.listen(engine, "connect", lambda dbapi, _r: dbapi.execute("PRAGMA wal_autocheckpoint=0"))
    log = engine.url.database + "-wal"
    write_pages(engine, 500)
    first = os.path.getsize(log)
    time.sleep(0.5)  # ten of the thread's turns
    write_pages(engine, 500)
    return first, os.path.getsize(log)


def test_the_log_is_copied_back_between_bursts_of_writes_so_it_does_not_grow(tmp_path, quick):
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    try:
        first, second = two_bursts_with_a_pause(engine)
        assert second < 1.3 * first, f"the log grew from {first:,} to {second:,} bytes"
    finally:
        engine.dispose()


def test_without_the_thread_the_log_holds_both_bursts(tmp_path, quick, monkeypatch):
    # The control for the test above: it measures the thread, not SQLite.
    monkeypatch.setattr(wal.LogCheckpoints, "ensure_running", lambda self: None)
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    try:
        first, second = two_bursts_with_a_pause(engine)
        assert second > 1.8 * first
    finally:
        engine.dispose()


def test_an_engine_starts_the_thread_when_it_first_connects_and_disposing_stops_it(tmp_path, quick):
    before = checkpoint_threads()
    engine = make_engine(f"sqlite:///{tmp_path / 'casework.db'}")
    assert checkpoint_threads() == before  # nothing until it is used
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
    engine.pool.dispose()  # the pool's own, not the engine's event
    del engine
    gc.collect()
    # at most as many as before: another test's engine, collected meanwhile, may stop its own too
    assert eventually(lambda: checkpoint_threads() <= before, seconds=10)


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
    time.sleep(0.3)  # several of the thread's turns
    assert not path.exists()
    engine.dispose()
