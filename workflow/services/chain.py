"""The audit history: one hash chain per case, appended to, never changed.

Each row's hash is SHA-256 over a canonical encoding of the row and the hash
of the row before it, so an altered, removed or reordered row is found by
recomputing the chain (`audit verify`). The database itself refuses UPDATE and
DELETE on the table (triggers from the first migration).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator

from sqlalchemy import Connection, bindparam, select, update

from workflow.errors import ConflictError
from workflow.storage.tables import cases, history
from workflow.storage.prepared import Prepared

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


@dataclass(frozen=True)
class Head:
    """Where a case's chain ends: the row to append after."""

    case_id: int
    ref: str
    last_seq: int
    last_hash: str

    @classmethod
    def of(cls, case: Any) -> "Head":
        """The head a case row (or a copy of one) holds."""
        return cls(case.id, case.ref, case.last_seq, case.last_hash)


def moment(at: datetime) -> str:
    """The one text form of a history time: ISO 8601 in UTC with its offset."""
    return at.astimezone(timezone.utc).isoformat()


def seal(ref: str, seq: int, prev_hash: str, e: Entry) -> str:
    body = {
        "case": ref, "seq": seq, "checkpoint": e.checkpoint, "from_state": e.from_state,
        "to_state": e.to_state, "trigger": e.trigger, "actor": e.actor, "role": e.role,
        "reason": e.reason, "at": moment(e.at), "payload": e.payload, "prev_hash": prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_COLUMNS = ("case_id", "seq", "checkpoint", "from_state", "to_state", "trigger", "actor", "role",
            "reason", "at", "payload", "prev_hash", "hash")
_INSERT = Prepared(history.insert().values({name: bindparam(name) for name in _COLUMNS}))
# append's compare-and-set on the chain's head.
_MOVE_HEAD = Prepared(update(cases).where(cases.c.id == bindparam("_case"),
                                          cases.c.last_seq == bindparam("_seq"))
                      .values(last_seq=bindparam("seq"), last_hash=bindparam("hash")))


def insert_row(conn: Connection, head: Head, e: Entry, *,
               digest: str | None = None) -> tuple[int, str]:
    """Write the row after `head`; the caller has already moved the head on.

    `digest` is the row's seal when the caller has already computed it.
    """
    seq = head.last_seq + 1
    digest = digest or seal(head.ref, seq, head.last_hash, e)
    _INSERT.rowcount(conn, {
        "case_id": head.case_id, "seq": seq, "checkpoint": e.checkpoint,
        "from_state": e.from_state, "to_state": e.to_state, "trigger": e.trigger,
        "actor": e.actor, "role": e.role, "reason": e.reason, "at": e.at, "payload": e.payload,
        "prev_hash": head.last_hash, "hash": digest})
    return seq, digest


def append(conn: Connection, head: Head, e: Entry) -> tuple[int, str]:
    """Append a row that changes no case state (a checkpoint move, a score, a reminder).

    Moving the head with a compare-and-set on `last_seq` takes the case row's
    lock, so two writers appending to one chain cannot both win.
    """
    seq = head.last_seq + 1
    digest = seal(head.ref, seq, head.last_hash, e)
    moved = _MOVE_HEAD.rowcount(conn, {"_case": head.case_id, "_seq": head.last_seq,
                                        "seq": seq, "hash": digest})
    if moved != 1:
        raise ConflictError(head.ref)
    return insert_row(conn, head, e, digest=digest)


def head_of(conn: Connection, ref: str) -> Head | None:
    row = conn.execute(select(cases.c.id, cases.c.ref, cases.c.last_seq, cases.c.last_hash)
                       .where(cases.c.ref == ref)).first()
    return Head(row.id, row.ref, row.last_seq, row.last_hash) if row else None


# --- reading -----------------------------------------------------------------
def as_dict(row: Any, ref: str | None = None) -> dict[str, Any]:
    out = {"seq": row.seq, "checkpoint": row.checkpoint, "from_state": row.from_state,
           "to_state": row.to_state, "trigger": row.trigger, "actor": row.actor,
           "role": row.role, "reason": row.reason, "at": moment(row.at),
           "payload": row.payload, "hash": row.hash, "prev_hash": row.prev_hash}
    if ref is not None:
        out = {"case": ref, **out}
    return out


def rows_for(conn: Connection, case_id: int) -> list[Any]:
    return list(conn.execute(select(history).where(history.c.case_id == case_id)
                             .order_by(history.c.seq)))


def stream(conn: Connection, *, case_id: int | None = None,
           since: datetime | None = None) -> Iterator[dict[str, Any]]:
    """History rows with their case reference, by case then sequence."""
    q = (select(history, cases.c.ref.label("case_ref"))
         .join(cases, cases.c.id == history.c.case_id)
         .order_by(history.c.case_id, history.c.seq))
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
    broken: dict[str, str] = field(default_factory=dict)   # ref -> what is wrong

    @property
    def ok(self) -> bool:
        return not self.broken

    def summary(self, also_broken: int = 0) -> str:
        # The form DESIGN section 6 fixes for scripts ("412 cases, 5,210 rows checked,
        # 1 broken"): kept plural even for one case, so one pattern reads every count.
        return (f"{self.cases:,} cases, {self.rows:,} rows checked, "
                f"{len(self.broken) + also_broken:,} broken")


def _row_entry(row: Any) -> Entry:
    return Entry(checkpoint=row.checkpoint, from_state=row.from_state, to_state=row.to_state,
                 trigger=row.trigger, actor=row.actor, role=row.role, reason=row.reason,
                 at=row.at, payload=row.payload)


def first_fault(ref: str, rows: list[Any], head_hash: str, head_seq: int) -> str | None:
    """What is wrong with one chain, naming the first broken row; None when intact."""
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        if row.seq != expected_seq:
            return f"row {expected_seq} is missing"
        if row.prev_hash != prev:
            return f"row {row.seq} does not follow row {row.seq - 1}"
        if seal(ref, row.seq, row.prev_hash, _row_entry(row)) != row.hash:
            return f"row {row.seq} does not match its hash"
        prev = row.hash
    if len(rows) < head_seq:
        return f"row {len(rows) + 1} is missing"
    if len(rows) > head_seq or prev != head_hash:
        return f"row {len(rows)} is not where the case says its history ends"
    return None


def verify(conn: Connection, case_id: int | None = None) -> Verification:
    result = Verification()
    q = select(cases.c.id, cases.c.ref, cases.c.last_seq, cases.c.last_hash).order_by(cases.c.id)
    if case_id is not None:
        q = q.where(cases.c.id == case_id)
    heads = {r.id: r for r in conn.execute(q)}
    rows_q = select(history).order_by(history.c.case_id, history.c.seq)
    if case_id is not None:
        rows_q = rows_q.where(history.c.case_id == case_id)
    current: int | None = None
    bucket: list[Any] = []

    def close(cid: int | None) -> None:
        if cid is None:
            return
        if cid not in heads:
            if case_id is None or cid == case_id:   # rows whose case is gone (DESIGN section 11)
                result.rows += len(bucket)
                result.broken[f"case id {cid}"] = (
                    f"{len(bucket):,} history rows belong to no case "
                    f"(row ids {bucket[0].id}-{bucket[-1].id})")
            return
        h = heads.pop(cid)
        result.cases += 1
        result.rows += len(bucket)
        fault = first_fault(h.ref, bucket, h.last_hash, h.last_seq)
        if fault:
            result.broken[h.ref] = fault

    for row in conn.execution_options(yield_per=5000).execute(rows_q):
        if row.case_id != current:
            close(current)
            current, bucket = row.case_id, []
        bucket.append(row)
    close(current)
    for h in list(heads.values()):   # cases with no rows at all
        bucket = []
        close(h.id)
    return result
