"""The admin log: every change an administrator makes, hash-chained, never changed.

One row a change (DESIGN section 10): who made it (a person with role `admin`
on the web, or the server's operator on the command line), when, what
(`action` and its `target`: the organisation, person or programme) and the
values it changed, before and after. Each row's hash is SHA-256 over its
canonical JSON and the hash of the row before it; the log's head (last id
and hash) is kept in `meta` (key `admin_log`, written by the first change),
so a row removed from the end is found too. The database refuses UPDATE and DELETE on the table
(migration 2102), `audit verify` recomputes the chain, and the seals cover
its rows (workflow.services.seals: a second tree beside the history's).

A change takes the head first (`SELECT ... FOR UPDATE` on PostgreSQL; on
SQLite the write transaction is already the only one), reads what it is
about to change, changes it, then `append`s, all in the caller's transaction:
a refused change writes nothing, and two changes never read the same
"before".
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator, Mapping

from sqlalchemy import Connection, select, update

from workflow.errors import SetupError, TargetNotFound
from workflow.logs import event
from workflow.services.chain import GENESIS, moment
from workflow.storage.db import is_postgres
from workflow.storage.tables import admin_log, meta

log = logging.getLogger("casework.admin")

HEAD_KEY = "admin_log"
# Every kind of change the log records (words: states.words.ADMIN_WORDS).
ACTIONS = (
    "org_add",
    "org_update",
    "user_add",
    "user_roles",
    "user_disable",
    "user_enable",
    "programme_load",
    "programme_sro",
)
OPERATOR = "operator"  # the role recorded for the command line (the server's operator)


@dataclass(frozen=True)
class Admin:
    """Who makes an administrative change: a person with role `admin` (the web's admin
    area), or the operator of the server, by their login name (the command line)."""

    name: str
    role: str = "admin"

    @classmethod
    def operator(cls, name: str | None = None) -> "Admin":
        if not name:
            try:
                name = getpass.getuser()
            except (OSError, KeyError, ImportError):
                name = OPERATOR
        return cls(name[:80], OPERATOR)


def row_hash(
    row_id: int,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    prev_hash: str,
) -> str:
    body = {
        "id": row_id,
        "at": moment(at),
        "actor": actor,
        "role": role,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
        "prev_hash": prev_hash,
    }
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


EMPTY: dict[str, Any] = {"last_id": 0, "last_hash": GENESIS}


def _head(conn: Connection, *, lock: bool) -> dict[str, Any] | None:
    q = select(meta.c.value).where(meta.c.key == HEAD_KEY)
    if lock and is_postgres(conn):
        q = q.with_for_update()
    value = conn.execute(q).scalar()
    return None if value is None else dict(value)


def _locked_head(conn: Connection) -> dict[str, Any]:
    """The head, locked until commit; the first change of all writes it (an empty log's)."""
    head = _head(conn, lock=True)
    if head is not None:
        return head
    if is_postgres(conn):
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        conn.execute(
            pg_insert(meta)
            .values(key=HEAD_KEY, value=EMPTY)
            .on_conflict_do_nothing(index_elements=["key"])
        )
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        conn.execute(
            sqlite_insert(meta)
            .values(key=HEAD_KEY, value=EMPTY)
            .on_conflict_do_nothing(index_elements=["key"])
        )
    head = _head(conn, lock=True)
    if head is None:
        raise SetupError("The admin log's head could not be written to `meta`.")
    return head


def hold(conn: Connection) -> None:
    """Take the log's head for this transaction, before reading what will change."""
    _locked_head(conn)


def append(
    conn: Connection, by: Admin, action: str, target: str, *, before: Any, after: Any, at: datetime
) -> dict[str, Any]:
    """Write one row after the head and move the head on; returns the row as `rows` gives it."""
    if action not in ACTIONS:
        raise ValueError(f"'{action}' is not a kind of change the admin log records")
    head = _locked_head(conn)
    row_id = int(head["last_id"]) + 1
    prev = str(head["last_hash"])
    digest = row_hash(row_id, at, by.name, by.role, action, target, before, after, prev)
    conn.execute(
        admin_log.insert().values(
            id=row_id,
            at=at,
            actor=by.name,
            role=by.role,
            action=action,
            target=target,
            before=before,
            after=after,
            prev_hash=prev,
            hash=digest,
        )
    )
    conn.execute(
        update(meta)
        .where(meta.c.key == HEAD_KEY)
        .values(value={"last_id": row_id, "last_hash": digest})
    )
    # Every caller appends as the last write of its transaction. What changed stays out
    # of the line (an email address may be among it): the log row has it.
    event(log, "admin.changed", f"{action} {target}", person=by.name, action=action)
    return {
        "id": row_id,
        "at": moment(at),
        "actor": by.name,
        "role": by.role,
        "action": action,
        "target": target,
        "before": before,
        "after": after,
        "hash": digest,
    }


def as_dict(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": moment(row.at),
        "actor": row.actor,
        "role": row.role,
        "action": row.action,
        "target": row.target,
        "before": row.before,
        "after": row.after,
        "hash": row.hash,
    }


def rows(
    conn: Connection,
    *,
    action: str | None = None,
    target: str | None = None,
    newest_first: bool = False,
    limit: int | None = None,
    after_id: int | None = None,
) -> list[dict[str, Any]]:
    """The log's rows in the order written (or newest first); `after_id` pages through it."""
    q = select(admin_log).order_by(admin_log.c.id.desc() if newest_first else admin_log.c.id)
    if after_id is not None:
        q = q.where(admin_log.c.id > after_id)
    if action is not None:
        q = q.where(admin_log.c.action == action)
    if target is not None:
        q = q.where(admin_log.c.target == target)
    if limit is not None:
        q = q.limit(limit)
    return [as_dict(r) for r in conn.execute(q)]


def refuse_unknown_target(conn: Connection, target: str | None) -> None:
    """TargetNotFound when `target` names no organisation, person or programme.

    Called on an empty answer only: a target the log has rows for is answered with them
    whatever has become of it since (the log is append-only; organisations, people and
    programmes are disabled or replaced, never deleted), so a mistyped code or name is
    all this refuses, rather than letting it look like a target no one ever changed."""
    from workflow.storage.tables import organisations, people, programmes

    if target is None:
        return
    for column in (organisations.c.code, people.c.name, programmes.c.code):
        if conn.execute(select(column).where(column == target).limit(1)).first() is not None:
            return
    raise TargetNotFound(target)


def count(conn: Connection) -> int:
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(admin_log)).scalar_one())


@dataclass
class LogCheck:
    rows: int = 0
    problems: list[str] = field(default_factory=list)


def verify(conn: Connection) -> LogCheck:
    """Recompute the chain; name the first row that does not hold, and a head that moved."""
    found = LogCheck()
    prev, expected = GENESIS, 1
    for row in conn.execution_options(yield_per=5000).execute(
        select(admin_log).order_by(admin_log.c.id)
    ):
        found.rows += 1
        if found.problems:
            continue
        if row.id != expected:
            found.problems.append(f"admin log: row {expected} is missing")
        elif row.prev_hash != prev:
            found.problems.append(f"admin log: row {row.id} does not follow row {row.id - 1}")
        elif (
            row_hash(
                row.id,
                row.at,
                row.actor,
                row.role,
                row.action,
                row.target,
                row.before,
                row.after,
                row.prev_hash,
            )
            != row.hash
        ):
            found.problems.append(f"admin log: row {row.id} does not match its hash")
        prev, expected = row.hash, row.id + 1
    if not found.problems:
        head = _head(conn, lock=False) or EMPTY
        if int(head.get("last_id", -1)) != expected - 1 or head.get("last_hash") != prev:
            if int(head.get("last_id", -1)) >= expected:
                found.problems.append(
                    f"admin log: row {expected} is missing (the log ends "
                    f"at row {head.get('last_id')})"
                )
            else:
                found.problems.append(
                    f"admin log: row {expected - 1} is not where the log says it ends"
                )
    return found


def hashes(conn: Connection, *, upto_id: int | None = None) -> Iterator[str]:
    """Every row's hash in write order (the seals' second tree), streamed."""
    q = select(admin_log.c.hash).order_by(admin_log.c.id)
    if upto_id is not None:
        q = q.where(admin_log.c.id <= upto_id)
    for (h,) in conn.execution_options(yield_per=20_000).execute(q):
        yield h


def changed(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, from each side."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


# --- for people ------------------------------------------------------------------------
FIELD_WORDS = {
    "esg_allocation": "ESG allocation",
    "escalation_email": "escalation email",
    "org_id": "org-id",
    "disabled_at": "disabled",
    "sro": "senior responsible owner",
    "email": "email",
    "name": "name",
    "roles": "roles",
    "kind": "kind",
    "org": "organisation",
}


SHOWN_VALUES = 12


def side_text(side: Any) -> str:
    """One side of a change as people read it: `ESG allocation £12,000; name Allerdale`.

    A programme file's side shows the file's values that changed (and its SRO when it
    changed); None is "nothing" (before an addition)."""
    from states.errors import DocumentError
    from states.money import parse_money, pounds

    if side is None:
        return "nothing"
    if not isinstance(side, Mapping):
        return str(side)
    if "values" in side:  # a programme file
        values = side["values"]
        if len(values) > SHOWN_VALUES:  # a new programme: its whole file
            shown = {k: values[k] for k in ("name", "kind", "fund") if k in values}
            return (
                "; ".join(f"{k} {_value_text(v)}" for k, v in shown.items())
                + f" and {len(values) - len(shown)} more values of its file (--json shows them)"
            )
        parts = [
            f"{_path_words(k)} {_value_text(v)}" for k, v in sorted(values.items()) if k != "sro"
        ]
        if "sro" in values:  # the programme's SRO, which a file naming none leaves as it was
            named, held = values["sro"], side.get("sro")
            parts.append(
                f"senior responsible owner {_value_text(held)}"
                + (f" (the file names {_value_text(named)})" if named != held else "")
            )
        return "; ".join(parts) or "the same values (comments or layout changed)"
    parts = []
    for key, value in side.items():
        words = FIELD_WORDS.get(key, key.replace("_", " "))
        if key == "esg_allocation" and isinstance(value, str):
            try:
                value = pounds(parse_money(value, key))
            except DocumentError:  # shown as it is stored
                pass
        if key == "disabled_at":
            parts.append("disabled" if value else "enabled")
            continue
        parts.append(f"{words} {_value_text(value)}")
    return "; ".join(parts)


def _path_words(path: str) -> str:
    """A programme file's dotted name as people read it: `categories.shared_arrangement.max`
    is "categories › Shared arrangement › max" (a code with an underscore made readable)."""
    from states.words import humanise

    return " › ".join(humanise(part) if "_" in part else part for part in path.split("."))


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value) or "none"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} {_value_text(v)}" for k, v in value.items()) + "}"
    return str(value)
