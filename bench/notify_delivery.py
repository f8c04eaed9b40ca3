"""GOV.UK Notify for bench/delivery.py --transport notify: the Notify stub in a
process of its own, the outbox sending to it, and Notify's rate limit held.

The stub (demo/notify_stub.py) checks each request's JWT and body as Notify
would and counts what it takes; it has no limit of its own, so the
throughput run lifts casework's limiter out of the way, and a second run
keeps the real one (3,000 a minute) and reads back from the stub when each
request arrived.
"""
from __future__ import annotations

import multiprocessing
import time
import uuid
from pathlib import Path

from notifications import OutboxMessage, deliver, enqueue
from notifications.notify import RATE_LIMIT, RATE_WINDOW, NotifyTransport, RateLimiter
from notifications.notify_templates import NotifyTemplates
from tests.notifications.mail_fixtures import sqlite_engine
from demo.notify_stub import NotifyStub
from tests.smtp_server import free_port


def _serve(port, ids, ready, stop, accepted, times) -> None:
    """The child process: the stub, counting what it takes; at the end, when each arrived."""
    service_id, secret, template = ids
    stub = NotifyStub(port=port, keep=False, service_id=service_id, secret=secret,
                      generic_template=template).start()
    ready.set()
    while not stop.wait(0.02):
        accepted.value = stub.accepted
    accepted.value = stub.accepted
    times.put(list(stub.send_times))
    stub.stop()


class StubProcess:
    def __init__(self):
        ctx = multiprocessing.get_context("spawn")
        self.port = free_port()
        self.service_id, self.secret, self.template = (str(uuid.uuid4()) for _ in range(3))
        self.api_key = f"bench-{self.service_id}-{self.secret}"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._accepted, self._times = ctx.Value("q", 0), ctx.Queue()
        self._process = ctx.Process(target=_serve, daemon=True, args=(
            self.port, (self.service_id, self.secret, self.template), self._ready, self._stop,
            self._accepted, self._times))
        self.send_times: list[float] = []

    def __enter__(self) -> "StubProcess":
        self._process.start()
        if not self._ready.wait(30):
            raise SystemExit("the Notify stub process did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.send_times = self._times.get(timeout=30)
        self._process.join(10)

    def wait_for(self, count: int, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self._accepted.value < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._accepted.value

    def transport(self, rate: RateLimiter) -> NotifyTransport:
        return NotifyTransport(self.api_key, NotifyTemplates(self.template), base_url=self.base_url,
                               timeout=30.0, rate=rate)


def _queued(messages, folder: Path, name: str, now):
    engine = sqlite_engine(folder / name)
    OutboxMessage.__table__.create(engine)
    with engine.begin() as conn:
        for key, kind, to, cc, rendered in messages:
            enqueue(conn, key=key, kind=kind, to=to, cc=cc, rendered=rendered, now=now())
    return engine


def notify_run(messages, folder: Path, timed, now, sender: str) -> tuple[object, int]:
    """The outbox end to end to the stub, no limiter: (timing, notifications taken)."""
    engine = _queued(messages, folder, "notify.db", now)
    recipients = sum(len(to) + len(cc) for _k, _kind, to, cc, _r in messages)
    with StubProcess() as stub:
        transport = stub.transport(RateLimiter(limit=10**9))
        with timed() as took:
            report = deliver(engine, transport, now=now, owner="bench", sender=sender)
        taken = stub.wait_for(recipients)
    engine.dispose()
    if report.sent != len(messages) or taken != recipients:
        raise SystemExit(f"Notify run lost messages: {report}, the stub took {taken} of {recipients}")
    return took, taken


def most_in_any_window(times: list[float], window: float) -> int:
    """The most arrivals in any `window` seconds."""
    times, most, start = sorted(times), 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def limiter_run(messages, folder: Path, now, sender: str, limit: int = RATE_LIMIT,
                window: float = RATE_WINDOW) -> dict:
    """One recipient a message, more than a window's worth, through a limiter of `limit` a `window`."""
    engine = _queued(messages, folder, f"limited-{limit}.db", now)
    with StubProcess() as stub:
        started = time.monotonic()
        report = deliver(engine, stub.transport(RateLimiter(limit, window)), now=now, owner="bench",
                         sender=sender)
        took = time.monotonic() - started
        stub.wait_for(len(messages))
    engine.dispose()
    if report.sent != len(messages):
        raise SystemExit(f"limited run lost messages: {report}")
    times = sorted(stub.send_times)
    return {"sent": len(times), "seconds": round(took, 1), "window_s": window, "limit": limit,
            "most_in_a_window": most_in_any_window(times, window),
            "first_past_limit_after_s": round(times[limit] - times[0], 2)
            if len(times) > limit else None}
