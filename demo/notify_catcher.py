"""The demo's mail through GOV.UK Notify: the Notify transport, the stand-in on loopback.

`casework demo --mail notify` sends every message as a funder told to use
Notify would: one notification a recipient through `NotifyTransport` (its
JWT, its rate limit, the outbox key as Notify's `reference`), to the stand-in
of `demo.notify_stub`, then asks for the delivery receipts as `serve` does.
Afterwards each message is kept under DIR/mail as an .eml file named as the
SMTP catcher names it, so the report and the folder read the same either way.
"""

from __future__ import annotations

from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine, select

from demo.mailcatch import Caught, file_name
from demo.notify_stub import Notification, NotifyStub
from notifications.notify import NotifyTransport
from notifications.notify_templates import NotifyTemplates


class NotifyCatcher:
    """`with NotifyCatcher(folder) as catcher:` — Notify's stand-in, listening on loopback."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.stub = NotifyStub()
        self._kept: list[Caught] = []

    def transport(self) -> NotifyTransport:
        return NotifyTransport(
            self.stub.api_key,
            NotifyTemplates(self.stub.generic_template),
            base_url=self.stub.base_url,
        )

    @property
    def caught(self) -> list[Caught]:
        return list(self._kept)

    @property
    def repeats(self) -> int:
        """Notifications sent again to an address that already had that message."""
        seen: set[tuple[str | None, str]] = set()
        again = 0
        for n in self.stub.notifications:
            one = (n.reference, n.email_address.lower())
            again += one in seen
            seen.add(one)
        return again

    def keep(self, engine: Engine, sender: str) -> None:
        """Write each message Notify received as an .eml under the folder (one a message,
        every recipient it reached), named after its outbox row as the SMTP catcher does."""
        from notifications.outbox_table import outbox

        by_reference: dict[str | None, list[Notification]] = defaultdict(list)
        for n in self.stub.notifications:
            by_reference[n.reference].append(n)
        with engine.connect() as conn:
            ids = dict(conn.execute(select(outbox.c.key, outbox.c.id)).all())
        self.folder.mkdir(parents=True, exist_ok=True)
        for reference, sent in by_reference.items():
            path = self.folder / file_name(ids.get(reference, 0), reference or "message")
            recipients = tuple(dict.fromkeys(n.email_address for n in sent))
            path.write_bytes(_as_email(sent[0], recipients, sender).as_bytes())
            self._kept.append(Caught(path, reference, recipients))

    def __enter__(self) -> "NotifyCatcher":
        self.stub.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stub.stop()


def _as_email(n: Notification, recipients: tuple[str, ...], sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = n.subject
    msg["X-Casework-Key"] = n.reference or ""
    msg["X-Notify-Id"] = n.id
    msg.set_content(n.body)
    return msg
