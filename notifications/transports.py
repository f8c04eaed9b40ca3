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

A transport that hands messages to a service keeping its own record of each
(GOV.UK Notify) puts that service's ids in the result's `receipts`, one
`(id, address)` pair per recipient it accepted, so delivery receipts can be
matched; a failure's receipts are the recipients accepted before it, which
the outbox keeps so that the retry goes only to the others (the message's
`accepted`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Protocol, Sequence, TypeVar, Union

from notifications.message import parse_address


@dataclass(frozen=True)
class Sent:
    response: str
    receipts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class TempFailure:
    reason: str
    # Recipients the service accepted before the failure: a retry sends only to the others.
    receipts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class PermFailure:
    reason: str
    receipts: tuple[tuple[str, str], ...] = ()


SendResult = Union[Sent, TempFailure, PermFailure]


Record = Callable[[int, SendResult], Awaitable[None]]


class Transport(Protocol):
    async def send(self, messages: Sequence[EmailMessage], record: Record) -> None:
        """Send `messages`, awaiting `record(index, result)` for each one tried (module doc)."""
        ...


async def send_all(
    transport: Transport, messages: Sequence[EmailMessage]
) -> list[SendResult | None]:
    """Results by position; None for a message the transport never tried."""
    results: list[SendResult | None] = [None] * len(messages)

    async def keep(index: int, result: SendResult) -> None:
        results[index] = result

    await transport.send(messages, keep)
    return results


class FileTransport:
    """Writes each message to `folder/<n>-<safe key>.eml`, for local use and demos."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._next = 0  # 0: not counted yet (the folder may hold a previous run's)

    async def send(self, messages: Sequence[EmailMessage], record: Record) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self._next:
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
        folder = mail[len("file:") :]
        if not folder:
            raise ValueError("CASEWORK_MAIL: give a folder after 'file:', e.g. file:./outbox-mail")
        return FileTransport(folder)
    if mail == "notify":
        # Imported here: only a Notify set-up pays for requests and PyJWT.
        from notifications.notify import notify_from_env

        return notify_from_env(environ)
    if mail != "smtp":
        raise ValueError(f"CASEWORK_MAIL must be 'smtp', 'notify' or 'file:PATH', not {mail!r}")
    from notifications.smtp import TLS_MODES, SmtpTransport  # aiosmtplib: only when mailing

    host = environ.get("CASEWORK_SMTP_HOST", "localhost").strip() or "localhost"
    port = _number(environ, "CASEWORK_SMTP_PORT", "25", int)
    if not 0 < port < 65536:
        raise ValueError(f"CASEWORK_SMTP_PORT must be between 1 and 65535, not {port}")
    tls = environ.get("CASEWORK_SMTP_TLS", "none").strip().lower() or "none"
    if tls not in TLS_MODES:
        raise ValueError(f"CASEWORK_SMTP_TLS must be one of {', '.join(TLS_MODES)}, not {tls!r}")
    timeout = _number(environ, "CASEWORK_SMTP_TIMEOUT", "30", float)
    if not 0 < timeout < float("inf"):
        raise ValueError(
            f"CASEWORK_SMTP_TIMEOUT must be a positive number of seconds, not {timeout}"
        )
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


_N = TypeVar("_N", int, float)


def _number(environ: Mapping[str, str], name: str, default: str, kind: Callable[[str], _N]) -> _N:
    raw = environ.get(name, default).strip() or default
    try:
        return kind(raw)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ValueError(f"{name} must be {what}, not {raw!r}") from None


def __getattr__(name: str) -> Any:
    # SmtpTransport lived here before it had notifications/smtp.py; imported
    # from there only when asked for, so this module stays free of aiosmtplib.
    if name in ("SmtpTransport", "TLS_MODES"):
        from notifications import smtp

        return getattr(smtp, name)
    raise AttributeError(f"module 'notifications.transports' has no attribute {name!r}")
