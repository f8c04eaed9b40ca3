"""Fixtures for notifications: a real SMTP server, the Notify stub, a real SQLite outbox, a clock."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine

# tests/ has no __init__.py, so pytest puts only this folder on sys.path; the
# repository root makes `tests.smtp_server` importable however pytest starts.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from notifications.outbox import outbox  # noqa: E402
from tests.notifications.mail_fixtures import Clock, sqlite_engine  # noqa: E402
from tests.notifications.mail_peers import NotifyPeer, SmtpPeer  # noqa: E402
from demo.notify_stub import NotifyStub  # noqa: E402
from tests.smtp_server import SmtpTestServer  # noqa: E402


@pytest.fixture
def smtp_server():
    server = SmtpTestServer().start()
    yield server
    server.stop()


@pytest.fixture
def notify_stub():
    stub = NotifyStub().start()
    yield stub
    stub.stop()


@pytest.fixture(params=["smtp", "notify"])
def peer(request):
    """Where delivery sends: aiosmtpd, or the Notify stub (each test runs against both)."""
    if request.param == "smtp":
        server = SmtpTestServer().start()
        yield SmtpPeer(server)
        server.stop()
    else:
        stub = NotifyStub().start()
        yield NotifyPeer(stub)
        stub.stop()


@pytest.fixture
def outbox_db(tmp_path) -> Engine:
    """A SQLite database holding only the outbox table."""
    engine = sqlite_engine(tmp_path / "outbox.db")
    outbox.create(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2014, 4, 7, 8, 0, tzinfo=timezone.utc))  # 09:00 in London
