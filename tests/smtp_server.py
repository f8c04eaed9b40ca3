"""A real SMTP server on loopback for tests (aiosmtpd), with programmable trouble.

    server = SmtpTestServer().start()
    server.fail_next(1, at="DATA")                 # 421 for the next DATA
    server.refuse("ceo@council.gov.uk")             # 550 for that recipient
    server.stall_next(5.0)                          # answer the next DATA 5 s late
    server.drop_next(1)                             # hang up at the next MAIL
    ... send ...
    server.received[0].message["Subject"]; server.received[0].rcpt_tos
    server.stop(); server.start()                   # down for a while, same port

Import it as `from tests.smtp_server import SmtpTestServer` (run pytest from the
repository root, `python -m pytest`, so `tests` is importable).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller

_STAGES = ("MAIL", "RCPT", "DATA")
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.I | re.M)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (aiosmtpd's port=0 doesn't work, aiosmtpd#276)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage | None  # None when the server was started with parse=False


@dataclass
class _Trouble:
    stage: str
    reply: str | None = None  # an SMTP answer to give instead of accepting
    stall: float = 0.0  # seconds to wait before answering
    drop: bool = False  # hang up without answering
    count: int = 1


@dataclass
class _Behaviour:
    troubles: list[_Trouble] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # recipient (lower case) -> answer


class _Handler:
    def __init__(self, owner: "SmtpTestServer"):
        self.owner = owner

    async def _trouble(self, server, stage: str) -> str | None:
        trouble = self.owner._take_trouble(stage)
        if trouble is None:
            return None
        if trouble.stall:
            await asyncio.sleep(trouble.stall)
        if trouble.drop:
            server.transport.close()
            return "421 4.4.2 connection dropped by test server"
        return trouble.reply

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.owner._seen_session(session)
        answer = await self._trouble(server, "MAIL")
        if answer:
            return answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = await self._trouble(server, "RCPT")
        if answer:
            return answer
        refusal = self.owner._refusal(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        answer = await self._trouble(server, "DATA")
        if answer:
            return answer
        self.owner._deliver(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        return "250 2.0.0 Message accepted for delivery"


class SmtpTestServer:
    def __init__(self, host: str = "127.0.0.1", port: int | None = None, parse: bool = True):
        self.host = host
        self.port = port or free_port(host)
        self.parse = parse
        self.received: list[Received] = []
        self.accepted = 0  # messages taken (also counted when parse=False)
        self.message_ids: Counter = (
            Counter()
        )  # how often each Message-ID arrived (also parse=False)
        self.sessions = 0  # distinct SMTP sessions that sent MAIL
        self._behaviour = _Behaviour()
        self._lock = threading.Lock()  # the server runs in its own thread
        self._arrived = threading.Condition(self._lock)
        self._controller: Controller | None = None
        self._session_ids: set[int] = set()

    # --- life cycle -------------------------------------------------------
    def start(self) -> "SmtpTestServer":
        if self._controller is None:
            self._controller = Controller(
                _Handler(self), hostname=self.host, port=self.port, ready_timeout=10.0
            )
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def __enter__(self) -> "SmtpTestServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- behaviour --------------------------------------------------------
    def fail_next(
        self,
        count: int = 1,
        *,
        reply: str = "421 4.3.2 Service not available, try later",
        at: str = "DATA",
    ) -> None:
        """Answer `reply` instead of accepting for the next `count` MAIL/RCPT/DATA commands."""
        self._add(_Trouble(stage=at, reply=reply, count=count))

    def refuse(self, recipient: str, reply: str = "550 5.1.1 Mailbox unavailable") -> None:
        """Refuse one recipient at RCPT, every time, until reset()."""
        with self._lock:
            self._behaviour.refused[recipient.lower()] = reply

    def stall_next(self, seconds: float, count: int = 1, *, at: str = "DATA") -> None:
        """Wait `seconds` before answering the next `count` commands (then accept)."""
        self._add(_Trouble(stage=at, stall=seconds, count=count))

    def drop_next(self, count: int = 1, *, at: str = "MAIL") -> None:
        """Hang up instead of answering the next `count` commands."""
        self._add(_Trouble(stage=at, drop=True, count=count))

    def reset(self) -> None:
        """Forget programmed trouble and everything received."""
        with self._lock:
            self._behaviour = _Behaviour()
            self.received.clear()
            self.accepted = 0
            self.message_ids.clear()

    # --- reading what arrived -------------------------------------------
    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Block until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self.accepted < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} messages, {self.accepted} arrived")
                self._arrived.wait(left)
            return list(self.received)

    def messages_to(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (a.lower() for a in r.rcpt_tos)]

    # --- called from the server thread -----------------------------------
    def _add(self, trouble: _Trouble) -> None:
        if trouble.stage not in _STAGES:
            raise ValueError(f"at must be one of {_STAGES}, not {trouble.stage!r}")
        with self._lock:
            self._behaviour.troubles.append(trouble)

    def _take_trouble(self, stage: str) -> _Trouble | None:
        with self._lock:
            for trouble in self._behaviour.troubles:
                if trouble.stage == stage:
                    trouble.count -= 1
                    if trouble.count <= 0:
                        self._behaviour.troubles.remove(trouble)
                    return trouble
        return None

    def _refusal(self, address: str) -> str | None:
        with self._lock:
            return self._behaviour.refused.get(address.lower())

    def _seen_session(self, session) -> None:
        with self._lock:
            if id(session) not in self._session_ids:
                self._session_ids.add(id(session))
                self.sessions += 1

    def _deliver(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        message = email.message_from_bytes(raw, policy=email.policy.default) if self.parse else None
        found = _MESSAGE_ID.search(raw)
        with self._arrived:
            if found:
                self.message_ids[found.group(1).decode()] += 1
            if self.parse:
                self.received.append(Received(mail_from, rcpt_tos, raw, message))
            self.accepted += 1
            self._arrived.notify_all()
