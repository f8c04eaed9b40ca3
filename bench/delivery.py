"""Delivery throughput: the outbox end to end against a bare aiosmtplib loop.

    .venv/bin/python bench/delivery.py [--messages 10000] [--transport smtp|notify]
                                       [--kills 20] [--kill-messages 5000] [--slow-ms 200]
                                       [--workers 1,2,4] [--slow-messages 120]

Both runs send the same rendered messages to one local aiosmtpd server, in a
process of its own as a real relay would be (it only counts what it takes).
The outbox run claims, builds (with header checks), sends and marks every
row of a SQLite outbox in a temporary folder. The bare run builds each
message from the same parts with a plain EmailMessage and sends it over one
aiosmtplib connection, with no database. Targets: at least 300 messages a
second, and at least half the bare rate. The last line is JSON.

`--transport notify` also sends the same messages through GOV.UK Notify's
transport to the Notify stub (demo/notify_stub.py, in a process of its own;
it checks each request's JWT and body as Notify would), against the SMTP
figure of the same run, and then checks the rate limiter: 3,300 messages of
one recipient through the real limiter, no 60 seconds with more than 3,000
(this part takes a little over a minute by design).

Two more measures, each with real `casework outbox deliver` processes:

- duplicates per kill: the kill loop of the tests, on a SQLite database: a
  delivery process SIGKILLed --kills times while it sends --kill-messages,
  then delivery run to the end; the server counts Message-IDs. A killed
  worker re-sends at most one message per connection (two).
- workers against a slow server (--slow-ms a message, as a real relay under
  load) on PostgreSQL (CASEWORK_BENCH_POSTGRES or the test server): messages
  a second with 1, 2 and 4 workers sharing one outbox. Each worker has two
  connections, so it should scale until the server is the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from itertools import cycle
from pathlib import Path

import aiosmtplib

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, bench/ would come first on sys.path, and bench/transitions.py
# would shadow the transitions library: the project root takes its place.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from notifications import KINDS, SmtpTransport, deliver, enqueue, render  # noqa: E402
from notifications.outbox import outbox  # noqa: E402
from tests.notifications.mail_fixtures import (
    kill_mid_stream,
    kinds_with_case_kinds,  # noqa: E402
    realistic_context,
    sqlite_engine,
)
from tests.smtp_server import SmtpTestServer, free_port  # noqa: E402

SENDER = "casework@tca.example.gov.uk"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _serve_smtp(port: int, ready, stop, accepted, repeated, times, stall: float) -> None:
    """The child process: an aiosmtpd server that publishes how many messages it took,
    and how many of them carried a Message-ID it had already seen."""
    server = SmtpTestServer(port=port, parse=False).start()
    if stall:
        server.stall_next(stall, count=10**9)
    ready.set()
    while not stop.wait(0.02):
        accepted.value = server.accepted
        repeated.value = sum(n - 1 for n in server.message_ids.values())
    accepted.value = server.accepted
    repeated.value = sum(n - 1 for n in server.message_ids.values())
    times.put([])
    server.stop()


def _serve_notify(port: int, ready, stop, accepted, repeated, times, ids) -> None:
    """The child process: the Notify stub (demo/notify_stub.py), counting what it takes
    (it checks each request's JWT and body as Notify would); at the end, when each arrived."""
    from demo.notify_stub import NotifyStub

    service_id, secret, template = ids
    stub = NotifyStub(
        port=port, keep=False, service_id=service_id, secret=secret, generic_template=template
    ).start()
    ready.set()
    while not stop.wait(0.02):
        accepted.value = stub.accepted
    accepted.value = stub.accepted
    times.put(list(stub.send_times))
    stub.stop()


class ServerProcess:
    """A local server in a process of its own, as a real one would be, publishing how many
    messages it took (and, for the Notify stub, when each arrived: `send_times`)."""

    def __init__(self, serve, *args):
        ctx = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._accepted, self._repeated = ctx.Value("q", 0), ctx.Value("q", 0)
        self._times = ctx.Queue()
        self._process = ctx.Process(
            target=serve,
            daemon=True,
            args=(
                self.port,
                self._ready,
                self._stop,
                self._accepted,
                self._repeated,
                self._times,
                *args,
            ),
        )
        self.send_times: list[float] = []

    @property
    def accepted(self) -> int:
        return self._accepted.value

    @property
    def repeated(self) -> int:
        return self._repeated.value

    def __enter__(self):
        self._process.start()
        if not self._ready.wait(30):
            raise SystemExit(f"{type(self).__name__}: the server process did not start")
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


class RelayProcess(ServerProcess):
    """The SMTP relay (aiosmtpd), slow to answer by `stall` seconds a message if asked."""

    def __init__(self, stall: float = 0.0):
        super().__init__(_serve_smtp, stall)


class StubProcess(ServerProcess):
    """GOV.UK Notify's stand-in, with a service, a key and a generic template of its own."""

    def __init__(self):
        self.service_id, self.secret, self.template = (str(uuid.uuid4()) for _ in range(3))
        super().__init__(_serve_notify, (self.service_id, self.secret, self.template))
        self.api_key = f"bench-{self.service_id}-{self.secret}"
        self.base_url = f"http://127.0.0.1:{self.port}"

    def transport(self, rate):
        from notifications.notify import NotifyTransport
        from notifications.notify_templates import NotifyTemplates

        return NotifyTransport(
            self.api_key,
            NotifyTemplates(self.template),
            base_url=self.base_url,
            timeout=30.0,
            rate=rate,
        )


def the_messages(count: int) -> list[tuple[str, str, list[str], list[str], object]]:
    """`count` messages cycling through every kind: (key, kind, to, cc, rendered)."""
    variants = [
        (kind, render(kind, realistic_context(kind, case_kind)))
        for kind, case_kind in kinds_with_case_kinds(KINDS)
    ]
    out = []
    for n, (kind, rendered) in zip(range(1, count + 1), cycle(variants)):
        out.append(
            (
                f"BENCH-{n:06d}:{kind}",
                kind,
                [f"council{n % 97}@example.gov.uk"],
                ["caseworker@communities.gsi.gov.uk"],
                rendered,
            )
        )
    return out


class Timed:
    """Wall time and this process's CPU time: on a shared machine the CPU
    figure is the one that does not move with other people's load."""

    def __enter__(self) -> "Timed":
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


def _outbox(messages, path: Path):
    """A SQLite outbox in `path` holding `messages`, queued."""
    engine = sqlite_engine(path)
    outbox.create(engine)
    _queue(engine, messages)
    return engine


def outbox_run(messages, server: RelayProcess, folder: Path) -> Timed:
    engine = _outbox(messages, folder / "outbox.db")
    transport = SmtpTransport("127.0.0.1", server.port, timeout=30.0)
    with Timed() as timed:
        report = deliver(engine, transport, now=utc_now, owner="bench", sender=SENDER)
    engine.dispose()
    taken = server.wait_for(len(messages))
    if report.sent != len(messages) or taken != len(messages):
        raise SystemExit(f"outbox run lost messages: {report}, server took {taken}")
    return timed


async def _bare(messages, port: int) -> None:
    smtp = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, timeout=30.0, local_hostname="casework.localhost"
    )
    await smtp.connect()
    for n, (_key, _kind, to, cc, rendered) in enumerate(messages, 1):
        msg = EmailMessage()
        msg["From"] = SENDER
        msg["To"] = ", ".join(to)
        msg["Cc"] = ", ".join(cc)
        msg["Subject"] = rendered.subject
        msg["Date"] = format_datetime(utc_now())
        msg["Message-ID"] = f"<bare.{n}@casework.localhost>"
        msg.set_content(rendered.text)
        msg.add_alternative(rendered.html, subtype="html")
        await smtp.send_message(msg)
    await smtp.quit()


def bare_run(messages, server: RelayProcess, already: int) -> Timed:
    with Timed() as timed:
        asyncio.run(_bare(messages, server.port))
    taken = server.wait_for(already + len(messages)) - already
    if taken != len(messages):
        raise SystemExit(f"bare run lost messages: server took {taken}")
    return timed


def notify_run(messages, folder: Path) -> tuple[Timed, int]:
    """The outbox end to end to the Notify stub, with casework's limiter lifted out of the way
    (the stub has no limit of its own): (timing, notifications taken)."""
    from notifications.notify import RateLimiter

    engine = _outbox(messages, folder / "notify.db")
    recipients = sum(len(to) + len(cc) for _k, _kind, to, cc, _r in messages)
    with StubProcess() as stub:
        transport = stub.transport(RateLimiter(limit=10**9))
        with Timed() as took:
            report = deliver(engine, transport, now=utc_now, owner="bench", sender=SENDER)
        taken = stub.wait_for(recipients)
    engine.dispose()
    if report.sent != len(messages) or taken != recipients:
        raise SystemExit(
            f"Notify run lost messages: {report}, the stub took {taken} of {recipients}"
        )
    return took, taken


def most_in_any_window(times: list[float], window: float) -> int:
    """The most arrivals in any `window` seconds."""
    times, most, start = sorted(times), 0, 0
    for end, at in enumerate(times):
        while times[start] <= at - window:
            start += 1
        most = max(most, end - start + 1)
    return most


def limiter_run(messages, folder: Path, limit: int, window: float) -> dict:
    """One recipient a message, more than a window's worth, through the real limiter of
    `limit` a `window`; the stub says when each request arrived."""
    from notifications.notify import RateLimiter

    engine = _outbox(messages, folder / f"limited-{limit}.db")
    with StubProcess() as stub:
        started = time.monotonic()
        report = deliver(
            engine,
            stub.transport(RateLimiter(limit, window)),
            now=utc_now,
            owner="bench",
            sender=SENDER,
        )
        took = time.monotonic() - started
        stub.wait_for(len(messages))
    engine.dispose()
    if report.sent != len(messages):
        raise SystemExit(f"limited run lost messages: {report}")
    times = sorted(stub.send_times)
    return {
        "sent": len(times),
        "seconds": round(took, 1),
        "window_s": window,
        "limit": limit,
        "most_in_a_window": most_in_any_window(times, window),
        "first_past_limit_after_s": round(times[limit] - times[0], 2)
        if len(times) > limit
        else None,
    }


def notify_figures(messages, folder: Path, smtp_per_s: float) -> dict:
    """The Notify stub's figures beside SMTP's of the same run, printed as they come."""
    from notifications.notify import RATE_LIMIT, RATE_WINDOW

    took, notifications = notify_run(messages, folder)
    n = len(messages)
    per_s = n / took.wall
    print(
        f"Notify stub (claim, one request a recipient, mark sent): {n} messages, {notifications} "
        f"notifications in {took.wall:.2f} s = {per_s:,.0f} msg/s, {notifications / took.wall:,.0f} "
        f"requests/s ({took.cpu / n * 1000:.2f} ms CPU a message); {per_s / smtp_per_s:.2f} of SMTP's "
        f"{smtp_per_s:,.0f} msg/s"
    )
    limits = []
    # Notify's own limit, and the same mechanism scaled down to a rate this
    # machine can exceed (a loaded 2-core box may not reach 3,000 a minute).
    for count, limit, window in ((RATE_LIMIT + 300, RATE_LIMIT, RATE_WINDOW), (100, 20, 2.0)):
        one_each = [
            (key, kind, to, [], rendered) for key, kind, to, _cc, rendered in the_messages(count)
        ]
        limited = limiter_run(one_each, folder, limit=limit, window=window)
        print(
            f"rate limiter {limit:,} a {window:g} s: {limited['sent']:,} notifications in "
            f"{limited['seconds']} s; at most {limited['most_in_a_window']:,} in any {window:g} s; "
            f"the {limit + 1:,}th went {limited['first_past_limit_after_s']} s after the first"
        )
        limits.append(limited)
    return {
        "per_s": round(per_s, 1),
        "requests_per_s": round(notifications / took.wall, 1),
        "of_smtp": round(per_s / smtp_per_s, 3),
        "limiter": limits,
    }


CASEWORK = str(Path(sys.executable).with_name("casework"))


def _queue(engine, messages) -> None:
    with engine.begin() as conn:
        for key, kind, to, cc, rendered in messages:
            enqueue(conn, key=key, kind=kind, to=to, cc=cc, rendered=rendered, now=utc_now())


def _worker(url: str, server: RelayProcess, claim_seconds: float = 2) -> subprocess.Popen:
    env = {
        **os.environ,
        "CASEWORK_DB": url,
        "CASEWORK_MAIL": "smtp",
        "CASEWORK_SMTP_HOST": "127.0.0.1",
        "CASEWORK_SMTP_PORT": str(server.port),
        "CASEWORK_CLAIM_SECONDS": str(claim_seconds),
        "CASEWORK_MAIL_FROM": SENDER,
    }
    return subprocess.Popen(
        [CASEWORK, "outbox", "deliver"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _queued(engine) -> int:
    from sqlalchemy import func, select

    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.state == "queued")
        ).scalar()


def kill_loop(count: int, kills: int, folder: Path) -> dict:
    """Duplicates per SIGKILL of a delivery process mid-stream (SQLite)."""
    from workflow.storage.db import make_engine
    from workflow.services.setup import init

    url = f"sqlite:///{folder / 'kills.db'}"
    engine = make_engine(url)
    init(engine)
    _queue(engine, the_messages(count))
    rng = random.Random(18)
    done = 0
    with RelayProcess() as server:
        for _ in range(kills):
            worker = _worker(url, server)
            if kill_mid_stream(worker, lambda: server.accepted, rng):
                done += 1
            elif worker.returncode:
                raise SystemExit(f"outbox deliver failed: {worker.stderr.read().strip()}")
        while _queued(engine):
            time.sleep(2.5)  # the dead workers' claims run out
            _worker(url, server).wait(600)
        server.wait_for(count + server.repeated)
        repeated, accepted = server.repeated, server.accepted
    engine.dispose()
    if accepted - repeated != count:
        raise SystemExit(f"kill loop lost messages: {accepted - repeated} distinct of {count}")
    print(
        f"kill loop: {kills} SIGKILLs ({done} mid-stream) over {count} messages: "
        f"{repeated} sent twice, {repeated / max(done, 1):.2f} a kill (at most 2: one a connection)"
    )
    return {"kills": done, "duplicates": repeated, "per_kill": round(repeated / max(done, 1), 2)}


def slow_server(count: int, stall_ms: int, workers: list[int]) -> dict:
    """Messages a second with N workers on PostgreSQL against a server slow to answer."""
    from sqlalchemy import create_engine, text
    from workflow.storage.db import make_engine, resolve_url
    from workflow.services.setup import init

    base = resolve_url(
        os.environ.get("CASEWORK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
    )
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"cw_bench_delivery_{os.getpid()}"
    out = {}
    try:
        for n in workers:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = base.rsplit("/", 1)[0] + "/" + name
            engine = make_engine(url)
            init(engine)
            _queue(engine, the_messages(count))
            with RelayProcess(stall=stall_ms / 1000) as server:
                running = [_worker(url, server, claim_seconds=10) for _ in range(n)]
                # Timed from the first message taken to the last: the workers'
                # start-up (a second or more on a loaded machine) is not delivery.
                while server.accepted < 1:
                    time.sleep(0.005)
                started = time.perf_counter()
                while server.accepted < count and any(w.poll() is None for w in running):
                    time.sleep(0.005)
                for worker in running:
                    worker.wait(900)
                while _queued(engine):  # a worker that started late found none
                    _worker(url, server, claim_seconds=10).wait(900)
                server.wait_for(count)
                wall = time.perf_counter() - started
                repeated = server.repeated
            engine.dispose()
            out[n] = {"per_s": round((count - 1) / wall, 2), "duplicates": repeated}
            print(
                f"{stall_ms} ms a message, {n} worker{'s' if n > 1 else ''} on PostgreSQL: "
                f"{count} messages in {wall:.1f} s = {(count - 1) / wall:.1f} msg/s "
                f"(first to last), {repeated} sent twice"
            )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--messages", type=int, default=10_000, help="how many messages (default 10000)"
    )
    parser.add_argument(
        "--transport",
        choices=("smtp", "notify"),
        default="smtp",
        help="notify: also GOV.UK Notify's transport to the Notify stub",
    )
    parser.add_argument(
        "--kills", type=int, default=20, help="SIGKILLs in the kill loop (0: skip it)"
    )
    parser.add_argument("--kill-messages", type=int, default=5000, help="messages in the kill loop")
    parser.add_argument("--slow-ms", type=int, default=200, help="the slow server's time a message")
    parser.add_argument(
        "--workers", default="1,2,4", help="worker counts against the slow server ('' skips)"
    )
    parser.add_argument("--slow-messages", type=int, default=120, help="messages a slow-server run")
    args = parser.parse_args(argv)
    messages = the_messages(args.messages)
    with RelayProcess() as server, tempfile.TemporaryDirectory(prefix="casework-bench-") as folder:
        ours = outbox_run(messages, server, Path(folder))
        bare = bare_run(messages, server, already=len(messages))
        if args.transport == "notify":
            notify = notify_figures(messages, Path(folder), smtp_per_s=len(messages) / ours.wall)
    n = len(messages)
    per_s, bare_per_s = n / ours.wall, n / bare.wall
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(
        f"outbox (claim, send, mark sent): {n} messages in {ours.wall:.2f} s = {per_s:,.0f} msg/s"
        f" ({ours.cpu / n * 1000:.2f} ms CPU a message)"
    )
    print(
        f"bare aiosmtplib, one connection: {n} messages in {bare.wall:.2f} s = {bare_per_s:,.0f} msg/s"
        f" ({bare.cpu / n * 1000:.2f} ms CPU a message)"
    )
    print(f"ratio {per_s / bare_per_s:.2f} of bare (target >= 0.5); target >= 300 msg/s")
    result = {
        "peer": "casework-delivery",
        "messages": n,
        "per_s": round(per_s, 1),
        "bare_per_s": round(bare_per_s, 1),
        "ratio": round(per_s / bare_per_s, 3),
    }
    if args.transport == "notify":
        result["notify"] = notify
    if args.kills:
        with tempfile.TemporaryDirectory(prefix="casework-bench-") as folder:
            result["kill_loop"] = kill_loop(args.kill_messages, args.kills, Path(folder))
    if args.workers:
        result["slow_server"] = slow_server(
            args.slow_messages, args.slow_ms, [int(n) for n in args.workers.split(",")]
        )
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
