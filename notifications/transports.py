"""Transports: how built messages leave the building.

The interface (every transport follows it; the outbox relies on each rule):

    async def send(messages, record) -> None

- For each message it tries, the transport awaits `record(index, result)` as
  soon as that message's outcome is known, and **before the same connection
  starts on another message**. The caller writes the outcome to the database
  inside `record`, so a worker killed at any moment has at most one message
  per connection sent but not recorded (sent again later, same Message-ID).
- A message it never tries (the server went away first) gets no call at all:
  the caller gives it back untouched, and it keeps its tries.
- If `record` raises, the transport stops starting messages on every
  connection and `send` raises that exception (the caller lost its claim on
  the rows, or its database). Otherwise `send` raises nothing: trouble with
  the server is a result, or a message not tried.
- `record` is called from the event loop running `send`, one call at a time
  per connection; calls from different connections may overlap.

A result is one of three small classes:

- `Sent(response)`       the server took it (response: its answer, plus any
                         recipients it refused while accepting the others);
- `TempFailure(reason)`  try again later: a 4xx answer, a refused or dropped
                         connection, a timeout;
- `PermFailure(reason)`  don't retry: a 5xx answer, or every recipient
                         refused with a 5xx; reason is the server's answer.

`send_all(transport, messages)` runs one `send` and returns the results by
position (None where a message was not tried), for scripts and tests.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Awaitable, Callable, Mapping, Protocol, Sequence, Union

import aiosmtplib

from notifications.message import parse_address


@dataclass(frozen=True)
class Sent:
    response: str


@dataclass(frozen=True)
class TempFailure:
    reason: str


@dataclass(frozen=True)
class PermFailure:
    reason: str


SendResult = Union[Sent, TempFailure, PermFailure]


Record = Callable[[int, SendResult], Awaitable[None]]


class Transport(Protocol):
    async def send(self, messages: Sequence[EmailMessage], record: Record) -> None:
        """Send `messages`, awaiting `record(index, result)` for each one tried (module doc)."""
        ...


async def send_all(transport: Transport, messages: Sequence[EmailMessage]) -> list[SendResult | None]:
    """Results by position; None for a message the transport never tried."""
    results: list[SendResult | None] = [None] * len(messages)

    async def keep(index: int, result: SendResult) -> None:
        results[index] = result

    await transport.send(messages, keep)
    return results


TLS_MODES = ("none", "starttls", "tls")


class _ConnectionLost(Exception):
    """The connection can't be used for the rest of this worker's messages."""


def _answer(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


class SmtpTransport:
    """SMTP via aiosmtplib, each connection reused for every message it takes in one `send`.

    A call is shared by at most `concurrency` connections. Every SMTP
    operation is bounded by `timeout` (aiosmtplib's per-operation timeout),
    and a whole message by twice that (asyncio.timeout), since a slow-drip
    server can keep each single read inside its limit.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 25,
        tls: str = "none",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        concurrency: int = 2,
        local_hostname: str = "casework.localhost",
    ):
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.host, self.port, self.tls = host, port, tls
        self.username, self.password = username, password
        self.timeout, self.concurrency = timeout, concurrency
        self.local_hostname = local_hostname

    async def send(self, messages: Sequence[EmailMessage], record: Record) -> None:
        todo = iter(range(len(messages)))  # shared: a free connection takes the next message
        workers = min(self.concurrency, len(messages))
        if not workers:
            return
        try:
            # A TaskGroup, so that a failing `record` stops every connection.
            async with asyncio.TaskGroup() as group:
                for _ in range(workers):
                    group.create_task(self._worker(messages, todo, record))
        except BaseExceptionGroup as failed:
            raise failed.exceptions[0] from None

    async def _worker(self, messages: Sequence[EmailMessage], todo, record: Record) -> None:
        smtp: aiosmtplib.SMTP | None = None
        try:
            for index in todo:
                try:
                    smtp, result = await self._send_with_reconnect(smtp, messages[index])
                except _ConnectionLost as lost:
                    # Stop here rather than wait out a timeout for every message
                    # of a dead server; another connection may still be healthy.
                    # The messages nobody reaches are not recorded: they keep their tries.
                    smtp = None
                    await record(index, TempFailure(str(lost)))
                    return
                await record(index, result)
        except BaseException:
            if smtp is not None:
                smtp.close()       # stopped mid-way: no goodbye to wait for
            raise
        if smtp is not None:
            await self._quit(smtp)

    async def _send_with_reconnect(self, smtp, msg):
        # A reused connection may have been closed by the server since the
        # last message (idle timeout, 421): reconnect once and try again.
        for attempt in (1, 2):
            if smtp is None or not smtp.is_connected:
                smtp = await self._connect()
            try:
                return smtp, await self._send_one(smtp, msg)
            except aiosmtplib.SMTPServerDisconnected as exc:
                smtp.close()
                smtp = None
                if attempt == 2:
                    raise _ConnectionLost(f"connection dropped by {self.host}:{self.port}: {exc}") from None
            except (TimeoutError, aiosmtplib.SMTPTimeoutError):
                smtp.close()  # mid-conversation: the connection's state is unknown
                raise _ConnectionLost(f"timed out after {self.timeout:g}s talking to {self.host}:{self.port}") from None
            except (OSError, aiosmtplib.SMTPConnectError) as exc:
                smtp.close()
                raise _ConnectionLost(f"connection to {self.host}:{self.port} failed: {exc}") from None
        raise AssertionError("unreachable")

    async def _connect(self) -> aiosmtplib.SMTP:
        smtp = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.tls == "tls",
            start_tls=self.tls == "starttls",
            timeout=self.timeout,
            local_hostname=self.local_hostname,
        )
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.timeout * 2):
                await smtp.connect()
                if self.username:
                    await smtp.login(self.username, self.password or "")
        except aiosmtplib.SMTPAuthenticationError as exc:
            smtp.close()
            # A wrong password is a setting to fix, not a message to give up on.
            raise _ConnectionLost(f"sign-in to {where} refused: {_answer(exc.code, exc.message)}") from None
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise _ConnectionLost(f"{where} refused the connection: {_answer(exc.code, exc.message)}") from None
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            smtp.close()
            raise _ConnectionLost(f"timed out after {self.timeout:g}s connecting to {where}") from None
        except (OSError, aiosmtplib.SMTPException) as exc:
            smtp.close()
            raise _ConnectionLost(f"could not connect: {exc}") from None
        return smtp

    async def _send_one(self, smtp: aiosmtplib.SMTP, msg: EmailMessage) -> SendResult:
        try:
            async with asyncio.timeout(self.timeout * 2):
                refused, response = await smtp.send_message(msg)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            answers = "; ".join(f"{r.recipient}: {_answer(r.code, r.message)}" for r in exc.recipients)
            if all(r.code >= 500 for r in exc.recipients):
                return PermFailure(f"every recipient refused: {answers}")
            return TempFailure(f"every recipient refused, some for now: {answers}")
        except aiosmtplib.SMTPResponseException as exc:
            answer = _answer(exc.code, exc.message)
            return PermFailure(answer) if exc.code >= 500 else TempFailure(answer)
        except aiosmtplib.SMTPNotSupported as exc:
            return TempFailure(f"server cannot take this message: {exc}")
        text = " ".join(response.split())
        if refused:
            notes = "; ".join(f"{addr} ({_answer(r.code, r.message)})" for addr, r in refused.items())
            text = f"{text}; refused: {notes}"
        return Sent(text)

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await smtp.quit()
        except (TimeoutError, OSError, aiosmtplib.SMTPException):
            smtp.close()


class FileTransport:
    """Writes each message to `folder/<n>-<safe key>.eml`, for local use and demos."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._next: int | None = None

    async def send(self, messages: Sequence[EmailMessage], record: Record) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._next is None:
            self._next = len(list(self.folder.glob("*.eml"))) + 1
        for index, msg in enumerate(messages):
            await record(index, self._write(msg))

    def _write(self, msg: EmailMessage) -> SendResult:
        key = msg.get("X-Casework-Key") or msg.get("Message-ID") or "message"
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(key)).strip("._")[:120] or "message"
        while True:
            path = self.folder / f"{self._next:06d}-{safe}.eml"
            self._next += 1
            try:
                with open(path, "xb") as out:  # "x": never overwrite another worker's file
                    out.write(bytes(msg))
            except FileExistsError:
                continue
            except OSError as exc:
                return TempFailure(f"could not write {path}: {exc}")
            return Sent(f"written to {path}")


def transport_from_env(environ: Mapping[str, str]) -> Transport:
    """The transport the mail settings ask for (DESIGN.md section 6).

    Raises ValueError naming the variable when a setting can't be used.
    """
    mail = environ.get("CASEWORK_MAIL", "smtp").strip() or "smtp"
    if mail.startswith("file:"):
        folder = mail[len("file:"):]
        if not folder:
            raise ValueError("CASEWORK_MAIL: give a folder after 'file:', e.g. file:./outbox-mail")
        return FileTransport(folder)
    if mail != "smtp":
        raise ValueError(f"CASEWORK_MAIL must be 'smtp' or 'file:PATH', not {mail!r}")
    host = environ.get("CASEWORK_SMTP_HOST", "localhost").strip() or "localhost"
    port = _number(environ, "CASEWORK_SMTP_PORT", "25", int)
    if not 0 < port < 65536:
        raise ValueError(f"CASEWORK_SMTP_PORT must be between 1 and 65535, not {port}")
    tls = environ.get("CASEWORK_SMTP_TLS", "none").strip().lower() or "none"
    if tls not in TLS_MODES:
        raise ValueError(f"CASEWORK_SMTP_TLS must be one of {', '.join(TLS_MODES)}, not {tls!r}")
    timeout = _number(environ, "CASEWORK_SMTP_TIMEOUT", "30", float)
    if not 0 < timeout < float("inf"):
        raise ValueError(f"CASEWORK_SMTP_TIMEOUT must be a positive number of seconds, not {timeout}")
    username = environ.get("CASEWORK_SMTP_USER") or None
    password = environ.get("CASEWORK_SMTP_PASSWORD") or None
    if password and not username:
        raise ValueError("CASEWORK_SMTP_PASSWORD is set but CASEWORK_SMTP_USER is not")
    return SmtpTransport(host, port, tls, username, password, timeout=timeout)


def sender_from_env(environ: Mapping[str, str]) -> str:
    """CASEWORK_MAIL_FROM (default casework@localhost), checked as an address."""
    value = environ.get("CASEWORK_MAIL_FROM", "casework@localhost").strip() or "casework@localhost"
    try:
        parse_address("From", value)
    except ValueError as exc:
        raise ValueError(f"CASEWORK_MAIL_FROM is not a usable address: {exc}") from None
    return value


def _number(environ: Mapping[str, str], name: str, default: str, kind):
    raw = environ.get(name, default).strip() or default
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} must be {what}, not {raw!r}") from None
