"""The outbox: messages promised by a committed change, delivered later.

Rows are written in the same transaction as the state change that caused them
(the caller passes its connection), so a message is never sent for a change
that rolled back, and never lost for one that committed.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, Callable, Iterator, Mapping, Sequence

from sqlalchemy import and_, bindparam, case, func, or_, select, update
from sqlalchemy import BindParameter, ColumnElement
from sqlalchemy.engine import Connection, Engine

from notifications.kinds import KINDS
from notifications.notify_templates import personalisation_for
from notifications.message import build_message, check_header, message_id_for, parse_address
from notifications.render import Rendered
from notifications.outbox_table import outbox
from notifications.transports import PermFailure, Sent, SendResult, TempFailure, Transport


# The table is declared in outbox_table (the tables import it without what sends mail).

# --- functions over the table (SQLAlchemy Core; the caller owns transactions) ---

_T = outbox
_C = _T.c
STATES = ("queued", "sent", "dead")
# Backoff after a temporary failure: about a minute, doubling with each try.
FIRST_RETRY_SECONDS = 60
JITTER = 0.2


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    dead: int = 0

    def __add__(self, other: "DeliveryReport") -> "DeliveryReport":
        return DeliveryReport(
            self.sent + other.sent, self.retrying + other.retrying, self.dead + other.dead
        )

    def __str__(self) -> str:
        return f"sent {self.sent}, retrying {self.retrying}, dead {self.dead}"


@dataclass(frozen=True)
class Claimed:
    """One row taken by a worker: what it needs to build and send the message."""

    id: int
    key: str
    to: list[str]
    cc: list[str]
    subject: str
    text: str
    html: str
    attempts: int
    kind: str = ""
    # What a kind's own Notify template is filled in with (None: queued before it was kept).
    personalisation: Mapping[str, str] | None = None
    # The recipients Notify has accepted already, `[{"id", "to", "status"}]`: a retry skips them.
    notify_ids: Sequence[Mapping[str, str]] = ()


_ENQUEUE = _T.insert()  # built once: enqueue runs inside every change that sends mail


def enqueue(
    conn: Connection,
    *,
    key: str,
    kind: str,
    to: Sequence[str],
    cc: Sequence[str],
    rendered: Rendered,
    now: datetime,
    case_ref: str | None = None,
    checkpoint_ref: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> int:
    """Queue one message in the caller's transaction (never commits); returns its id.

    A `key` already queued raises the database's IntegrityError (see `exists`).
    """
    row = queued_row(
        key=key,
        kind=kind,
        to=to,
        cc=cc,
        rendered=rendered,
        now=now,
        case_ref=case_ref,
        checkpoint_ref=checkpoint_ref,
        context=context,
    )
    new = conn.execute(_ENQUEUE, row).inserted_primary_key
    assert new is not None  # the key of the one row an INSERT wrote
    return int(new[0])


# The columns of a newly queued row, as `queued_row` gives them.
QUEUED_COLUMNS = (
    "key",
    "kind",
    "case_ref",
    "checkpoint_ref",
    "state",
    "to_addrs",
    "cc_addrs",
    "subject",
    "body_text",
    "body_html",
    "attempts",
    "next_attempt_at",
    "created_at",
    "personalisation",
)


def queued_row(
    *,
    key: str,
    kind: str,
    to: Sequence[str],
    cc: Sequence[str],
    rendered: Rendered,
    now: datetime,
    case_ref: str | None = None,
    checkpoint_ref: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The outbox row of a new message, checked: the values of QUEUED_COLUMNS.

    Addresses and subject are checked now, so a bad one refuses the change
    that wanted to send it instead of dying later in the outbox. `context`,
    what `rendered` was rendered from, gives the values a kind's own GOV.UK
    Notify template is filled in with (notify_templates.personalisation_for);
    without it the row can go only by the generic template.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}; known kinds: {', '.join(KINDS)}")
    if isinstance(to, str) or isinstance(cc, str):
        raise TypeError("to and cc are lists of addresses, not single strings")
    if not to:
        raise ValueError(f"{key}: a message needs at least one To address")
    for value in to:
        parse_address("To", value)
    for value in cc:
        parse_address("Cc", value)
    check_header("Subject", rendered.subject)
    return {
        "key": key,
        "kind": kind,
        "case_ref": case_ref,
        "checkpoint_ref": checkpoint_ref,
        "state": "queued",
        "to_addrs": list(to),
        "cc_addrs": list(cc),
        "subject": rendered.subject,
        "body_text": rendered.text,
        "body_html": rendered.html,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "personalisation": None if context is None else personalisation_for(kind, context),
    }


def exists(conn: Connection, key: str) -> bool:
    return conn.execute(select(_C.id).where(_C.key == key).limit(1)).first() is not None


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """A short transaction of our own on an Engine; the caller's on a Connection."""
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            yield conn
    else:
        yield bind


def is_due(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    """Queued and due at `now` (a datetime or a bind parameter).

    A row never tried is due at once, whatever its time says: mail queued by
    `sweep --now` in the future must go with the next delivery, not wait for
    real time to catch up. Only a retry's backoff is a time to wait for.
    """
    return and_(_C.state == "queued", or_(_C.attempts == 0, _C.next_attempt_at <= now))


_CLAIM_COLUMNS = (
    _C.id,
    _C.key,
    _C.to_addrs,
    _C.cc_addrs,
    _C.subject,
    _C.body_text,
    _C.body_html,
    _C.attempts,
    _C.kind,
    _C.personalisation,
    _C.notify_ids,
)


def claim_batch(
    bind: Engine | Connection,
    *,
    owner: str,
    now: datetime,
    batch: int = 100,
    claim_seconds: float = 60,
) -> list[Claimed]:
    """Take up to `batch` due rows for `owner` until now + claim_seconds.

    Due (`is_due`): queued, never tried or its retry time reached; and
    unclaimed, or claimed by a worker whose claim has expired (it died).
    PostgreSQL workers skip each other's locked rows; SQLite has no row locks
    (the clause is dropped) and relies on BEGIN IMMEDIATE serialising writers.
    """
    due = (
        select(*_CLAIM_COLUMNS)
        .where(is_due(now), or_(_C.claimed_by.is_(None), _C.claim_expires <= now))
        .order_by(_C.next_attempt_at, _C.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    with _transaction(bind) as conn:
        rows = conn.execute(due).all()
        if rows:
            conn.execute(
                update(_T)
                .where(_C.id.in_([row.id for row in rows]))
                .values(claimed_by=owner, claim_expires=now + timedelta(seconds=claim_seconds))
            )
    return [
        Claimed(
            row.id,
            row.key,
            list(row.to_addrs),
            list(row.cc_addrs),
            row.subject,
            row.body_text,
            row.body_html,
            row.attempts,
            row.kind,
            row.personalisation,
            tuple(row.notify_ids or ()),
        )
        for row in rows
    ]


def backoff_seconds(tries: int, rng: random.Random) -> float:
    """Wait before the next try after `tries` failed ones: ~60 s, doubling, ±20%."""
    return float(FIRST_RETRY_SECONDS * 2 ** (tries - 1) * rng.uniform(1 - JITTER, 1 + JITTER))


# Marking is guarded by the claim: a worker whose claim expired and was taken
# over changes nothing, so it cannot overwrite the new owner's outcome.
_OURS = and_(_C.id == bindparam("row_id"), _C.claimed_by == bindparam("owner"))
_MARK_SENT = (
    update(_T)
    .where(_OURS)
    .values(
        state="sent",
        sent_at=bindparam("at"),
        smtp_response=bindparam("answer"),
        attempts=bindparam("tries"),
        claimed_by=None,
        claim_expires=None,
        notify_ids=bindparam("notify_ids"),
        receipt=bindparam("receipt"),
    )
)
_MARK_FAILED = (
    update(_T)
    .where(_OURS)
    .values(
        state=bindparam("new_state"),
        attempts=bindparam("tries"),
        last_error=bindparam("answer"),
        next_attempt_at=bindparam("next_at"),
        claimed_by=None,
        claim_expires=None,
        notify_ids=bindparam("notify_ids"),
    )
)


def _receipts(row: Claimed, result: SendResult) -> list[dict[str, str]] | None:
    """The row's notifications after `result`: those of this try, and those an earlier try
    had (Notify accepted them; this try sent to the others), one a recipient."""
    new = [{"id": id, "to": to, "status": "created"} for id, to in result.receipts]
    again = {n["to"].lower() for n in new}
    kept = [dict(n) for n in row.notify_ids if n["to"].lower() not in again]
    return kept + new or None


def record_outcomes(
    bind: Engine | Connection,
    *,
    owner: str,
    outcomes: Sequence[tuple[Claimed, SendResult]],
    now: datetime,
    max_attempts: int = 6,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Write what happened to each claimed row, in one short transaction.

    `attempts` counts tries made. A temporary failure is retried after the
    backoff until `max_attempts` tries, then the row is dead; a permanent
    failure is dead at once. Rows no longer claimed by `owner` are left alone
    and not counted.
    """
    rng = rng or random.Random()
    sent: list[dict[str, Any]] = []
    retrying: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    for row, result in outcomes:
        tries = row.attempts + 1
        ids = _receipts(row, result)
        if isinstance(result, Sent):
            sent.append(
                {
                    "row_id": row.id,
                    "owner": owner,
                    "at": now,
                    "answer": result.response,
                    "tries": tries,
                    "notify_ids": ids,
                    "receipt": "pending" if ids else None,
                }
            )
            continue
        give_up = isinstance(result, PermFailure) or tries >= max_attempts
        failed: dict[str, Any] = {
            "row_id": row.id,
            "owner": owner,
            "tries": tries,
            "answer": result.reason,
            "notify_ids": ids,
            "new_state": "dead" if give_up else "queued",
            "next_at": now if give_up else now + timedelta(seconds=backoff_seconds(tries, rng)),
        }
        (dead if give_up else retrying).append(failed)
    counted: dict[str, int] = {}
    with _transaction(bind) as conn:
        for name, statement, params in (
            ("sent", _MARK_SENT, sent),
            ("retrying", _MARK_FAILED, retrying),
            ("dead", _MARK_FAILED, dead),
        ):
            counted[name] = conn.execute(statement, params).rowcount if params else 0
    return DeliveryReport(**counted)


def _build(row: Claimed, *, sender: str, domain: str, date: datetime) -> EmailMessage:
    return build_message(
        sender=sender,
        to=row.to,
        cc=row.cc,
        subject=row.subject,
        text=row.text,
        html=row.html,
        message_id=message_id_for(row.id, row.key, domain),
        date=date,
        key=row.key,
        kind=row.kind or None,
        personalisation=row.personalisation,
        accepted=row.notify_ids,
    )


def deliver(
    engine: Engine,
    transport: Transport,
    *,
    now: Callable[[], datetime],
    owner: str,
    sender: str,
    domain: str = "casework.localhost",
    batch: int = 100,
    max_attempts: int = 6,
    claim_seconds: float = 60,
    rng: random.Random | None = None,
    loop_until_empty: bool = True,
) -> DeliveryReport:
    """Claim due rows, send them (outside any transaction), record each outcome as it comes.

    Each message's outcome is committed as soon as the server answers it,
    before its connection starts another (the transport's rule), so a worker
    killed at any moment has sent at most one message per connection that
    it did not record: that one is sent again, with the same Message-ID,
    once its claim expires. None is ever lost. The next batch is claimed only
    when this one is finished, so no row waits claimed behind another.
    `owner` must be unique to this worker process. Synchronous: it runs its
    own event loop, so call it from a thread, not from inside a running loop.
    """
    parse_address("From", sender)  # a bad sender is a setting to fix: refuse before claiming
    if not claim_seconds > 0:
        raise ValueError(f"claim_seconds must be more than 0, not {claim_seconds}")
    rng = rng or random.Random()
    return asyncio.run(
        _deliver(
            engine,
            transport,
            now=now,
            owner=owner,
            sender=sender,
            domain=domain,
            batch=batch,
            max_attempts=max_attempts,
            claim_seconds=claim_seconds,
            rng=rng,
            loop_until_empty=loop_until_empty,
        )
    )


# How many rows a worker claims at a time. It starts small and settles on
# about BATCH_SECONDS' worth at the rate the server answers: a fast server
# gets batches of `batch` (100) and a commit of claims every hundred
# messages; a slow one (a second a message) gets a few rows a claim, so the
# other workers share the queue instead of waiting behind one worker's hoard.
FIRST_CLAIM = 4
BATCH_SECONDS = 2.0


def _next_size(taken: int, seconds: float, batch: int) -> int:
    rate = taken / max(seconds, 1e-3)
    return max(min(FIRST_CLAIM, batch), min(batch, round(rate * BATCH_SECONDS)))


async def _deliver(
    engine: Engine,
    transport: Transport,
    *,
    now: Callable[[], datetime],
    owner: str,
    sender: str,
    domain: str,
    batch: int,
    max_attempts: int,
    claim_seconds: float,
    rng: random.Random,
    loop_until_empty: bool,
) -> DeliveryReport:
    report = DeliveryReport()
    size = min(FIRST_CLAIM, batch)
    while True:
        claimed = claim_batch(
            engine, owner=owner, now=now(), batch=size, claim_seconds=claim_seconds
        )
        if not claimed:
            return report
        run = _Batch(
            engine,
            owner=owner,
            now=now,
            max_attempts=max_attempts,
            claim_seconds=claim_seconds,
            rng=rng,
        )
        started = time.monotonic()
        await run.send(transport, claimed, sender=sender, domain=domain)
        size = _next_size(len(claimed), time.monotonic() - started, batch)
        report += run.report
        if run.stalled:
            # Nothing got through: the server is down or refusing. Leave the
            # rest due for the next run rather than spend their tries now.
            return report
        if not loop_until_empty:
            return report


class ClaimLost(Exception):
    """Our claim on the batch could not be kept: start no more of its messages."""


# Claims, and why one can't run out while its message is being sent.
#
# A batch is claimed for `claim_seconds` (60 s by default). While it is being
# sent, a task renews the claim of every row not yet recorded, every quarter
# of that (15 s), to now + claim_seconds. A single message may take far longer
# than a claim (two SMTP connects and two sends, each up to twice
# CASEWORK_SMTP_TIMEOUT: 4 x 2 x 30 s = 240 s), but renewal does not wait
# for it: it runs beside the sending. So a claim lapses only if renewing
# itself fails for three quarters of a claim in a row (45 s; longer than
# SQLite's 30 s wait for its write lock). From that moment the batch starts
# no new message (`_Batch.record` raises ClaimLost once the last good renewal
# is more than 3/4 of a claim old), and recording stays guarded by the claim,
# so a worker that lost a row can never overwrite its new owner's outcome.
RENEW_FRACTION = 0.25
TRUST_FRACTION = 0.75


class _Batch:
    """One claimed batch on its way out: its outcomes, its claim kept alive."""

    def __init__(
        self,
        engine: Engine,
        *,
        owner: str,
        now: Callable[[], datetime],
        max_attempts: int,
        claim_seconds: float,
        rng: random.Random,
    ):
        self.engine, self.owner, self.now = engine, owner, now
        self.max_attempts, self.claim_seconds, self.rng = max_attempts, claim_seconds, rng
        self.report = DeliveryReport()
        self.pending: dict[int, Claimed] = {}  # claimed, not yet recorded
        self.tried: list[SendResult] = []
        self.untried = 0
        self.renewed_at = time.monotonic()
        self.lost: str | None = None
        self._counting = threading.Lock()

    @property
    def stalled(self) -> bool:
        got_through = any(not isinstance(result, TempFailure) for result in self.tried)
        return bool(self.lost) or self.untried > 0 or (bool(self.tried) and not got_through)

    async def send(
        self, transport: Transport, claimed: list[Claimed], *, sender: str, domain: str
    ) -> None:
        date = self.now()
        rows: list[Claimed] = []
        messages: list[EmailMessage] = []
        self.pending = {row.id: row for row in claimed}
        for row in claimed:
            try:
                messages.append(_build(row, sender=sender, domain=domain, date=date))
                rows.append(row)
            except ValueError as exc:
                # Checked at enqueue, so only a row changed since can land here.
                self._record(row, PermFailure(f"not sendable as written: {exc}"))

        async def record(index: int, result: SendResult) -> None:
            await asyncio.to_thread(self._record, rows[index], result)
            self._check_claim()

        renewing = asyncio.create_task(self._keep_claimed())
        try:
            await transport.send(messages, record)
        except ClaimLost as lost:
            self.lost = str(lost)
        finally:
            renewing.cancel()
            try:
                await renewing
            except (asyncio.CancelledError, ClaimLost):
                pass
            # Rows never tried go back as they were: their tries are not spent.
            self.untried = len(self.pending)
            if self.pending:
                try:
                    _release(self.engine, self.owner, list(self.pending))
                except Exception:
                    if self.lost is None:
                        raise  # the error that stopped the batch is already on its way

    def _record(self, row: Claimed, result: SendResult) -> None:
        # Out of `pending` first: a renewal running beside us must not take
        # the row's leaving our claim for another worker's taking it.
        self.pending.pop(row.id, None)
        done = record_outcomes(
            self.engine,
            owner=self.owner,
            outcomes=[(row, result)],
            now=self.now(),
            max_attempts=self.max_attempts,
            rng=self.rng,
        )
        with self._counting:  # connections record from threads of their own
            self.report += done
            self.tried.append(result)

    def _check_claim(self) -> None:
        if self.lost:
            raise ClaimLost(self.lost)
        if time.monotonic() - self.renewed_at > self.claim_seconds * TRUST_FRACTION:
            raise ClaimLost("the claim could not be renewed in time")

    async def _keep_claimed(self) -> None:
        while True:
            await asyncio.sleep(self.claim_seconds * RENEW_FRACTION)
            ids = list(self.pending)
            if not ids:
                continue
            try:
                kept = await asyncio.to_thread(
                    _renew,
                    self.engine,
                    self.owner,
                    ids,
                    self.now() + timedelta(seconds=self.claim_seconds),
                )
            except Exception:  # the database is busy or gone: the next renewal tries again
                continue
            gone = set(ids) - kept
            if gone & set(self.pending):  # not recorded by us, and no longer ours
                self.lost = (
                    f"{len(gone & set(self.pending))} claimed rows were taken by another worker"
                )
                return
            self.renewed_at = time.monotonic()


def _renew(engine: Engine, owner: str, ids: list[int], until: datetime) -> set[int]:
    """Extend our claim on `ids`; returns the ids that were still ours."""
    with engine.begin() as conn:
        conn.execute(
            update(_T).where(_C.id.in_(ids), _C.claimed_by == owner).values(claim_expires=until)
        )
        return set(
            conn.execute(select(_C.id).where(_C.id.in_(ids), _C.claimed_by == owner)).scalars()
        )


def _release(engine: Engine, owner: str, ids: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(_T)
            .where(_C.id.in_(ids), _C.claimed_by == owner)
            .values(claimed_by=None, claim_expires=None)
        )


def retry(
    conn: Connection, *, ids: Sequence[int] = (), all_dead: bool = False, now: datetime
) -> int:
    """Make dead (or waiting) rows due at once with their tries reset; returns how many.

    Sent rows are left alone: a resend would carry the same Message-ID, which
    receiving systems may drop as a duplicate; queue a new message instead.
    Rows a live worker holds are left alone too, so retry can't cause a
    double send.
    """
    if not ids and not all_dead:
        return 0
    which = (
        _C.state == "dead"
        if all_dead
        else and_(_C.id.in_(list(ids)), _C.state.in_(("dead", "queued")))
    )
    unheld = or_(_C.claimed_by.is_(None), _C.claim_expires <= now)
    result = conn.execute(
        update(_T)
        .where(which, unheld)
        .values(
            state="queued", attempts=0, next_attempt_at=now, claimed_by=None, claim_expires=None
        )
    )
    return result.rowcount


_LIST_COLUMNS = (
    _C.id,
    _C.kind,
    _C.state,
    _C.to_addrs,
    _C.cc_addrs,
    _C.subject,
    _C.key,
    _C.attempts,
    _C.last_error,
    _C.case_ref,
    _C.checkpoint_ref,
    _C.created_at,
    _C.next_attempt_at,
    _C.sent_at,
    _C.smtp_response,
    _C.notify_ids,
    _C.receipt,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _listed(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "state": row.state,
        "to": list(row.to_addrs),
        "cc": list(row.cc_addrs),
        "subject": row.subject,
        "key": row.key,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "case": row.case_ref,
        "checkpoint": row.checkpoint_ref,
        "created_at": _iso(row.created_at),
        "next_attempt_at": _iso(row.next_attempt_at),
        "sent_at": _iso(row.sent_at),
        "smtp_response": row.smtp_response,
        "notify_ids": list(row.notify_ids) if row.notify_ids else [],
        "receipt": row.receipt,
    }


def list_messages(
    conn: Connection, state: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows as `outbox list --json` shows them, oldest first; times are ISO 8601 with offset."""
    if state is not None and state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    query = select(*_LIST_COLUMNS).order_by(_C.id)
    if state is not None:
        query = query.where(_C.state == state)
    if limit is not None:
        query = query.limit(limit)
    return [_listed(row) for row in conn.execute(query)]


def get_message(conn: Connection, id: int) -> dict[str, Any] | None:
    """One row as listed, plus its text and HTML parts and its claim."""
    row = conn.execute(
        select(*_LIST_COLUMNS, _C.body_text, _C.body_html, _C.claimed_by, _C.claim_expires).where(
            _C.id == id
        )
    ).first()
    if row is None:
        return None
    return {
        **_listed(row),
        "body_text": row.body_text,
        "body_html": row.body_html,
        "claimed_by": row.claimed_by,
        "claim_expires": _iso(row.claim_expires),
    }


def as_email(row: Mapping[str, Any], *, sender: str, domain: str) -> EmailMessage:
    """The message as it was sent (Date: when), or will be (Date: when queued), for `outbox show`."""
    date = datetime.fromisoformat(row["sent_at"] or row["created_at"])
    claimed = Claimed(
        row["id"],
        row["key"],
        row["to"],
        row["cc"],
        row["subject"],
        row["body_text"],
        row["body_html"],
        row["attempts"],
        row["kind"],
    )
    return _build(claimed, sender=sender, domain=domain, date=date)


def counts(conn: Connection, now: datetime) -> dict[str, Any]:
    """Outbox depth for `casework status`.

    `queued` counts every row waiting to be sent; `retrying` is the part of
    it that has failed at least once; `oldest_queued_age_seconds` is 0 when
    nothing waits.
    """
    query = select(
        _C.state,
        func.count(),
        func.sum(case((_C.attempts > 0, 1), else_=0)),
        func.min(_C.created_at),
    ).group_by(_C.state)
    found = {state: (n, failed, oldest) for state, n, failed, oldest in conn.execute(query)}
    queued, retrying, oldest = found.get("queued", (0, 0, None))
    return {
        "queued": queued,
        "retrying": int(retrying or 0),
        "dead": found.get("dead", (0,))[0],
        "sent": found.get("sent", (0,))[0],
        "oldest_queued_age_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    }
