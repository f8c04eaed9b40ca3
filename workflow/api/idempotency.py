"""Idempotency-Key: a POST sent twice with the same key does its work once.

A council's system that timed out retries with the same key and gets the
first answer again: the same status, the same JSON body, plus the header
`Idempotent-Replayed: true`. Keys belong to the person whose token sent them
and are kept for a day.

The work runs in the unit of work that claims the key (`once_in`), so the
work and its recorded answer commit together or not at all. A key left
pending by a request that is still running is refused as in use; after
`PENDING_LEASE` another attempt may take it over.

Answers are kept for everything the service decided, refusals included,
except a conflict with a concurrent change (409/412 from ConflictError):
that one says "look again and retry", so a retry must be able to run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from workflow import clock
from workflow.errors import CaseworkError, ConflictError, KeyInUse, KeyReused, Malformed
from workflow.services.unit_of_work import UnitOfWork
from workflow.storage.tables import idempotency_keys as records

__all__ = [
    "Answer",
    "KeyInUse",
    "KeyReused",
    "parse_key",
    "fingerprint",
    "once_in",
    "KEEP_FOR",
    "PENDING_LEASE",
    "MAX_KEY_LENGTH",
]

KEEP_FOR = timedelta(hours=24)
PENDING_LEASE = timedelta(minutes=5)
MAX_KEY_LENGTH = records.c.key.type.length  # 255


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as it is kept: status, JSON text, the headers worth replaying."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"
    replayed: bool = False
    keep: bool = True  # False: not recorded (a conflict the client should retry)


def parse_key(raw: str | None) -> str | None:
    """The key from its header: plain (`abc-123`) or a quoted structured string (`"abc-123"`)."""
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if (
        not key
        or len(key) > MAX_KEY_LENGTH
        or any(not 0x21 <= ord(c) <= 0x7E or c in '"\\' for c in key)
    ):
        raise Malformed(
            "The Idempotency-Key header",
            [f"must be 1 to {MAX_KEY_LENGTH} visible ASCII characters (a UUID is a good key)"],
        )
    return key


def fingerprint(*parts: bytes | str | None) -> str:
    """What makes two requests the same request: method, path, body and preconditions."""
    h = hashlib.sha256()
    for part in parts:
        if part is None:
            data = b"\x00"
        else:
            data = part.encode("utf-8") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


# --- the record ------------------------------------------------------------------
def _stored(row: Any) -> Answer:
    headers = dict(row.headers or {})
    media = headers.pop("content-type", "application/json")
    return Answer(row.status, row.body or "", headers, media, replayed=True)


def _claim(conn: Connection, person: str, key: str, fp: str, now: datetime) -> Answer | None:
    """Take the key for this request (a pending record), or return the answer kept for it."""
    conn.execute(delete(records).where(records.c.expires_at <= now))
    row = conn.execute(
        select(records).where(records.c.person == person, records.c.key == key)
    ).first()
    if row is not None:
        if row.fingerprint != fp:
            raise KeyReused(key)
        if row.state == "done":
            return _stored(row)
        if row.created_at + PENDING_LEASE > now:
            raise KeyInUse(key)
        conn.execute(delete(records).where(records.c.id == row.id))  # abandoned: take it over
    conn.execute(
        records.insert().values(
            person=person,
            key=key,
            fingerprint=fp,
            state="pending",
            headers={},
            created_at=now,
            expires_at=now + KEEP_FOR,
        )
    )
    return None


def _record(conn: Connection, person: str, key: str, answer: Answer) -> None:
    if not answer.keep:
        conn.execute(delete(records).where(records.c.person == person, records.c.key == key))
        return
    conn.execute(
        update(records)
        .where(records.c.person == person, records.c.key == key)
        .values(
            state="done",
            status=answer.status,
            body=answer.body,
            headers={**answer.headers, "content-type": answer.media_type},
        )
    )


def _after_race(engine: Engine, person: str, key: str, fp: str) -> Answer:
    """Another request with this key committed first: its answer, or 'still in progress'."""
    with engine.begin() as conn:
        row = conn.execute(
            select(records).where(records.c.person == person, records.c.key == key)
        ).first()
    if row is None:
        raise KeyInUse(key)
    if row.fingerprint != fp:
        raise KeyReused(key)
    if row.state != "done":
        raise KeyInUse(key)
    return _stored(row)


Refusal = Callable[[CaseworkError], Answer]


def once_in(
    engine: Engine,
    person: str,
    key: str | None,
    fp: str,
    work: Callable[[UnitOfWork], Answer],
    refusal: Refusal,
) -> Answer:
    """Run `work` in the unit of work that claims `key`: the answer is kept with the work."""
    if key is None:
        try:
            with UnitOfWork(engine) as uow:
                return work(uow)
        except CaseworkError as err:
            return refusal(err)
    try:
        with UnitOfWork(engine) as uow:
            stored = _claim(uow.conn, person, key, fp, uow.now)
            if stored is not None:
                return stored
            answer = work(uow)
            _record(uow.conn, person, key, answer)
            return answer
    except (KeyInUse, KeyReused):
        raise
    except IntegrityError:
        # PostgreSQL: a concurrent request with this key claimed it first.
        return _after_race(engine, person, key, fp)
    except CaseworkError as err:
        # Refused: the work rolled back. Keep the refusal (unless it is a conflict).
        answer = refusal(err)
        if answer.keep:
            _keep_refusal(engine, person, key, fp, answer)
        return answer


def _keep_refusal(engine: Engine, person: str, key: str, fp: str, answer: Answer) -> None:
    try:
        with engine.begin() as conn:
            if _claim(conn, person, key, fp, clock.now()) is None:
                _record(conn, person, key, answer)
    except (CaseworkError, IntegrityError):
        pass  # a concurrent request with this key got there first; its answer stands


def json_text(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def is_conflict(err: CaseworkError) -> bool:
    return isinstance(err, ConflictError)
