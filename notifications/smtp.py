"""SMTP via aiosmtplib: the transport `casework` sends email with (notifications/transports.py
says what every transport does).

A module of its own so that only what sends mail imports aiosmtplib.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Iterator, Sequence

import aiosmtplib

from notifications.transports import PermFailure, Record, SendResult, Sent, TempFailure

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

    async def _worker(
        self, messages: Sequence[EmailMessage], todo: Iterator[int], record: Record
    ) -> None:
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
                smtp.close()  # stopped mid-way: no goodbye to wait for
            raise
        if smtp is not None:
            await self._quit(smtp)

    async def _send_with_reconnect(
        self, smtp: aiosmtplib.SMTP | None, msg: EmailMessage
    ) -> tuple[aiosmtplib.SMTP, SendResult]:
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
                    raise _ConnectionLost(
                        f"connection dropped by {self.host}:{self.port}: {exc}"
                    ) from None
            except (TimeoutError, aiosmtplib.SMTPTimeoutError):
                smtp.close()  # mid-conversation: the connection's state is unknown
                raise _ConnectionLost(
                    f"timed out after {self.timeout:g}s talking to {self.host}:{self.port}"
                ) from None
            except (OSError, aiosmtplib.SMTPConnectError) as exc:
                smtp.close()
                raise _ConnectionLost(
                    f"connection to {self.host}:{self.port} failed: {exc}"
                ) from None
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
            raise _ConnectionLost(
                f"sign-in to {where} refused: {_answer(exc.code, exc.message)}"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            smtp.close()
            raise _ConnectionLost(
                f"{where} refused the connection: {_answer(exc.code, exc.message)}"
            ) from None
        except (TimeoutError, aiosmtplib.SMTPTimeoutError):
            smtp.close()
            raise _ConnectionLost(
                f"timed out after {self.timeout:g}s connecting to {where}"
            ) from None
        except (OSError, aiosmtplib.SMTPException) as exc:
            smtp.close()
            raise _ConnectionLost(f"could not connect: {exc}") from None
        return smtp

    async def _send_one(self, smtp: aiosmtplib.SMTP, msg: EmailMessage) -> SendResult:
        try:
            async with asyncio.timeout(self.timeout * 2):
                refused, response = await smtp.send_message(msg)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            answers = "; ".join(
                f"{r.recipient}: {_answer(r.code, r.message)}" for r in exc.recipients
            )
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
            notes = "; ".join(
                f"{addr} ({_answer(r.code, r.message)})" for addr, r in refused.items()
            )
            text = f"{text}; refused: {notes}"
        return Sent(text)

    async def _quit(self, smtp: aiosmtplib.SMTP) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await smtp.quit()
        except (TimeoutError, OSError, aiosmtplib.SMTPException):
            smtp.close()
