"""Two `casework serve --no-web` workers sharing a slow mail server's queue on PostgreSQL.

Issue 18 found 800 messages received for 600 queued when two workers'
claims ran out under a server taking about a second a message. Here the real
`serve` processes deliver (their scheduler's first delivery runs at start),
with claims of 2 s that only renewal keeps: each message arrives once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.notifications.test_delivery_faults import mail_settings, message_ids, queue, states
from tests.smtp_server import SmtpTestServer
from workflow.storage.db import make_engine

CASEWORK = str(Path(sys.executable).with_name("casework"))
MESSAGES = 20


@pytest.fixture
def slow_sink():
    server = SmtpTestServer(parse=False).start()  # counts Message-IDs
    server.stall_next(1.0, count=10**6)  # a second for every message
    yield server
    server.stop()


def serve(url: str, server, log: Path) -> subprocess.Popen:
    env = {**os.environ, "CASEWORK_DB": url, "CASEWORK_CLAIM_SECONDS": "2", **mail_settings(server)}
    return subprocess.Popen(
        [CASEWORK, "serve", "--no-web", "--every", "60"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(log, "w"),
        text=True,
    )


@pytest.mark.slow  # 20-35 s: two servers starting, twenty seconds of mail
@pytest.mark.postgres
@pytest.mark.timeout(240)
def test_two_serve_workers_and_a_server_taking_a_second_a_message_send_each_message_once(
    pg_db, slow_sink, tmp_path
):
    url = pg_db.test_url
    engine = make_engine(url)
    queue(engine, MESSAGES)
    started = time.monotonic()
    # The second starts once the first is sending (a message a second on
    # each of its two connections: its claims outlast 2 s only if renewed).
    first = serve(url, slow_sink, tmp_path / "first.log")
    wait = time.monotonic() + 120
    while slow_sink.accepted == 0 and first.poll() is None:
        assert time.monotonic() < wait, "the first worker sent nothing within 120 s of starting"
        time.sleep(0.05)
    second = serve(url, slow_sink, tmp_path / "second.log")
    try:
        while states(engine) != {"sent": MESSAGES}:
            assert time.monotonic() < wait, f"not all sent: {states(engine)}"
            assert first.poll() is None and second.poll() is None, "a worker stopped"
            time.sleep(0.1)
        took = time.monotonic() - started
    finally:
        for worker in (first, second):
            worker.send_signal(signal.SIGTERM)
        for worker in (first, second):
            worker.wait(timeout=60)

    assert set(slow_sink.message_ids) == message_ids(engine)
    assert max(slow_sink.message_ids.values()) == 1, slow_sink.message_ids  # no duplicates
    logs = [(tmp_path / log).read_text() for log in ("first.log", "second.log")]
    for text in logs:
        assert "Traceback" not in text and "ERROR" not in text, text
    # What the workers say they sent adds up (each run logs "delivery: sent N, ...").
    assert (
        sum(int(n) for text in logs for n in re.findall(r"delivery: sent (\d+)", text)) == MESSAGES
    )
    assert took < 60, f"{took:.0f} s for {MESSAGES} messages: a worker waited for its first run"
    engine.dispose()
