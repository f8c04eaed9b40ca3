"""SQLite's write-ahead log, copied back into the database on a thread of its own.

In WAL mode a commit appends the pages it changed to the log, and a
checkpoint copies them into the database file. Left to SQLite, the commit
that takes the log past `wal_autocheckpoint` pages does the whole checkpoint
itself: one transition in several hundred waits for the copying of all the
others, and bench/transitions.py put the average cost at about a fifth of a
transition. Here a thread checkpoints a few times a second beside the
writers. A PASSIVE checkpoint takes no lock that a reader or a writer waits
for, and the driver lets go of the GIL while it copies, so on a second core
it costs them next to nothing. SQLite's own checkpoint stays as the
backstop, should this thread fall behind or stop.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from pathlib import Path

from sqlalchemy import Engine, event

INTERVAL_SECONDS = 0.25


class LogCheckpoints:
    """The checkpointing thread of one engine's database file.

    `ensure_running()` starts it (the engine's connect event calls it, so an
    engine that is never used starts nothing); disposing of the engine, or
    its being garbage-collected, stops it. It holds the file's path, never
    the engine.
    """

    def __init__(self, engine: Engine, path: str):
        self._path = path
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        event.listen(engine, "engine_disposed", lambda _engine: self.stop())
        weakref.finalize(engine, self.stop)

    def ensure_running(self) -> None:
        with self._lock:
            if self._stop is None:
                self._stop = threading.Event()
                uri = Path(self._path).resolve().as_uri() + "?mode=rw"  # never creates the file
                self._thread = threading.Thread(
                    target=_checkpoint_until,
                    args=(uri, self._stop),
                    name="casework-wal-checkpoint",
                    daemon=True,
                )
                self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it, so no connection of ours is left on the file."""
        with self._lock:
            thread, self._thread = self._thread, None
            if self._stop is not None:
                self._stop.set()
                self._stop = None
        # A checkpoint in progress when the engine is disposed would otherwise
        # still hold the log, and a copy of the file taken then would miss it.
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)


def _checkpoint_until(uri: str, stop: threading.Event) -> None:
    conn: sqlite3.Connection | None = None
    try:
        while not stop.wait(INTERVAL_SECONDS):
            try:
                if conn is None:
                    conn = sqlite3.connect(
                        uri, uri=True, isolation_level=None, check_same_thread=False
                    )
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                # The file went away, or another connection is checkpointing:
                # nothing is lost (the log stays valid), so try again later.
                if conn is not None:
                    conn.close()
                    conn = None
    finally:
        if conn is not None:
            conn.close()
