"""Delivery receipts: what became of a message after the mail service took it.

GOV.UK Notify reports each notification's status (its API's "get the status
of one message", or a callback it posts): `created` and `sending` while on
the way, then one final status:

- `delivered`: the recipient's mail server took it;
- `permanent-failure`: the address does not exist or refuses mail for good;
  the row becomes a dead letter saying which address to correct (the
  caseworker's inbox and `outbox list --state dead` show it);
- `temporary-failure` (a full mailbox, say) and `technical-failure` (Notify's
  own trouble): the row is queued again, after the usual backoff for the
  tries it has made, and dead once it has made them all.

A row (one message, one notification a recipient) has its receipts in
`notify_ids`; `receipt` is "pending" until every one is final. Recording is
one short transaction a receipt, and ignores a receipt for a notification the
row no longer holds (it was sent again since), so polling and callbacks can
both run, in any order, any number of times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine

from notifications.outbox import _transaction, backoff_seconds
from notifications.outbox_table import outbox

_T = outbox
_C = _T.c

FINAL = ("delivered", "permanent-failure", "temporary-failure", "technical-failure")
RETRIED = ("temporary-failure", "technical-failure")
# What a caseworker reads in the dead letter, after Notify's own status.
_WHY = {
    "permanent-failure": "the address does not exist or refuses mail; correct it, then send again",
    "temporary-failure": "the mailbox could not take it (full, or away) for all of its tries",
    "technical-failure": "Notify could not send it, for all of its tries",
}


@dataclass
class ReceiptReport:
    delivered: int = 0
    dead: int = 0
    retrying: int = 0
    waiting: int = 0

    def __str__(self) -> str:
        return (
            f"delivered {self.delivered}, dead {self.dead}, retrying {self.retrying}, "
            f"waiting {self.waiting}"
        )


def record_receipt(
    bind: Engine | Connection,
    *,
    reference: str,
    notification_id: str,
    status: str,
    now: datetime,
    max_attempts: int = 6,
    rng: random.Random | None = None,
) -> str | None:
    """Record one notification's status on the row keyed `reference`.

    Returns what became of the row ("delivered", "dead", "retrying",
    "waiting"), or None when no sent row holds that notification (unknown,
    or sent again since: an old receipt changes nothing).
    """
    with _transaction(bind) as conn:
        row = conn.execute(
            select(_C.id, _C.state, _C.notify_ids, _C.attempts)
            .where(_C.key == reference)
            .with_for_update()
        ).first()
        if row is None or not row.notify_ids:
            return None
        ids = [dict(n) for n in row.notify_ids]
        mine = [n for n in ids if n["id"] == notification_id]
        if not mine:
            return None
        mine[0]["status"] = status
        if row.state != "sent":
            # Already requeued or dead by another of its receipts: keep the status only.
            conn.execute(update(_T).where(_C.id == row.id).values(notify_ids=ids))
            return None
        return _settle(
            conn, row, ids, now=now, max_attempts=max_attempts, rng=rng or random.Random()
        )


def _settle(
    conn: Connection,
    row: Any,
    ids: list[dict[str, Any]],
    *,
    now: datetime,
    max_attempts: int,
    rng: random.Random,
) -> str:
    """The row's state from all its notifications' statuses."""
    failed = [n for n in ids if n["status"] == "permanent-failure"] or [
        n for n in ids if n["status"] in RETRIED
    ]
    if failed:
        status = failed[0]["status"]
        addresses = ", ".join(n["to"] for n in failed)
        give_up = status == "permanent-failure" or row.attempts >= max_attempts
        why = f"Notify {status} for {addresses}: {_WHY[status]}"
        conn.execute(
            update(_T)
            .where(_C.id == row.id)
            .values(
                notify_ids=ids,
                receipt=status,
                state="dead" if give_up else "queued",
                last_error=why if give_up else f"Notify {status} for {addresses}",
                next_attempt_at=now
                if give_up
                else now + timedelta(seconds=backoff_seconds(row.attempts, rng)),
            )
        )
        return "dead" if give_up else "retrying"
    done = all(n["status"] == "delivered" for n in ids)
    conn.execute(
        update(_T)
        .where(_C.id == row.id)
        .values(notify_ids=ids, receipt="delivered" if done else "pending")
    )
    return "delivered" if done else "waiting"


@dataclass(frozen=True)
class Awaited:
    reference: str
    notifications: list[dict[str, Any]]


def awaiting(bind: Engine | Connection, *, limit: int = 200) -> list[Awaited]:
    """Sent rows whose receipts are not all in, oldest first."""
    with _transaction(bind) as conn:
        rows = conn.execute(
            select(_C.key, _C.notify_ids)
            .where(_C.receipt == "pending", _C.state == "sent")
            .order_by(_C.sent_at, _C.id)
            .limit(limit)
        ).all()
    return [Awaited(row.key, [dict(n) for n in row.notify_ids or []]) for row in rows]


def poll(
    engine: Engine,
    statuses: Callable[[Sequence[str]], Mapping[str, str | None]],
    *,
    now: Callable[[], datetime],
    limit: int = 200,
    max_attempts: int = 6,
    rng: random.Random | None = None,
) -> ReceiptReport:
    """Ask for the status of every notification still on its way, and record what changed.

    `statuses(ids)` answers each id's status (None when it could not be had:
    that receipt is asked for again next time).
    """
    report = ReceiptReport()
    rows = awaiting(engine, limit=limit)
    ids = [n["id"] for row in rows for n in row.notifications if n["status"] not in FINAL]
    found = statuses(ids) if ids else {}
    rng = rng or random.Random()
    for row in rows:
        outcome = "waiting"
        for n in row.notifications:
            status = found.get(n["id"])
            if status and status != n["status"]:
                outcome = (
                    record_receipt(
                        engine,
                        reference=row.reference,
                        notification_id=n["id"],
                        status=status,
                        now=now(),
                        max_attempts=max_attempts,
                        rng=rng,
                    )
                    or outcome
                )
                if outcome in ("dead", "retrying"):
                    break  # the row is settled; the rest can wait
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report
