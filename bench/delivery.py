"""Delivery throughput: the outbox end to end against a bare aiosmtplib loop.

    .venv/bin/python bench/delivery.py [--messages 10000] [--transport smtp|notify]

Both runs send the same rendered messages to one local aiosmtpd server, in a
process of its own as a real relay would be (it only counts what it takes).
The outbox run claims, builds (with header checks), sends and marks every
row of a SQLite outbox in a temporary folder. The bare run builds each
message from the same parts with a plain EmailMessage and sends it over one
aiosmtplib connection, with no database. Targets: at least 300 messages a
second, and at least half the bare rate. The last line is JSON.

`--transport notify` also sends the same messages through GOV.UK Notify's
transport to the Notify stub (bench/notify_delivery.py), against the SMTP
figure of the same run, and then checks the rate limiter: 3,300 messages of
one recipient through the real limiter, no 60 seconds with more than 3,000
(this part takes a little over a minute by design).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
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
from tests.notifications.mail_fixtures import (kinds_with_case_kinds, realistic_context,  # noqa: E402
                                               sqlite_engine)
from tests.smtp_server import SmtpTestServer, free_port  # noqa: E402

SENDER = "casework@tca.example.gov.uk"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _serve(port: int, ready, stop, accepted) -> None:
    """The child process: an aiosmtpd server that publishes how many messages it took."""
    server = SmtpTestServer(port=port, parse=False).start()
    ready.set()
    while not stop.wait(0.02):
        accepted.value = server.accepted
    accepted.value = server.accepted
    server.stop()


class RelayProcess:
    def __init__(self):
        ctx = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._ready, self._stop = ctx.Event(), ctx.Event()
        self._accepted = ctx.Value("q", 0)
        self._process = ctx.Process(target=_serve, args=(self.port, self._ready, self._stop, self._accepted),
                                    daemon=True)

    def __enter__(self) -> "RelayProcess":
        self._process.start()
        if not self._ready.wait(30):
            raise SystemExit("the SMTP server process did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._process.join(10)

    def wait_for(self, count: int, timeout: float = 10.0) -> int:
        deadline = time.monotonic() + timeout
        while self._accepted.value < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._accepted.value


def the_messages(count: int) -> list[tuple[str, str, list[str], list[str], object]]:
    """`count` messages cycling through every kind: (key, kind, to, cc, rendered)."""
    variants = [(kind, render(kind, realistic_context(kind, case_kind)))
                for kind, case_kind in kinds_with_case_kinds(KINDS)]
    out = []
    for n, (kind, rendered) in zip(range(1, count + 1), cycle(variants)):
        out.append((f"BENCH-{n:06d}:{kind}", kind, [f"council{n % 97}@example.gov.uk"],
                    ["caseworker@communities.gsi.gov.uk"], rendered))
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


def outbox_run(messages, server: RelayProcess, folder: Path) -> Timed:
    engine = sqlite_engine(folder / "outbox.db")
    outbox.create(engine)
    with engine.begin() as conn:
        for key, kind, to, cc, rendered in messages:
            enqueue(conn, key=key, kind=kind, to=to, cc=cc, rendered=rendered, now=utc_now())
    transport = SmtpTransport("127.0.0.1", server.port, timeout=30.0)
    with Timed() as timed:
        report = deliver(engine, transport, now=utc_now, owner="bench", sender=SENDER)
    engine.dispose()
    taken = server.wait_for(len(messages))
    if report.sent != len(messages) or taken != len(messages):
        raise SystemExit(f"outbox run lost messages: {report}, server took {taken}")
    return timed


async def _bare(messages, port: int) -> None:
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30.0,
                           local_hostname="casework.localhost")
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


def notify_figures(messages, folder: Path, smtp_per_s: float) -> dict:
    """The Notify stub's figures beside SMTP's of the same run, printed as they come."""
    from bench.notify_delivery import limiter_run, notify_run
    took, notifications = notify_run(messages, folder, Timed, utc_now, SENDER)
    n = len(messages)
    per_s = n / took.wall
    print(f"Notify stub (claim, one request a recipient, mark sent): {n} messages, {notifications} "
          f"notifications in {took.wall:.2f} s = {per_s:,.0f} msg/s, {notifications / took.wall:,.0f} "
          f"requests/s ({took.cpu / n * 1000:.2f} ms CPU a message); {per_s / smtp_per_s:.2f} of SMTP's "
          f"{smtp_per_s:,.0f} msg/s")
    limits = []
    # Notify's own limit, and the same mechanism scaled down to a rate this
    # machine can exceed (a loaded 2-core box may not reach 3,000 a minute).
    for count, limit, window in ((3300, 3000, 60.0), (100, 20, 2.0)):
        one_each = [(key, kind, to, [], rendered)
                    for key, kind, to, _cc, rendered in the_messages(count)]
        limited = limiter_run(one_each, folder, utc_now, SENDER, limit=limit, window=window)
        print(f"rate limiter {limit:,} a {window:g} s: {limited['sent']:,} notifications in "
              f"{limited['seconds']} s; at most {limited['most_in_a_window']:,} in any {window:g} s; "
              f"the {limit + 1:,}th went {limited['first_past_limit_after_s']} s after the first")
        limits.append(limited)
    return {"per_s": round(per_s, 1), "requests_per_s": round(notifications / took.wall, 1),
            "of_smtp": round(per_s / smtp_per_s, 3), "limiter": limits}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="how many messages (default 10000)")
    parser.add_argument("--transport", choices=("smtp", "notify"), default="smtp",
                        help="notify: also GOV.UK Notify's transport to the Notify stub")
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
    print(f"outbox (claim, send, mark sent): {n} messages in {ours.wall:.2f} s = {per_s:,.0f} msg/s"
          f" ({ours.cpu / n * 1000:.2f} ms CPU a message)")
    print(f"bare aiosmtplib, one connection: {n} messages in {bare.wall:.2f} s = {bare_per_s:,.0f} msg/s"
          f" ({bare.cpu / n * 1000:.2f} ms CPU a message)")
    print(f"ratio {per_s / bare_per_s:.2f} of bare (target >= 0.5); target >= 300 msg/s")
    result = {"peer": "casework-delivery", "messages": n, "per_s": round(per_s, 1),
              "bare_per_s": round(bare_per_s, 1), "ratio": round(per_s / bare_per_s, 3)}
    if args.transport == "notify":
        result["notify"] = notify
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
