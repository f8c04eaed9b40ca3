"""The senior responsible owner (SRO) of a programme (DESIGN section 9).

Each programme names one: a person with role `approver`, named by `sro` in
the programme's file or by an admin (`casework programme sro CODE NAME`, or
the web's admin area), each change a row of the admin log. The bundled files
name none (`init` loads them before anyone exists), so a programme can be
without one: `programme show`, the programmes page and `status` say so, and
a move that needs the SRO is refused naming what is missing.

For the other services:
- `sro_of(conn, code)`: the SRO's name, or None.
- `require_sro(conn, code, needed_for)`: the SRO as an `Actor`, or a
  `RuleViolation` naming the programme and what is missing ("... has no senior
  responsible owner, so <needed_for>: an admin names one ...").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from workflow.errors import PersonNotFound, ProgrammeNotFound, RuleViolation
from workflow.services import admin_log
from workflow.services.admin_log import Admin
from workflow.services.engine import Actor
from workflow.storage.prepared import Prepared
from workflow.storage.tables import people, programmes

ROLE = "approver"
WORDS = "senior responsible owner"


# Read by every offer's rules (the countersignature's facts): prepared, not built each time.
_SRO = Prepared(select(programmes.c.sro).where(programmes.c.code == bindparam("code")))


def sro_of(conn: Connection, code: str) -> str | None:
    """The name of programme `code`'s SRO, or None when it names none."""
    row = _SRO.first(conn, {"code": code})
    if row is None:
        raise ProgrammeNotFound(code)
    return str(row.sro) if row.sro else None


def all_sros(conn: Connection) -> dict[str, str | None]:
    """Every programme's SRO (None where there is none), by code."""
    return {
        r.code: r.sro
        for r in conn.execute(
            select(programmes.c.code, programmes.c.sro).order_by(programmes.c.code)
        )
    }


def without_sro(conn: Connection) -> list[str]:
    """The programmes that name no SRO."""
    return [code for code, name in all_sros(conn).items() if not name]


def _how_to_name(code: str) -> str:
    # Said on every face, so both ways an admin can put it right.
    return (
        f"an admin names one (a person with role {ROLE}) on the Programmes page of the "
        f"admin area, or with `casework programme sro {code} NAME`"
    )


def require_sro(conn: Connection, code: str, needed_for: str) -> Actor:
    """The SRO of programme `code`, able to act; else RuleViolation naming what is missing.

    `needed_for` finishes the sentence "..., so ...": e.g. "a high fraud risk cannot be
    countersigned" or "an overdue review cannot be escalated".
    """
    name = sro_of(conn, code)
    if not name:
        raise RuleViolation(
            f"Programme {code} has no {WORDS}, so {needed_for}: {_how_to_name(code)}."
        )
    row = conn.execute(
        select(people.c.name, people.c.roles, people.c.org, people.c.disabled_at).where(
            people.c.name == name
        )
    ).first()
    if row is None or row.disabled_at is not None or ROLE not in (row.roles or ()):
        why = (
            "no longer exists"
            if row is None
            else "is disabled"
            if row.disabled_at is not None
            else f"is no longer an {ROLE}"
        )
        raise RuleViolation(
            f"Programme {code}'s {WORDS}, {name}, {why}, so {needed_for}: {_how_to_name(code)}."
        )
    return Actor(row.name, frozenset(row.roles), row.org)


def is_sro(conn: Connection, code: str, name: str) -> bool:
    return sro_of(conn, code) == name


def check_candidate(conn: Connection, code: str, name: str) -> None:
    """RuleViolation (or PersonNotFound) unless `name` may be programme `code`'s SRO."""
    row = conn.execute(
        select(people.c.name, people.c.roles, people.c.disabled_at).where(people.c.name == name)
    ).first()
    if row is None:
        raise PersonNotFound(name)
    roles = sorted(row.roles or ())
    if ROLE not in roles:
        raise RuleViolation(
            f"{name} cannot be the {WORDS} of {code}: the {WORDS} must be "
            f"a person with role {ROLE}, and {name} is "
            f"{' and '.join(roles) or 'no role'}."
        )
    if row.disabled_at is not None:
        raise RuleViolation(f"{name} cannot be the {WORDS} of {code}: {name} is disabled.")


def appoint(conn: Connection, code: str, name: str, by: Admin, *, at: Any) -> dict[str, Any]:
    """Name `name` as programme `code`'s SRO, written to the admin log in the same transaction.

    Naming the one already named changes nothing and writes no row (`changed` False).
    """
    admin_log.hold(conn)
    before = sro_of(conn, code)
    check_candidate(conn, code, name)
    if before == name:
        return {"programme": code, "sro": name, "changed": False}
    conn.execute(update(programmes).where(programmes.c.code == code).values(sro=name))
    row = admin_log.append(
        conn, by, "programme_sro", code, before={"sro": before}, after={"sro": name}, at=at
    )
    return {"programme": code, "sro": name, "changed": True, "log": row["id"]}


def programmes_owned(conn: Connection, name: str) -> list[str]:
    """The programmes whose SRO `name` is."""
    return list(
        conn.execute(
            select(programmes.c.code).where(programmes.c.sro == name).order_by(programmes.c.code)
        ).scalars()
    )
