"""What a delivery test talks to, either way mail leaves: an SMTP server or GOV.UK Notify.

The delivery tests run once against each (the `peer` fixture): the same
outbox, the same claims and retries, through `SmtpTransport` to aiosmtpd on
loopback, or through `NotifyTransport` to the Notify stub. A peer makes the
same trouble in its own terms and reports what arrived as `Arrival`s: one a
message, with the outbox key it carried and every recipient it reached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from notifications import SmtpTransport
from notifications.notify import NotifyTransport, RateLimiter
from notifications.notify_templates import NotifyTemplates
from demo.notify_stub import NotifyStub
from tests.smtp_server import SmtpTestServer


@dataclass(frozen=True)
class Arrival:
    key: str
    recipients: list[str]
    subject: str
    text: str


class SmtpPeer:
    name = "smtp"
    temporary = "421"  # in last_error after a temporary failure
    unreachable = "could not connect"

    def __init__(self, server: SmtpTestServer):
        self.server = server

    def transport(self, timeout: float = 2.0) -> SmtpTransport:
        return SmtpTransport("127.0.0.1", self.server.port, timeout=timeout)

    def fail_next(self, count: int = 1) -> None:
        self.server.fail_next(count, at="DATA")

    def refuse(self, address: str) -> None:
        self.server.refuse(address)

    def refusal(self, address: str) -> str:
        """How a refusal of `address` reads in the row."""
        return f"{address}: 550 5.1.1 Mailbox unavailable"

    def stop(self) -> None:
        self.server.stop()

    def start(self) -> None:
        self.server.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Arrival]:
        return [
            Arrival(
                r.message["X-Casework-Key"],
                list(r.rcpt_tos),
                r.message["Subject"].strip(),
                r.message.get_body(("plain",)).get_content(),
            )
            for r in self.server.wait_for(count, timeout)
        ]


class NotifyPeer:
    name = "notify"
    temporary = "Notify 500"
    unreachable = "could not be reached"

    def __init__(self, stub: NotifyStub):
        self.stub = stub

    def transport(self, timeout: float = 2.0) -> NotifyTransport:
        # Two at a time, as SmtpTransport's two connections, so the tests count alike.
        return NotifyTransport(
            self.stub.api_key,
            NotifyTemplates(self.stub.generic_template),
            base_url=self.stub.base_url,
            timeout=timeout,
            rate=RateLimiter(),
            concurrency=2,
        )

    def fail_next(self, count: int = 1) -> None:
        self.stub.fail_next(count, status=500)

    def refuse(self, address: str) -> None:
        self.stub.refuse(address, "email_address Not a valid email address")

    def refusal(self, address: str) -> str:
        return f"{address}: Notify 400: BadRequestError: email_address Not a valid email address"

    def stop(self) -> None:
        self.stub.stop()

    def start(self) -> None:
        self.stub.start()

    def arrivals(self) -> list[Arrival]:
        """Notify's notifications, one a recipient, put back together as messages.

        The transport sends a message's recipients one after another, To
        first, so a notification to the first address seen under a
        reference starts a message and the others join the last one.
        """
        messages: list[Arrival] = []
        first: dict[str, str] = {}
        last: dict[str, Arrival] = {}
        for n in list(self.stub.notifications):
            ref = n.reference or ""
            if ref not in first or n.email_address == first[ref]:
                first.setdefault(ref, n.email_address)
                last[ref] = Arrival(ref, [n.email_address], n.personalisation["subject"], n.body)
                messages.append(last[ref])
            else:
                last[ref].recipients.append(n.email_address)
        return messages

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Arrival]:
        deadline = time.monotonic() + timeout
        while len(found := self.arrivals()) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, {len(found)} arrived")
            time.sleep(0.01)
        return found
