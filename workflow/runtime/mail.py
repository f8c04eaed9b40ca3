"""The outbox as people meet it: delivery runs, the dead-letter queue, resending."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import Engine, select

from notifications import outbox
from notifications.transports import sender_from_env, transport_from_env
from states import dates
from states.words import humanise
from workflow import clock
from workflow.services import directory
from workflow.services.access import may_act
from workflow.storage.db import reading
from workflow.errors import Malformed, NotFound, RuleViolation, SetupError
from workflow.logs import event

log = logging.getLogger("casework.mail")

MAIL_DOMAIN = "casework.localhost"


def worker_name() -> str:
    """Unique to this process, so an expired claim can be told apart from a live one."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_seconds_from_env(environ=os.environ) -> float:
    """CASEWORK_CLAIM_SECONDS: how long a worker's claim on a batch lasts unrenewed (default 60).

    A live worker renews it every quarter of that; it matters when a worker
    dies, as the wait before another worker sends what it held.
    """
    raw = environ.get("CASEWORK_CLAIM_SECONDS", "").strip() or "60"
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not 1 <= value <= 3600:
        raise ValueError(
            f"CASEWORK_CLAIM_SECONDS must be a number of seconds from 1 to 3600, not {raw!r}"
        )
    return value


def deliver(
    engine: Engine,
    *,
    transport: Any = None,
    sender: str | None = None,
    owner: str | None = None,
    refuse_when_stopped: bool = True,
) -> outbox.DeliveryReport:
    """Send what is due now through the configured transport (CASEWORK_MAIL, CASEWORK_SMTP_*).

    A transport that has stopped (Notify refused the API key) raises SetupError
    saying why, once the outcomes are recorded, unless `refuse_when_stopped`
    is False (the scheduler: the transport has logged it once already).
    """
    try:
        transport = transport or transport_from_env(os.environ)
        sender = sender or sender_from_env(os.environ)
        claim_seconds = claim_seconds_from_env(os.environ)
    except ValueError as err:
        raise Malformed("Mail settings", [str(err)], plural=True) from None
    from workflow.runtime.metrics import MESSAGES  # prometheus_client: only delivery counts

    started = time.perf_counter()
    report = outbox.deliver(
        engine,
        transport,
        now=clock.now,
        owner=owner or worker_name(),
        sender=sender,
        domain=MAIL_DOMAIN,
        claim_seconds=claim_seconds,
    )
    for outcome in ("sent", "retrying", "dead"):
        MESSAGES.labels(outcome).inc(getattr(report, outcome))
    if report.sent or report.retrying or report.dead:  # an idle minute is not an event
        event(
            log,
            "delivery.done",
            f"delivery: {report}",
            seconds=time.perf_counter() - started,
            person="system",
            sent=report.sent,
            retrying=report.retrying,
            dead=report.dead,
        )
    stopped = getattr(transport, "stopped", None)
    if stopped and refuse_when_stopped:
        raise SetupError(f"{stopped} ({report}).")
    return report


def poll_receipts(engine: Engine, *, transport: Any = None) -> Any:
    """Ask the mail service what became of the messages sent (GOV.UK Notify's receipts) and record it."""
    from notifications import receipts

    try:
        transport = transport or transport_from_env(os.environ)
    except ValueError as err:
        raise Malformed("Mail settings", [str(err)], plural=True) from None
    statuses = getattr(transport, "statuses", None)
    if statuses is None:
        raise SetupError("Delivery receipts come from GOV.UK Notify: set CASEWORK_MAIL=notify.")
    report = receipts.poll(engine, statuses, now=clock.now)
    if transport.stopped:
        raise SetupError(f"{transport.stopped}.")
    return report


def retry(
    engine: Engine, actor_name: str, *, ids: Sequence[int] = (), all_dead: bool = False
) -> int:
    """A caseworker makes dead (or waiting) messages due now, tries reset to 0."""
    with engine.begin() as conn:
        actor = directory.actor(conn, actor_name)
        may_act(actor, "outbox_retry", None, "resend messages")
        for id in ids:
            row = outbox.get_message(conn, id)
            if row is None:
                raise NotFound(f"There is no message {id} in the outbox.")
            if row["state"] == "sent":
                # Said, not skipped: "0 messages queued again" left the caseworker guessing.
                sent = row.get("sent_at")
                when = f", {dates.moment(datetime.fromisoformat(sent))}," if sent else ""
                raise RuleViolation(
                    f"Message {id} was not sent again: it was sent already{when} and a resend "
                    "would carry the same Message-ID, which mail systems may drop as a "
                    "duplicate."
                )
        return outbox.retry(conn, ids=ids, all_dead=all_dead, now=clock.now())


def list_messages(engine: Engine, state: str | None = None) -> list[dict]:
    if state is not None and state not in outbox.STATES:
        raise Malformed.unknown("message state", state, outbox.STATES, humanise)
    with reading(engine) as conn:
        return outbox.list_messages(conn, state)


def page_of_messages(engine: Engine, state: str | None, after: int, limit: int) -> list[dict]:
    """Up to `limit` + 1 messages after id `after`, oldest first (the API's pages: one more
    than asked tells it a next page exists)."""
    with reading(engine) as conn:
        q = select(outbox.outbox.c.id).where(outbox.outbox.c.id > after)
        if state:
            q = q.where(outbox.outbox.c.state == state)
        ids = conn.execute(q.order_by(outbox.outbox.c.id).limit(limit + 1)).scalars().all()
        messages = [outbox.get_message(conn, i) for i in ids]
    return [m for m in messages if m is not None]


def show(engine: Engine, id: int) -> tuple[dict, str]:
    """The row, and the message as it will be (or was) sent: headers, then the text part."""
    from email.utils import parseaddr

    with reading(engine) as conn:
        row = outbox.get_message(conn, id)
    if row is None:
        raise NotFound(f"There is no message {id} in the outbox.")
    try:
        sender = sender_from_env(os.environ)
    except ValueError as err:
        raise Malformed("Mail settings", [str(err)], plural=True) from None
    msg = outbox.as_email(row, sender=sender, domain=MAIL_DOMAIN)
    headers = "".join(
        f"{k}: {v}\n"
        for k, v in msg.items()
        if k.lower() not in ("content-type", "mime-version", "content-transfer-encoding")
    )
    # Not headers of the message: where GOV.UK Notify has it, one line a recipient.
    notified = row.get("notify_ids") or []
    headers += "".join(f"Notify id: {n['id']} (to {n['to']}, {n['status']})\n" for n in notified)
    if notified:  # a try that failed part-way: the retry goes to those Notify has not accepted
        had = {n["to"].lower() for n in notified}
        bare = [parseaddr(value)[1] for value in row["to"] + row["cc"]]
        headers += "".join(
            f"Notify id: none yet (to {address}, not accepted)\n"
            for address in bare
            if address.lower() not in had
        )
    return row, headers + "\n" + row["body_text"]
