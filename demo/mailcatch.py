"""A small SMTP server on loopback that keeps every message it is sent as an .eml file.

The demo delivers its outbox through the real SMTP transport to this server,
so every message makes a real SMTP conversation. Each one is saved exactly as
received (the bytes of DATA) under `folder`, named after the outbox row and
idempotency key it carries (`000042-TCA-2013-0001_Q2_escalated_1.eml`), so
the names do not depend on the order in which parallel connections arrive.
"""

from __future__ import annotations

import re
import socket
import threading
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from aiosmtpd.controller import Controller

_MESSAGE_NUMBER = re.compile(r"<casework\.(\d+)\.")


@dataclass(frozen=True)
class Caught:
    path: Path
    key: str | None
    recipients: tuple[str, ...]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (aiosmtpd cannot bind port 0, aiosmtpd#276)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def eml_name(raw: bytes, fallback: int) -> tuple[str, str | None]:
    """The file name for one message, and the idempotency key it carries (if any)."""
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    key = headers.get("X-Casework-Key")
    number = _MESSAGE_NUMBER.match(str(headers.get("Message-ID") or ""))
    prefix = f"{int(number.group(1)):06d}" if number else f"x{fallback:06d}"
    return f"{prefix}-{_safe(str(key or 'message'))}.eml", (str(key) if key else None)


def file_name(outbox_id: int, key: str) -> str:
    """Where the message of outbox row `outbox_id` is kept (as `eml_name` names it)."""
    return f"{outbox_id:06d}-{_safe(key)}.eml"


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]+", "_", key).strip("._")[:120] or "message"


class _Keeper:
    """aiosmtpd handler: write DATA to disk, then answer 250."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.caught: list[Caught] = []
        self.repeats = 0  # messages sent again that were already kept
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        raw = envelope.original_content or envelope.content
        with self._lock:
            name, key = eml_name(raw, len(self.caught) + 1)
            path = self.folder / name
            if path.exists():
                # The same outbox row again (its Message-ID names the file): the
                # sender gave up waiting for our answer to the first copy (on a
                # loaded machine) and tried again. A mail server keeps one copy
                # of a message by its Message-ID, and so do we: DIR/mail holds
                # one file per sent row.
                self.repeats += 1
                return "250 OK: already kept"
            path.write_bytes(raw)
            self.caught.append(Caught(path, key, tuple(envelope.rcpt_tos)))
        return "250 OK: kept"


class MailCatcher:
    """`with MailCatcher(folder) as catcher:` — listening on `catcher.host:catcher.port`."""

    def __init__(self, folder: Path, host: str = "127.0.0.1"):
        self.folder = Path(folder)
        self.host = host
        self.port = 0
        self._keeper = _Keeper(self.folder)
        self._controller: Controller | None = None

    @property
    def caught(self) -> list[Caught]:
        return list(self._keeper.caught)

    @property
    def repeats(self) -> int:
        """Messages received again after they were kept (not saved twice)."""
        return self._keeper.repeats

    def start(self) -> "MailCatcher":
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port(self.host)
        # hostname given explicitly: aiosmtpd would otherwise bind ::1 only.
        self._controller = Controller(
            self._keeper,
            hostname=self.host,
            port=self.port,
            server_hostname="mail.casework-demo.localhost",
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "MailCatcher":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
