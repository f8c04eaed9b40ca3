"""A process that keeps casework busy: the sweep, day after day, and deliveries, until told to stop.

    python -m tests.workflow.busy_writer URL STOP_FILE REPORT_FILE

Sweeps on a simulated clock from 15 December 2013 a day at a time, and
delivers the outbox (to .eml files) on a thread of its own, as `serve` does;
a third thread commits a small write every 10 ms and times it, which is what
a person saving a return would wait. When STOP_FILE appears it finishes the
sweep in hand and writes a JSON report: steps done, messages sent, errors,
the longest write, and when each write that took over 0.1 s began and how long it took.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import update

from notifications.transports import FileTransport
from workflow import clock
from workflow.runtime import mail
from workflow.storage.db import make_engine
from workflow.storage.tables import meta
from workflow.runtime.sweep import sweep

START = datetime(2013, 12, 15, 9, 30, tzinfo=timezone.utc)


def main(url: str, stop_file: str, report_file: str) -> None:
    engine = make_engine(url)
    stop = threading.Event()
    report = {
        "steps": 0,
        "sweeps": 0,
        "sent": 0,
        "errors": [],
        "longest_write_seconds": 0.0,
        "writes": 0,
        "slow_writes": [],
    }

    def deliver() -> None:
        transport = FileTransport(tempfile.mkdtemp(prefix="busy-mail-"))
        while not stop.is_set():
            try:
                report["sent"] += mail.deliver(
                    engine, transport=transport, sender="casework@localhost", owner="busy"
                ).sent
            except Exception as err:  # reported, and the test fails on it
                report["errors"].append(f"deliver: {err}")
            time.sleep(0.02)

    def probe() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(
                    update(meta)
                    .where(meta.c.key == "sweep_interval")
                    .values(value={"minutes": 5, "probe": time.time()})
                )
            took = time.perf_counter() - started
            report["longest_write_seconds"] = max(report["longest_write_seconds"], took)
            report["writes"] += 1
            if took > 0.1:
                report["slow_writes"].append([time.time() - took, took])
            time.sleep(0.01)

    threads = [threading.Thread(target=deliver), threading.Thread(target=probe)]
    for t in threads:
        t.start()
    try:
        with clock.simulate(START) as sim:
            while not Path(stop_file).exists():
                done = sweep(engine, owner="busy")
                report["steps"] += done.total
                report["sweeps"] += 1
                report["errors"] += [f"sweep: {e}" for e in done.errors]
                sim.advance(timedelta(days=1))
    finally:
        stop.set()
        for t in threads:
            t.join()
        engine.dispose()
        Path(report_file).write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
