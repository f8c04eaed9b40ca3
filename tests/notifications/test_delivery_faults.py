"""Email sent once when delivery is killed, slow or cut off (real aiosmtpd, real `casework`).

- a kill loop: delivery SIGKILLed again and again over thousands of messages,
  to a sink counting Message-IDs (or the Notify stub counting references):
  none lost, at most one sent twice per kill per connection;
- a server taking a second a message, two workers at once: no duplicates;
- an outage over six runs: a try is only spent on a real attempt;
- mail queued by `sweep --now` in the future goes with the next delivery.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from notifications import SmtpTransport, deliver, enqueue, render
from tests.notifications.mail_fixtures import Clock, kill_mid_stream, realistic_context
from demo.notify_stub import NotifyStub
from tests.smtp_server import SmtpTestServer
from workflow.storage.db import make_engine
from workflow.storage.tables import outbox

CASEWORK = str(Path(sys.executable).with_name("casework"))
SENDER = "TCA casework <casework@tca.example.gov.uk>"
CONNECTIONS = 2  # SmtpTransport's connections per worker
NOTIFY_CONCURRENCY = 4  # NotifyTransport's requests at once per worker


def queue(engine, n: int, *, now: datetime | None = None) -> None:
    """`n` overdue notices, queued in one transaction (rendered once: the text is not the point)."""
    rendered = render("checkpoint.overdue", realistic_context("checkpoint.overdue"))
    now = now or datetime.now(timezone.utc)
    with engine.begin() as conn:
        for i in range(n):
            enqueue(
                conn,
                key=f"TCA-2013-{i:05d}/Q2:overdue",
                kind="checkpoint.overdue",
                to=["returns@tewkesbury.gov.uk"],
                cc=[],
                rendered=rendered,
                now=now,
            )


def message_ids(engine) -> set[str]:
    """The Message-ID each queued row is sent with (as notifications.message_id_for makes it)."""
    from notifications import message_id_for

    with engine.connect() as conn:
        return {
            message_id_for(r.id, r.key, "casework.localhost")
            for r in conn.execute(select(outbox.c.id, outbox.c.key))
        }


def states(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all()
        )


def delivery(url: str, server, claim_seconds: float = 2) -> subprocess.Popen:
    """`casework outbox deliver` in a process of its own, to `server` (aiosmtpd or the Notify stub)."""
    env = {
        **os.environ,
        "CASEWORK_DB": url,
        "CASEWORK_CLAIM_SECONDS": str(claim_seconds),
        **mail_settings(server),
    }
    return subprocess.Popen(
        [CASEWORK, "outbox", "deliver"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def mail_settings(server) -> dict[str, str]:
    if isinstance(server, NotifyStub):
        return {
            "CASEWORK_MAIL": "notify",
            "CASEWORK_NOTIFY_API_KEY": server.api_key,
            "CASEWORK_NOTIFY_BASE_URL": server.base_url,
            "CASEWORK_NOTIFY_TEMPLATE": server.generic_template,
        }
    return {
        "CASEWORK_MAIL": "smtp",
        "CASEWORK_SMTP_HOST": "127.0.0.1",
        "CASEWORK_SMTP_PORT": str(server.port),
        "CASEWORK_SMTP_TIMEOUT": "10",
    }


def deliver_until_done(url: str, engine, server, claim_seconds: float) -> None:
    """What a later `outbox deliver` does once the dead workers' claims have run out."""
    for _ in range(10):
        if states(engine).get("queued", 0) == 0:
            return
        time.sleep(claim_seconds + 0.5)
        finished = delivery(url, server, claim_seconds)
        out, err = finished.communicate(timeout=300)
        assert finished.returncode == 0, err
    raise AssertionError(f"still queued after ten runs: {states(engine)}")


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    path = tmp_path / "casework.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sink():
    server = SmtpTestServer(parse=False).start()  # counts Message-IDs; keeps no messages
    yield server
    server.stop()


class _Counted:
    """What arrived at a kill loop's server, each message named as the server knows it."""

    def __init__(self, server) -> None:
        self.server = server

    def arrived(self) -> Counter:
        if isinstance(self.server, NotifyStub):  # Notify's `reference` is the outbox key
            return Counter(n.reference for n in self.server.notifications)
        return self.server.message_ids

    def expected(self, engine) -> set[str]:
        if isinstance(self.server, NotifyStub):
            with engine.connect() as conn:
                return set(conn.execute(select(outbox.c.key)).scalars())
        return message_ids(engine)


@pytest.fixture(params=["smtp", "notify"])
def kill_sink(request):
    """aiosmtpd counting Message-IDs (2 connections a worker), or the Notify stub (4 requests)."""
    if request.param == "notify":
        stub = NotifyStub().start()
        yield stub, NOTIFY_CONCURRENCY
        stub.stop()
    else:
        server = SmtpTestServer(parse=False).start()
        yield server, CONNECTIONS
        server.stop()


@pytest.mark.slow
@pytest.mark.timeout(900)  # 20 process starts and 5,000 messages: minutes on a loaded machine
def test_twenty_kills_over_five_thousand_messages_lose_none_and_resend_at_most_one_per_connection(
    sqlite_url, kill_sink
):
    server, connections = kill_sink
    engine = make_engine(sqlite_url)
    queue(engine, 5000)
    rng = random.Random(18)
    kills = 0
    for _ in range(20):
        worker = delivery(sqlite_url, server)
        kills += kill_mid_stream(worker, lambda: server.accepted, rng)
        worker.communicate(timeout=60)
    deliver_until_done(sqlite_url, engine, server, claim_seconds=2)

    counted = _Counted(server)
    arrived = counted.arrived()
    duplicates = sum(n - 1 for n in arrived.values())
    assert states(engine) == {"sent": 5000}
    assert set(arrived) == counted.expected(engine)  # none lost, none foreign
    assert kills >= 15
    assert duplicates <= kills * connections, f"{duplicates} duplicates for {kills} kills"
    engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize(
    "where", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_server_taking_a_second_a_message_and_two_workers_send_each_message_once(
    where, request, sink
):
    url = (
        request.getfixturevalue("sqlite_url")
        if where == "sqlite"
        else request.getfixturevalue("pg_db").test_url
    )
    engine = make_engine(url)
    queue(engine, 12)
    sink.stall_next(1.0, count=10**6)
    # Claims of 2 s against a batch taking 6 s: only renewal keeps the first
    # worker's messages its own when the second starts 3 s later.
    first = delivery(url, sink, claim_seconds=2)
    time.sleep(3)
    second = delivery(url, sink, claim_seconds=2)
    for worker in (first, second):
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err

    assert states(engine) == {"sent": 12}
    assert set(sink.message_ids) == message_ids(engine)
    assert max(sink.message_ids.values()) == 1  # no duplicates
    engine.dispose()


class _HangUp:
    """A mail server that is down in the worst way: it accepts each connection and hangs up.

    Unlike a refused connection, each attempt can be counted here.
    """

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self.listener.close()


def test_an_outage_over_six_runs_spends_a_try_only_on_a_real_attempt(outbox_db):
    clock = Clock(datetime(2014, 4, 7, 8, 0, tzinfo=timezone.utc))
    queue(outbox_db, 100, now=clock.now())
    down = _HangUp()
    try:
        for _ in range(6):
            deliver(
                outbox_db,
                SmtpTransport("127.0.0.1", down.port, timeout=2.0),
                now=clock.now,
                owner="worker",
                sender=SENDER,
                max_attempts=6,
                rng=random.Random(1),
            )
            clock.advance(3600)  # past any backoff
    finally:
        down.close()

    with outbox_db.connect() as conn:
        rows = conn.execute(select(outbox.c.state, outbox.c.attempts)).all()
    assert sum(attempts for _, attempts in rows) == down.connections  # each try was a real one
    assert all(attempts >= 6 for state, attempts in rows if state == "dead")
    assert {state for state, _ in rows} == {"queued"}


def test_mail_queued_by_a_sweep_in_the_future_is_sent_by_the_next_outbox_deliver(sqlite_url, sink):
    from datetime import date

    from tests.workflow.monitoring_world import bulk_bids

    engine = make_engine(sqlite_url)
    bulk_bids(engine, 3, lambda i, n: date(2027, 1, 4) if n == 1 else date(2028, 6, 1))
    env = {**os.environ, "CASEWORK_DB": sqlite_url}
    swept = subprocess.run(
        [CASEWORK, "sweep", "--now", "2027-03-09T09:30"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert swept.returncode == 0, swept.stderr
    queued = states(engine).get("queued", 0)
    assert queued >= 3 * 5  # opened, reminder, overdue, two escalations, for each

    ran = delivery(sqlite_url, sink)  # on the real clock, months earlier
    out, err = ran.communicate(timeout=120)

    assert ran.returncode == 0, err
    assert out.strip() == f"sent {queued}, retrying 0, dead 0"
    assert states(engine) == {"sent": queued}
    engine.dispose()
