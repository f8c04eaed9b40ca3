"""Sign-in attempts: every one recorded; repeated failures for a name slow, then lock it.

Signing out is recorded here too: it ends every session of that person that
began before it, so a copy of a cookie is worthless once its owner signs out.

DESIGN.md section 6: five failures for one name within 15 minutes lock it for
15 minutes. Attempts made while a name is locked are recorded as `locked` and
do not extend the lock, so its owner can sign in once it ends. Unknown names
are treated exactly like known ones.

However many sign-ins for one name arrive at once, at most five passwords are
checked: `claim` reads the name's standing and records the attempt as
`pending` in one transaction that serialises attempts for that name (SQLite's
write lock; a PostgreSQL advisory lock on the name), and a pending attempt
counts as a failure until `settle` records how it ended. The password itself
is checked between the two, outside any transaction, so a slow hash never
holds the database's write lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy import Connection, Engine, select, text, update

from workflow.storage.db import reading
from workflow.storage.tables import sign_in_attempts as attempts

OUTCOMES = ("ok", "wrong", "locked", "signout", "pending")
_COUNTED = ("ok", "wrong", "pending")  # the outcomes a name's standing is read from


@dataclass(frozen=True)
class Policy:
    failures: int = 5  # this many failures within `window` ...
    window: timedelta = timedelta(minutes=15)
    lock_for: timedelta = timedelta(minutes=15)  # ... lock the name this long
    slow_after: int = 2  # failures answered at full speed
    slow_step: float = 0.5  # seconds added for each failure after that
    slow_cap: float = 3.0

    def delay(self, failures: int) -> float:
        """How long to hold the answer to a failed attempt, the `failures`-th in a row."""
        extra = failures - self.slow_after
        return min(self.slow_step * extra, self.slow_cap) if extra > 0 else 0.0


@dataclass(frozen=True)
class Standing:
    failures: int  # failures still counting towards a lock
    locked_until: datetime | None

    @property
    def locked(self) -> bool:
        return self.locked_until is not None


def standing_of(events: Iterable[tuple[datetime, str]], now: datetime, policy: Policy) -> Standing:
    """Replay a name's recent attempts (oldest first): is it locked, and how many failures count?"""
    lock_end: datetime | None = None
    window: deque[datetime] = deque()
    for at, outcome in events:
        if lock_end is not None and at < lock_end:
            continue
        if outcome == "ok":
            window.clear()
            continue
        if outcome not in ("wrong", "pending"):  # pending: checking now, a failure until told
            continue
        window.append(at)
        while window and window[0] <= at - policy.window:
            window.popleft()
        if len(window) >= policy.failures:
            lock_end, window = at + policy.lock_for, deque()
    if lock_end is not None and lock_end > now:
        return Standing(0, lock_end)
    return Standing(sum(1 for at in window if at > now - policy.window), None)


def _key(name: str) -> str:
    return name.strip()[:80]


def _standing(conn: Connection, name: str, now: datetime, policy: Policy) -> Standing:
    horizon = now - policy.window - policy.lock_for
    rows = conn.execute(
        select(attempts.c.at, attempts.c.outcome)
        .where(
            attempts.c.name == _key(name), attempts.c.at > horizon, attempts.c.outcome.in_(_COUNTED)
        )
        .order_by(attempts.c.at, attempts.c.id)
    )
    return standing_of([(r.at, r.outcome) for r in rows], now, policy)


def standing(engine: Engine, name: str, now: datetime, policy: Policy) -> Standing:
    with reading(engine) as conn:
        return _standing(conn, name, now, policy)


@dataclass(frozen=True)
class Claim:
    """The right to check one password for a name, or the standing that refused it."""

    attempt: int | None  # the pending attempt's id; None when the name is locked
    standing: Standing


def claim(engine: Engine, name: str, now: datetime, policy: Policy, remote: str | None) -> Claim:
    """Read the name's standing and record this attempt, in one transaction per name.

    A locked name's attempt is recorded as `locked`; any other as `pending`,
    counted as a failure until `settle`d.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Attempts for one name wait for each other; other names do not.
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": "sign-in:" + _key(name)}
            )
        now_standing = _standing(conn, name, now, policy)
        outcome = "locked" if now_standing.locked else "pending"
        attempt = conn.execute(
            attempts.insert().values(
                name=_key(name), at=now, outcome=outcome, remote=(remote or None) and remote[:64]
            )
        ).inserted_primary_key[0]
    return Claim(None if now_standing.locked else attempt, now_standing)


def settle(engine: Engine, attempt: int, ok: bool) -> None:
    """How a claimed attempt ended: `ok` clears the name's failures, `wrong` stays one."""
    with engine.begin() as conn:
        conn.execute(
            update(attempts).where(attempts.c.id == attempt).values(outcome="ok" if ok else "wrong")
        )


def record(engine: Engine, name: str, outcome: str, now: datetime, remote: str | None) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    with engine.begin() as conn:
        conn.execute(
            attempts.insert().values(
                name=_key(name), at=now, outcome=outcome, remote=(remote or None) and remote[:64]
            )
        )


def recent(engine: Engine, name: str, limit: int = 20) -> list[dict]:
    """The latest attempts for a name, newest first (for people looking into a lock)."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(attempts)
            .where(attempts.c.name == _key(name))
            .order_by(attempts.c.at.desc(), attempts.c.id.desc())
            .limit(limit)
        )
        return [{"at": r.at.isoformat(), "outcome": r.outcome, "remote": r.remote} for r in rows]
