"""Web sign-in passwords, kept only as Argon2id hashes (argon2-cffi).

`set_password` is for whoever runs the server (`casework user passwd NAME`);
`check_password` is for the sign-in page. A name that does not exist, or has
no password, is checked against a dummy hash all the same, so the answer
takes as long as for a real name and never reveals which names exist.
"""

from __future__ import annotations

from typing import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, bindparam, select, update

from workflow.storage.db import reading
from workflow.errors import Malformed, PersonNotFound
from workflow.storage.tables import people

MIN_LENGTH = 10
MAX_LENGTH = 1024
# The password `sample_passwords` gives everyone in a demo database.
DEMO_PASSWORD = "casework-demo"

# argon2-cffi's defaults are RFC 9106's low-memory profile (Argon2id, 64 MiB,
# three passes); tests swap in a cheaper hasher with `use_hasher`.
_hasher = PasswordHasher()
_dummy_hash: str | None = None

_HASH_OF = select(people.c.password_hash).where(people.c.name == bindparam("name"))


def use_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash with `hasher` from now on; returns the one it replaces (for tests)."""
    global _hasher, _dummy_hash
    previous, _hasher, _dummy_hash = _hasher, hasher, None
    return previous


def problems(password: str) -> list[str]:
    """Why a new password is refused, as sentences; empty when it is acceptable."""
    out = []
    if len(password) < MIN_LENGTH:
        out.append(f"the password must be at least {MIN_LENGTH} characters long")
    if len(password) > MAX_LENGTH:
        out.append(f"the password must be at most {MAX_LENGTH} characters long")
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        out.append("the password must be on one line, without control characters")
    if password and not password.strip():
        out.append("the password cannot be only spaces")
    return out


def hash_password(password: str) -> str:
    found = problems(password)
    if found:
        raise Malformed("The new password", found)
    return _hasher.hash(password)


def set_password(engine: Engine, name: str, password: str) -> None:
    """Give `name` a new sign-in password (sessions signed in with the old one end)."""
    digest = hash_password(password)
    with engine.begin() as conn:
        done = conn.execute(
            update(people).where(people.c.name == name).values(password_hash=digest)
        )
        if done.rowcount != 1:
            raise PersonNotFound(name)


def check_password(engine: Engine, name: str, password: str) -> bool:
    """True when `password` is `name`'s; an unknown name or no password is simply False."""
    with reading(engine) as conn:
        row = conn.execute(_HASH_OF, {"name": name}).first()
    stored = row.password_hash if row is not None else None
    if not stored:
        _waste_time(password)
        return False
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(stored):
        # Parameters have been raised since this hash was made: keep the stronger one.
        with engine.begin() as conn:
            conn.execute(
                update(people)
                .where(people.c.name == name, people.c.password_hash == stored)
                .values(password_hash=_hasher.hash(password))
            )
    return True


def sample_passwords(
    engine: Engine, *, password: str = DEMO_PASSWORD, names: Iterable[str] | None = None
) -> list[str]:
    """Give every person (or those named) the same sample password; returns their names.

    For demo databases only. The password is hashed once and the hash shared,
    so a cast of hundreds takes one hash's time.
    """
    digest = hash_password(password)
    with engine.begin() as conn:
        q = select(people.c.name).order_by(people.c.name)
        if names is not None:
            q = q.where(people.c.name.in_(list(names)))
        chosen = list(conn.execute(q).scalars())
        if chosen:
            conn.execute(
                update(people).where(people.c.name.in_(chosen)).values(password_hash=digest)
            )
    return chosen


def _waste_time(password: str) -> None:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("not anyone's password at all")
    try:
        _hasher.verify(_dummy_hash, password)
    except VerificationError:
        pass
