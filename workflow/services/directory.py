"""Organisations and people: who a case belongs to, and who may act on it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import Connection, and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError

from states import DEFINITIONS
from states.errors import DocumentError
from states.money import money_json, parse_money
from states.roles import ROLES
from workflow.services.engine import Actor
from workflow.errors import (
    Malformed,
    OrganisationNotFound,
    PermissionDenied,
    PersonNotFound,
    RuleViolation,
)
from workflow.storage.tables import cases, organisations, people
from workflow.storage.prepared import Prepared

if TYPE_CHECKING:
    from workflow.services.admin_log import Admin
# Reading people and organisations (every command's `--as`, `case list`'s
# names) needs neither the admin log nor the clock: adding one imports them.

CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,39}$")
EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
ORG_KINDS = ("council", "fire", "agency")
PERSON_ROLES = tuple(sorted(ROLES - {"system"}))
RESERVED_NAME = "system"  # the sweep's; DESIGN section 6


def is_reserved(name: str) -> bool:
    """`system`, in any capitalisation: the sweep acts under it, so no person may."""
    return name.strip().casefold() == RESERVED_NAME


def reserved_people(conn: Connection) -> list[str]:
    """People whose name is the sweep's (made before names were checked for it)."""
    return [n for n in conn.execute(select(people.c.name)).scalars() if is_reserved(n)]


def email_problem(field: str, value: str | None) -> list[str]:
    """The same check the outbox makes, so an address taken here can always be mailed."""
    if value is None:
        return []
    # Here, not at the top: reading people needs none of the mail's modules.
    from notifications.message import parse_address

    try:
        if not EMAIL.match(value):
            raise ValueError("no")
        parse_address("To", value)
    except ValueError:
        return [f"{field}: {value!r} is not an email address"]
    return []


def add_org(
    conn: Connection,
    code: str,
    *,
    name: str,
    email: str,
    escalation_email: str | None = None,
    kind: str = "council",
    esg_allocation: str | None = None,
    org_id: str | None = None,
    by: Admin | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Add an organisation; one row of the admin log (`org_add`, what it holds after)."""
    problems: list[str] = []
    if not CODE.match(code):
        problems.append(
            f"code: '{code}' must be capital letters, digits and hyphens "
            f"(the ONS/GSS code, e.g. E06000049)"
        )
    if not name.strip() or any(ord(c) < 32 for c in name):
        problems.append("name: must be given, on one line")
    problems += email_problem("email", email) + email_problem("escalation-email", escalation_email)
    if kind not in ORG_KINDS:
        problems.append(f"kind: '{kind}' is not one of {', '.join(ORG_KINDS)}")
    esg = None
    if esg_allocation is not None:
        try:
            esg = parse_money(esg_allocation, "esg-allocation")
        except DocumentError as err:
            problems += err.problems
    if org_id is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9-]{1,79}$", org_id):
        problems.append(f"org-id: '{org_id}' is not an org-id such as GB-LAE-MAN")
    elif org_id is not None:
        problems += org_id_taken(conn, org_id, code)
    if problems:
        raise Malformed(f"Organisation {code}", problems)
    if conn.execute(select(organisations.c.code).where(organisations.c.code == code)).first():
        raise RuleViolation(f"Organisation {code} already exists.")
    row = dict(
        code=code,
        name=name,
        email=email,
        escalation_email=escalation_email,
        kind=kind,
        esg_allocation_pence=esg,
        org_id=org_id,
    )
    from workflow import clock
    from workflow.services import admin_log
    from workflow.services.admin_log import Admin

    admin_log.hold(conn)
    conn.execute(organisations.insert().values(**row))
    admin_log.append(
        conn,
        by or Admin.operator(),
        "org_add",
        code,
        before=None,
        after=org_json(row),
        at=at or clock.now(),
    )
    return org_json(row)


def org_id_taken(conn: Connection, org_id: str, code: str) -> list[str]:
    """The problem when another organisation already carries this 360Giving org-id: one
    id is one recipient, and a second holder would publish two councils as one."""
    held = conn.execute(
        select(organisations.c.code, organisations.c.name).where(
            func.upper(organisations.c.org_id) == org_id.upper(), organisations.c.code != code
        )
    ).first()
    if held is None:
        return []
    return [f"org-id: {org_id} is already the org-id of {held.code} ({held.name})"]


def org_json(row: Any) -> dict[str, Any]:
    m = row if isinstance(row, dict) else row._mapping
    esg = m["esg_allocation_pence"]
    return {
        "code": m["code"],
        "name": m["name"],
        "email": m["email"],
        "escalation_email": m["escalation_email"],
        "kind": m["kind"],
        "esg_allocation": money_json(esg) if esg is not None else None,
        "org_id": m["org_id"],
    }


def list_orgs(conn: Connection) -> list[dict[str, Any]]:
    return [org_json(r) for r in conn.execute(select(organisations).order_by(organisations.c.code))]


def get_org(conn: Connection, code: str) -> Any:
    row = conn.execute(select(organisations).where(organisations.c.code == code)).first()
    if row is None:
        raise OrganisationNotFound(code)
    return row


def add_user(
    conn: Connection,
    name: str,
    *,
    roles: Iterable[str],
    email: str | None = None,
    org: str | None = None,
    by: Admin | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Add a person with roles; one row of the admin log (`user_add`, what they hold)."""
    roles = sorted(set(roles))
    problems: list[str] = []
    if not NAME.match(name):
        problems.append(f"name: '{name}' must be letters, digits, dots, hyphens or underscores")
    elif is_reserved(name):
        problems.append(
            f"name: '{name}' is the sweep's name (system, in any capitalisation) "
            f"and cannot be given to a person"
        )
    if not roles:
        problems.append("role: give at least one --role")
    for r in roles:
        if r not in PERSON_ROLES:
            problems.append(f"role: '{r}' is not one of {', '.join(PERSON_ROLES)}")
    if "council" in roles and not org:
        problems.append("org: a council person needs --org, the organisation they belong to")
    problems += email_problem("email", email)
    if problems:
        raise Malformed(f"Person {name}", problems)
    if org is not None:
        get_org(conn, org)
    from workflow import clock
    from workflow.services import admin_log
    from workflow.services.admin_log import Admin

    admin_log.hold(conn)
    try:
        with conn.begin_nested():
            conn.execute(people.insert().values(name=name, roles=roles, email=email, org=org))
    except IntegrityError:
        raise RuleViolation(f"A person called '{name}' already exists.") from None
    added = {"name": name, "roles": roles, "email": email, "org": org}
    admin_log.append(
        conn,
        by or Admin.operator(),
        "user_add",
        name,
        before=None,
        after=added,
        at=at or clock.now(),
    )
    return added


def list_users(conn: Connection) -> list[dict[str, Any]]:
    return [person_json(r) for r in conn.execute(select(people).order_by(people.c.name))]


def open_cases_of(conn: Connection, name: str) -> int:
    """How many cases not yet finished have `name` as their caseworker."""
    unfinished = or_(
        *(
            and_(cases.c.kind == kind, cases.c.state.not_in(sorted(d.final)))
            for kind, d in DEFINITIONS.items()
            if kind in ("bid", "area")
        )
    )
    return int(
        conn.execute(
            select(func.count()).select_from(cases).where(cases.c.caseworker == name, unfinished)
        ).scalar()
        or 0
    )


def person_json(r: Any) -> dict[str, Any]:
    from workflow.services.chain import moment

    return {
        "name": r.name,
        "roles": list(r.roles),
        "email": r.email,
        "org": r.org,
        "disabled": r.disabled_at is not None,
        "disabled_at": moment(r.disabled_at) if r.disabled_at is not None else None,
    }


_ACTOR_Q = Prepared(
    select(people.c.name, people.c.roles, people.c.org, people.c.disabled_at).where(
        people.c.name == bindparam("name")
    )
)


def actor(conn: Connection, name: str) -> Actor:
    """The person acting, with their roles; `system` is the sweep. A disabled person is
    refused here, so they can act on no face (their history keeps their name)."""
    if name == "system":
        return Actor.system()
    row = _ACTOR_Q.first(conn, {"name": name})
    if row is None:
        raise PersonNotFound(name)
    if row.disabled_at is not None:
        raise PermissionDenied(disabled_words(row.name), person=row.name)
    return Actor(row.name, frozenset(row.roles), row.org)


def actor_row(conn: Connection, name: str) -> Any:
    """A person's row (roles, organisation, when disabled), whether or not they may act."""
    row = conn.execute(select(people).where(people.c.name == name)).first()
    if row is None:
        raise PersonNotFound(name)
    return row


def disabled_words(name: str) -> str:
    return (
        f"{name} is disabled, so they cannot sign in, use an API token or act "
        f"(an admin can enable them again)."
    )


def is_disabled(conn: Connection, name: str) -> bool:
    row = conn.execute(select(people.c.disabled_at).where(people.c.name == name)).first()
    return row is not None and row.disabled_at is not None


def email_of(conn: Connection, name: str | None) -> str | None:
    if not name:
        return None
    row = conn.execute(select(people.c.email).where(people.c.name == name)).first()
    return row.email if row else None
