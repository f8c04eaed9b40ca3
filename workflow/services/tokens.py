"""Personal API tokens: shown once when created, kept only as a SHA-256 hash.

A token acts as its person, with that person's roles, so everything it
changes is in the history under their name. A token is refused once it is
revoked or past its expiry. The tokens are 256 random bits, so a plain
SHA-256 is enough to keep a stolen table useless (a slow password hash
guards guessable secrets; these are not guessable).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from workflow.services import directory
from workflow.services.engine import Actor
from workflow.errors import Malformed, NotFound, TokenRefused
from workflow.storage.db import new_id
from workflow.storage.tables import api_tokens as tokens

__all__ = [
    "TokenRefused",
    "TokenNotFound",
    "PREFIX",
    "MAX_EXPIRY_DAYS",
    "create",
    "list_tokens",
    "revoke",
    "authenticate",
    "digest",
]

PREFIX = "cw_"  # makes a leaked token easy to recognise (and to scan for)
MAX_EXPIRY_DAYS = 3650


class TokenNotFound(NotFound):
    def __init__(self, token_id: object):
        self.token_id = token_id
        super().__init__(f"There is no API token {token_id}. `casework token list` shows them.")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _listed(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.person,
        "created": _iso(row.created_at),
        "expires": _iso(row.expires_at),
        "revoked": row.revoked_at is not None,
        "revoked_at": _iso(row.revoked_at),
    }


def create(
    conn: Connection, name: str, *, now: datetime, expires_days: int | None = None
) -> tuple[str, dict[str, Any]]:
    """A new token for person `name`: (the token itself, its listing). Only the hash is kept."""
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise Malformed(
            "The token",
            [f"expires: {expires_days} is not a number of days from 1 to {MAX_EXPIRY_DAYS}"],
        )
    if name == "system":
        raise Malformed(
            "The token",
            [
                "name: 'system' is the sweep, not a person; tokens "
                "act as a person (`casework user list`)"
            ],
        )
    person = directory.actor(conn, name)  # PersonNotFound names the person
    token = PREFIX + secrets.token_urlsafe(32)
    expires = now + timedelta(days=expires_days) if expires_days is not None else None
    token_id = new_id(
        conn.execute(
            tokens.insert().values(
                person=person.name, token_hash=digest(token), created_at=now, expires_at=expires
            )
        )
    )
    row = conn.execute(select(tokens).where(tokens.c.id == token_id)).one()
    return token, _listed(row)


def list_tokens(conn: Connection) -> list[dict[str, Any]]:
    """Every token, oldest first, as `token list --json` shows them (never the token)."""
    return [_listed(r) for r in conn.execute(select(tokens).order_by(tokens.c.id))]


def revoke(conn: Connection, token_id: int, *, now: datetime) -> dict[str, Any]:
    """Refuse the token from now on. Revoking twice changes nothing and says when it was."""
    row = conn.execute(select(tokens).where(tokens.c.id == token_id)).first()
    if row is None:
        raise TokenNotFound(token_id)
    if row.revoked_at is None:
        conn.execute(
            tokens.update()
            .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        row = conn.execute(select(tokens).where(tokens.c.id == token_id)).one()
    return _listed(row)


_BY_HASH = select(tokens.c.id, tokens.c.expires_at, tokens.c.revoked_at, tokens.c.person).where(
    tokens.c.token_hash == bindparam("h")
)


def authenticate(conn: Connection, token: str | None, *, now: datetime) -> Actor:
    """The person a bearer token acts as, with their roles; TokenRefused otherwise."""
    if not token:
        raise TokenRefused(
            "This request needs an API token: send it as "
            "'Authorization: Bearer <token>' (`casework token create NAME`)."
        )
    row = conn.execute(_BY_HASH, {"h": digest(token)}).first()
    if row is None:
        raise TokenRefused(
            "This API token is not known. Ask for a new one (`casework token create NAME`)."
        )
    if row.revoked_at is not None:
        raise TokenRefused(
            f"API token {row.id} was revoked on "
            f"{row.revoked_at:%Y-%m-%d %H:%M} UTC; ask for a new one."
        )
    if row.expires_at is not None and row.expires_at <= now:
        raise TokenRefused(
            f"API token {row.id} expired on {row.expires_at:%Y-%m-%d %H:%M} UTC; ask for a new one."
        )
    if directory.is_disabled(conn, row.person):
        raise TokenRefused(
            f"API token {row.id} acts as {row.person}, who is disabled; "
            f"nothing can be done with it until an admin enables them again."
        )
    return directory.actor(conn, row.person)
