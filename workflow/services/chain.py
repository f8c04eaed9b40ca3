"""The audit history: one hash chain per case, appended to, never changed.

Each row's hash is SHA-256 over a canonical encoding of the row and the hash
of the row before it, so an altered, removed or reordered row is found by
recomputing the chain (`audit verify`). The database itself refuses UPDATE and
DELETE on the table (triggers from the first migration).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Iterator, Mapping, Protocol, Sequence

from sqlalchemy import Connection, bindparam, select, update

from workflow.errors import ConflictError
from workflow.storage.tables import cases, checkpoints, history
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord, CheckpointRecord

GENESIS = "0" * 64


@dataclass(frozen=True)
class Entry:
    """A history row before it is sealed into the chain."""

    to_state: str
    trigger: str
    actor: str
    role: str
    at: datetime
    from_state: str | None = None
    checkpoint: str | None = None
    reason: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    payment: str | None = None  # the payment the row moves (`P2`), issue 19


@dataclass(frozen=True)
class Head:
    """Where a case's chain ends: the row to append after."""

    case_id: int
    ref: str
    last_seq: int
    last_hash: str

    @classmethod
    def of(cls, case: CaseRecord) -> "Head":
        """The head a case holds."""
        return cls(case.id, case.ref, case.last_seq, case.last_hash)


def moment(at: datetime) -> str:
    """The one text form of a history time: ISO 8601 in UTC with its offset."""
    return at.astimezone(timezone.utc).isoformat()


class Sealable(Protocol):
    """What a row's seal covers: an `Entry` being written, or a history row read back."""

    @property
    def checkpoint(self) -> str | None: ...
    @property
    def from_state(self) -> str | None: ...
    @property
    def to_state(self) -> str: ...
    @property
    def trigger(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def at(self) -> datetime: ...
    @property
    def payload(self) -> dict[str, Any]: ...


def seal(ref: str, seq: int, prev_hash: str, e: Sealable) -> str:
    """The row's hash: SHA-256 of its canonical JSON (`canonical`)."""
    return hashlib.sha256(canonical(ref, seq, prev_hash, e).encode("utf-8")).hexdigest()


# The canonical JSON is `json.dumps(body, sort_keys=True, separators=(",", ":"),
# ensure_ascii=False)` of the row's twelve fields; it is written out here with the
# keys in that sorted order, because `audit verify` makes it for every row (a
# million rows: this is most of its time). tests/workflow/test_history.py checks
# the two agree for any row.
_text = json.encoder.encode_basestring  # a JSON string, non-ASCII kept, as dumps does
_payload = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _opt(value: str | None) -> str:
    return "null" if value is None else _text(value)


def _payment(e: Sealable) -> str:
    """The payment a row moves (`P2`, issue 19), sealed only when set: a row that moves no
    payment hashes as it always did. Its key sorts between "payload" and "prev_hash"."""
    payment = getattr(e, "payment", None)
    return "" if payment is None else f'"payment":{_text(payment)},'


def canonical(ref: str, seq: int, prev_hash: str, e: Sealable) -> str:
    """The text a row's hash is taken of. A history row read back is sealed as it is
    (no Entry built from it)."""
    return (
        f'{{"actor":{_text(e.actor)},"at":{_text(moment(e.at))},"case":{_text(ref)},'
        f'"checkpoint":{_opt(e.checkpoint)},"from_state":{_opt(e.from_state)},'
        f'"payload":{_payload(e.payload)},{_payment(e)}"prev_hash":{_text(prev_hash)},'
        f'"reason":{_opt(e.reason)},"role":{_text(e.role)},"seq":{int(seq)},'
        f'"to_state":{_text(e.to_state)},"trigger":{_text(e.trigger)}}}'
    )


_COLUMNS = (
    "case_id",
    "seq",
    "checkpoint",
    "from_state",
    "to_state",
    "trigger",
    "actor",
    "role",
    "reason",
    "at",
    "payload",
    "prev_hash",
    "hash",
    "payment",
)
_INSERT = Prepared(history.insert().values({name: bindparam(name) for name in _COLUMNS}))


def insert_row(
    conn: Connection, head: Head, e: Entry, *, digest: str | None = None
) -> tuple[int, str]:
    """Write the row after `head`; the caller has already moved the head on.

    Only `change` (and `open_case`, for a case's first row) call this.
    `digest` is the row's seal when the caller has already computed it.
    """
    seq = head.last_seq + 1
    digest = digest or seal(head.ref, seq, head.last_hash, e)
    _INSERT.rowcount(conn, _values(head.case_id, seq, head.last_hash, digest, e))
    return seq, digest


def _values(case_id: int, seq: int, prev_hash: str, digest: str, e: Entry) -> dict[str, Any]:
    """The history row of `e` at `seq`, as `_INSERT` takes it."""
    return {
        "case_id": case_id,
        "seq": seq,
        "checkpoint": e.checkpoint,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "trigger": e.trigger,
        "actor": e.actor,
        "role": e.role,
        "reason": e.reason,
        "at": e.at,
        "payload": e.payload,
        "prev_hash": prev_hash,
        "hash": digest,
        "payment": e.payment,
    }


# --- the one chain writer ------------------------------------------------------
# Statements by the columns they set, built and prepared the first time a kind
# of change is made (a transition, a hand-over, a contribution, a ladder step).
# (UPDATEs: they return no rows, so Prepared[Any].)
_CASE_MOVES: dict[tuple[str, ...], Prepared[Any]] = {}
_CHECKPOINT_MOVES: dict[tuple[str, ...], Prepared[Any]] = {}
_HEAD = ("last_hash", "last_seq")  # sorted, as `change` keys its statements


def _case_statement(names: tuple[str, ...]) -> Prepared[Any]:
    stmt = _CASE_MOVES.get(names)
    if stmt is None:
        where = [cases.c.id == bindparam("_id"), cases.c.last_seq == bindparam("_seq")]
        if "version" in names:
            where.append(cases.c.version == bindparam("_version"))
        stmt = _CASE_MOVES[names] = Prepared(
            update(cases).where(*where).values({n: bindparam(n) for n in names})
        )
    return stmt


def _checkpoint_statement(names: tuple[str, ...]) -> Prepared[Any]:
    stmt = _CHECKPOINT_MOVES.get(names)
    if stmt is None:
        stmt = _CHECKPOINT_MOVES[names] = Prepared(
            update(checkpoints)
            .where(
                checkpoints.c.id == bindparam("_id"), checkpoints.c.version == bindparam("_version")
            )
            .values({n: bindparam(n) for n in names})
        )
    return stmt


def settle_checkpoint(
    conn: Connection, cp: CheckpointRecord, values: Mapping[str, Any]
) -> CheckpointRecord:
    """Write `values` to checkpoint `cp` if it is still at the version read (ConflictError).

    On its own only for what changes no state and writes no history (the
    ladder's next time); every state change goes through `change`.
    """
    row = {**values, "version": cp.version + 1}
    names = tuple(sorted(row))
    if (
        _checkpoint_statement(names).rowcount(conn, {**row, "_id": cp.id, "_version": cp.version})
        != 1
    ):
        raise ConflictError(cp.ref)
    return replace(cp, **row)


def change(
    conn: Connection,
    case: CaseRecord,
    entry: Entry,
    *,
    values: Mapping[str, Any] | None = None,
    checkpoint: CheckpointRecord | None = None,
    checkpoint_values: Mapping[str, Any] | None = None,
    digest: str | None = None,
) -> CaseRecord:
    """The one way a case's chain grows: move what changes, then chain the history row.

    - `values` (the case's state, caseworker, contribution...) are written with
      the case's version moved on, compared with the version read, so a
      concurrent change makes this refuse (ConflictError) instead of overwrite;
    - `checkpoint` moves with its own version check, with `checkpoint_values`
      (its state is `entry.to_state` when the entry names the checkpoint);
    - the chain's head on the case row moves with a compare-and-set on
      `last_seq`, which takes the case row's lock: two writers to one chain
      cannot both win, even when neither changes the case itself (a score,
      a reminder, a return's move);
    - the history row is appended after the head.

    Returns the case as it is after the change. `digest` is the row's seal when
    the caller has already computed it.
    """
    seq = case.last_seq + 1
    digest = digest or seal(case.ref, seq, case.last_hash, entry)
    if checkpoint is not None:
        moved_cp = dict(checkpoint_values or {})
        if entry.checkpoint is not None:
            moved_cp.setdefault("state", entry.to_state)
        settle_checkpoint(conn, checkpoint, moved_cp)
    row: dict[str, Any] = {"last_seq": seq, "last_hash": digest}
    if values:
        row.update(values)
        row["version"] = case.version + 1
    names = tuple(sorted(row))
    if (
        _case_statement(names).rowcount(
            conn, {**row, "_id": case.id, "_seq": case.last_seq, "_version": case.version}
        )
        != 1
    ):
        raise ConflictError(case.ref)
    insert_row(conn, Head.of(case), entry, digest=digest)
    return replace(case, **row)


def append(conn: Connection, case: CaseRecord, entries: Sequence[Entry]) -> CaseRecord:
    """`change` for rows that move nothing but the chain (no values, no checkpoint), several
    at once: the automatic due-diligence checks of a move, one row each.

    Each row is sealed after the one before it, exactly as that many `change` calls
    would seal them; the head then moves once, from the case's `last_seq` as read
    to the last row (the same compare-and-set: ConflictError when another writer
    moved it), and the rows are inserted in order by one executemany. Returns the
    case as it is after them.
    """
    if not entries:
        return case
    seq, prev = case.last_seq, case.last_hash
    rows = []
    for e in entries:
        seq += 1
        digest = seal(case.ref, seq, prev, e)
        rows.append(_values(case.id, seq, prev, digest, e))
        prev = digest
    row: dict[str, Any] = {"last_seq": seq, "last_hash": prev}
    if _case_statement(_HEAD).rowcount(conn, {**row, "_id": case.id, "_seq": case.last_seq}) != 1:
        raise ConflictError(case.ref)
    _INSERT.many(conn, rows)
    return replace(case, **row)


def head_of(conn: Connection, ref: str) -> Head | None:
    row = conn.execute(
        select(cases.c.id, cases.c.ref, cases.c.last_seq, cases.c.last_hash).where(
            cases.c.ref == ref
        )
    ).first()
    return Head(row.id, row.ref, row.last_seq, row.last_hash) if row else None


# --- reading -----------------------------------------------------------------
def as_dict(row: Any, ref: str | None = None) -> dict[str, Any]:
    out = {
        "seq": row.seq,
        "checkpoint": row.checkpoint,
        "from_state": row.from_state,
        "to_state": row.to_state,
        "trigger": row.trigger,
        "actor": row.actor,
        "role": row.role,
        "reason": row.reason,
        "at": moment(row.at),
        "payload": row.payload,
        "hash": row.hash,
        "prev_hash": row.prev_hash,
        # Every row has the key, as every row has `checkpoint`, so a reader's shape never
        # varies; only a row that moves a payment seals it (`_payment`).
        "payment": getattr(row, "payment", None),
    }
    if ref is not None:
        out = {"case": ref, **out}
    return out


def rows_for(conn: Connection, case_id: int) -> list[Any]:
    return list(
        conn.execute(select(history).where(history.c.case_id == case_id).order_by(history.c.seq))
    )


def stream(
    conn: Connection, *, case_id: int | None = None, since: datetime | None = None
) -> Iterator[dict[str, Any]]:
    """History rows with their case reference, by case then sequence."""
    q = (
        select(history, cases.c.ref.label("case_ref"))
        .join(cases, cases.c.id == history.c.case_id)
        .order_by(history.c.case_id, history.c.seq)
    )
    if case_id is not None:
        q = q.where(history.c.case_id == case_id)
    if since is not None:
        q = q.where(history.c.at >= since)
    for row in conn.execution_options(yield_per=2000).execute(q):
        yield as_dict(row, row.case_ref)


# --- verifying ---------------------------------------------------------------
@dataclass
class Verification:
    cases: int = 0
    rows: int = 0
    broken: dict[str, str] = field(default_factory=dict)  # ref -> what is wrong
    # Keys of `broken` that are not a case: rows whose case row is gone ("case id 17").
    orphaned: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.broken

    def summary(self, also_broken: int = 0) -> str:
        # The form DESIGN section 6 fixes for scripts ("412 cases, 5,210 rows checked,
        # 1 broken"): kept plural even for one case, so one pattern reads every count.
        return (
            f"{self.cases:,} cases, {self.rows:,} rows checked, "
            f"{len(self.broken) + also_broken:,} broken"
        )


def first_fault(ref: str, rows: list[Any], head_hash: str, head_seq: int) -> str | None:
    """What is wrong with one chain, naming the first broken row; None when intact."""
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return f"row {expected_seq} is missing"
        if row.prev_hash != prev:
            return f"row {row.seq} does not follow row {row.seq - 1}"
        if seal(ref, row.seq, row.prev_hash, row) != row.hash:
            return f"row {row.seq} does not match its hash"
        prev = row.hash
    return _end_fault(len(rows), prev, head_hash, head_seq)


def _end_fault(count: int, prev: str, head_hash: str, head_seq: int) -> str | None:
    """What is wrong where an intact run of `count` rows ends, against the case's head."""
    if count < head_seq:
        return f"row {count + 1} is missing"
    if count > head_seq or prev != head_hash:
        return f"row {count} is not where the case says its history ends"
    return None


# `verify` reads the rows straight from the driver (sqlite3 or psycopg) rather than
# through SQLAlchemy's rows: a million rows cost about 13 s that way, most of it the
# rows' processing and an Entry-like view of each. What is hashed is the same text:
# each column is converted exactly as the history table's types convert it (`at` by
# `_moment_of_text`/`_moment_of_value`, `payload` by `json.loads` of the stored text),
# then written out in `canonical`'s form (tests/workflow/test_chain_verify.py holds
# the verdicts to those of SQLAlchemy's rows for every form a stored value takes).
_ROWS = (
    "SELECT case_id, seq, id, prev_hash, hash, actor, at, checkpoint, from_state, {payload},"
    " payment, reason, role, to_state, trigger FROM history{where} ORDER BY case_id, seq"
)
_BATCH = 5000
# Payload texts met recently, with their canonical JSON: json.loads and the encoder
# are pure functions of the text, so equal texts give equal canonical text. Many
# rows carry the same few payloads ({}, a ladder step's); a text seen once costs
# one dictionary lookup more. Cleared when full, so memory stays bounded.
_PAYLOAD_CACHE = 4096


def _moment_of_text(value: str) -> str:
    """`moment` of a time as SQLite keeps it: what UTCDateTime reads (SQLAlchemy's
    `datetime.fromisoformat`, naive meaning UTC), in `moment`'s form."""
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        # Naive is UTC: `replace(tzinfo=utc).astimezone(utc).isoformat()` is this text.
        return at.isoformat() + "+00:00"
    return at.astimezone(timezone.utc).isoformat()


def _moment_of_value(value: datetime) -> str:
    """`moment` of a time as psycopg gives it (aware): UTCDateTime then `moment`."""
    return moment(value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc))


def _driver_rows(conn: Connection, case_id: int | None) -> Iterator[tuple[Any, ...]]:
    """The history rows as the driver gives them, by case then sequence, in batches."""
    where = "" if case_id is None else " WHERE case_id = %s"
    driver: Any = conn.connection.driver_connection  # a DB-API connection: untyped
    if conn.dialect.name == "sqlite":
        sql = _ROWS.format(payload="payload", where=where.replace("%s", "?"))
        cursor = driver.cursor()
    else:
        # The stored text, decoded below as psycopg's own loader would (json.loads); a
        # cursor on the server, in the caller's transaction, so the rows stream.
        sql = _ROWS.format(payload="payload::text", where=where)
        cursor = driver.cursor(name="casework_verify_history")
        cursor.itersize = _BATCH
    try:
        cursor.execute(sql, () if case_id is None else (case_id,))
        while batch := cursor.fetchmany(_BATCH):
            yield from batch
    finally:
        cursor.close()


def _close(
    result: Verification,
    only: int | None,
    cid: int,
    head: Any,
    count: int,
    prev: str,
    fault: str | None,
    ids: tuple[int, int],
) -> None:
    """What one case's rows came to (`head` None: the case row is gone)."""
    if head is None:
        if only is None or cid == only:  # rows whose case is gone (DESIGN section 11)
            result.rows += count
            key = f"case id {cid}"
            result.orphaned.add(key)
            result.broken[key] = (
                f"{count:,} history rows belong to no case (row ids {ids[0]}-{ids[1]})"
            )
        return
    result.cases += 1
    result.rows += count
    found = fault or _end_fault(count, prev, head.last_hash, head.last_seq)
    if found:
        result.broken[head.ref] = found


def verify(conn: Connection, case_id: int | None = None) -> Verification:
    """Recompute every chain (or one case's): each case's first broken row, and history
    rows whose case is gone."""
    result = Verification()
    q = select(cases.c.id, cases.c.ref, cases.c.last_seq, cases.c.last_hash).order_by(cases.c.id)
    if case_id is not None:
        q = q.where(cases.c.id == case_id)
    heads = {r.id: r for r in conn.execute(q)}
    moment_of: Any = _moment_of_text if conn.dialect.name == "sqlite" else _moment_of_value
    js, loads, encode, sha = _text, json.loads, _payload, hashlib.sha256
    payloads: dict[Any, str] = {}

    # One case at a time: its head, and what its rows have shown so far.
    current: int | None = None
    head: Any = None
    ref = ""
    count = first_id = last_id = 0
    prev = GENESIS
    fault: str | None = None
    for (
        cid,
        seq,
        row_id,
        prev_hash,
        row_hash,
        actor,
        at,
        checkpoint,
        from_state,
        payload,
        payment,
        reason,
        role,
        to_state,
        trigger,
    ) in _driver_rows(conn, case_id):
        if cid != current:
            if current is not None:
                _close(result, case_id, current, head, count, prev, fault, (first_id, last_id))
            current, head = cid, heads.pop(cid, None)
            ref = "" if head is None else js(head.ref)
            count, prev, fault, first_id = 0, GENESIS, None, row_id
        count += 1
        last_id = row_id
        if fault is not None or head is None:
            continue
        # As first_fault: the first row out of place, out of the chain, or altered.
        if seq != count:
            fault = f"row {count} is missing"
            continue
        if prev_hash != prev:
            fault = f"row {seq} does not follow row {seq - 1}"
            continue
        try:
            body = payloads.get(payload)
            if body is None:
                body = encode(loads(payload))
                if len(payloads) >= _PAYLOAD_CACHE:
                    payloads.clear()
                payloads[payload] = body
            paid = "" if payment is None else f'"payment":{js(payment)},'
            # canonical(), written out with the row's own values.
            line = (
                f'{{"actor":{js(actor)},"at":{js(moment_of(at))},"case":{ref},'
                f'"checkpoint":{"null" if checkpoint is None else js(checkpoint)},'
                f'"from_state":{"null" if from_state is None else js(from_state)},'
                f'"payload":{body},{paid}"prev_hash":{js(prev_hash)},'
                f'"reason":{"null" if reason is None else js(reason)},"role":{js(role)},'
                f'"seq":{int(seq)},"to_state":{js(to_state)},"trigger":{js(trigger)}}}'
            )
            intact = sha(line.encode("utf-8")).hexdigest() == row_hash
        except (TypeError, ValueError):
            # A value no row is written with (a payload SQLite kept as a number, a
            # time that is not one): it was put there by hand, so it is not what was hashed.
            intact = False
        if not intact:
            fault = f"row {seq} does not match its hash"
            continue
        prev = row_hash
    if current is not None:
        _close(result, case_id, current, head, count, prev, fault, (first_id, last_id))
    for h in list(heads.values()):  # cases with no rows at all
        _close(result, case_id, h.id, h, 0, GENESIS, None, (0, 0))
    return result
