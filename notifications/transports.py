"""Transports: how a batch of built messages leaves the building.

A transport has `async send_batch(messages) -> list[SendResult]`, one result
per message, in the same order. A result is one of three small classes:

- `Sent(response)`       the server took it (response: its answer, plus any
                         recipients it refused while accepting the others);
- `TempFailure(reason)`  try again later: a 4xx answer, a refused or dropped
                         connection, a timeout;
- `PermFailure(reason)`  don't retry: a 5xx answer, or every recipient
                         refused with a 5xx; reason is the server's answer.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Mapping, Protocol, Union

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


class Transport(Protocol):
    async def send_batch(self, messages: list[EmailMessage]) -> list[SendResult]: ...


TLS_MODES = ("none", "starttls", "tls")


class _ConnectionLost(Exception):
    """The connection can't be used for the rest of this worker's messages."""


def _answer(code: int, message: str) -> str:
    return f"{code} {' '.join(message.split())}"


class SmtpTransport:
    """SMTP via aiosmtplib, one connection reused per worker for a whole batch.

    A batch is shared by at most `concurrency` connections. Every SMTP
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

    async def send_batch(self, messages: list[EmailMessage]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(messages)
        todo = iter(range(len(messages)))  # shared: a free worker takes the next message
        gave_up: list[str] = []
        workers = min(self.concurrency, len(messages))
        await asyncio.gather(*(self._worker(messages, todo, results, gave_up) for _ in range(workers)))
        # Messages left over when every worker lost its connection were never tried.
        reason = f"not tried: {gave_up[0]}" if gave_up else "not tried"
        return [result if result is not None else TempFailure(reason) for result in results]

    async def _worker(self, messages, todo, results, gave_up: list[str]) -> None:
        smtp: aiosmtplib.SMTP | None = None
        try:
            for index in todo:
                try:
                    smtp, results[index] = await self._send_with_reconnect(smtp, messages[index])
                except _ConnectionLost as lost:
                    # Stop here rather than wait out a timeout for every message
                    # of a dead server; another worker may still be healthy.
                    results[index] = TempFailure(str(lost))
                    gave_up.append(str(lost))
                    smtp = None
                    return
        finally:
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

    async def send_batch(self, messages: list[EmailMessage]) -> list[SendResult]:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._next is None:
            self._next = len(list(self.folder.glob("*.eml"))) + 1
        return [self._write(msg) for msg in messages]

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
