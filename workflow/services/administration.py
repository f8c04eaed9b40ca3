"""Administration that leaves a trace (DESIGN section 10): organisations, people's roles and
standing, each change one row of the admin log in the same transaction as the change.

Every function takes the connection of the caller's transaction, the `Admin` making the
change and the moment; a refusal raises before anything is written (and the caller's
transaction rolls back whatever it did). A change that changes nothing writes no row and
says so (`changed` False).

Who may make them: on the command line the server's operator (who holds the database
anyway, so the row names their login); on the web a person with role `admin`
(`require_admin`), whose name the row carries.

The programmes' own changes (a file loaded, an SRO named) are in programme_files and sro.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Iterable

from sqlalchemy import Connection, select, update

from states import DEFINITIONS
from states.errors import DocumentError
from states.money import parse_money, pounds
from workflow.errors import Malformed, PermissionDenied, PersonNotFound, RuleViolation
from workflow.services import admin_log, directory
from workflow.services import programme_files as programme_store
from workflow.services.admin_log import Admin
from workflow.services.chain import moment
from workflow.services.engine import Actor
from workflow.storage.tables import cases, organisations, people, programmes

ADMIN = "admin"
ORG_FIELDS = ("name", "email", "escalation_email", "esg_allocation", "org_id")
ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{1,79}$")


def require_admin(actor: Actor, what: str) -> Admin:
    """The web's admin area: only a person with role `admin` may `what`."""
    if ADMIN not in actor.roles:
        raise PermissionDenied(
            f"{actor.name} may not {what}: only an admin may.", person=actor.name
        )
    return Admin(actor.name, ADMIN)


# --- organisations --------------------------------------------------------------------
def update_org(
    conn: Connection,
    code: str,
    by: Admin,
    *,
    at: datetime,
    name: str | None = None,
    email: str | None = None,
    escalation_email: str | None = None,
    esg_allocation: str | None = None,
    org_id: str | None = None,
) -> dict[str, Any]:
    """Change what is given of an organisation (an empty text clears an optional field:
    escalation email, ESG allocation, org-id). One admin-log row with the fields changed.

    A lower ESG allocation that would put a case already submitted above its ESG top-up's
    limit is refused, naming the cases.
    """
    admin_log.hold(conn)
    row = directory.get_org(conn, code)  # OrganisationNotFound: nothing written
    current = directory.org_json(row)
    wanted: dict[str, Any] = {}
    problems: list[str] = []
    if name is not None:
        if not name.strip() or any(ord(c) < 32 for c in name):
            problems.append("name: must be given, on one line")
        wanted["name"] = name
    if email is not None:
        problems += directory.email_problem("email", email)
        wanted["email"] = email
    if escalation_email is not None:
        value = escalation_email.strip() or None
        problems += directory.email_problem("escalation-email", value)
        wanted["escalation_email"] = value
    esg_pence: int | None = row.esg_allocation_pence
    if esg_allocation is not None:
        if esg_allocation.strip():
            try:
                esg_pence = parse_money(esg_allocation, "esg-allocation")
            except DocumentError as err:
                problems += err.problems
        else:
            esg_pence = None
        wanted["esg_allocation_pence"] = esg_pence
    if org_id is not None:
        value = org_id.strip() or None
        if value is not None and not ORG_ID.match(value):
            problems.append(f"org-id: '{value}' is not an org-id such as GB-LAE-MAN")
        elif value is not None:
            problems += directory.org_id_taken(conn, value, code)
        wanted["org_id"] = value
    if not wanted:
        problems.append(
            "give at least one of --name, --email, --escalation-email, --esg-allocation, --org-id"
        )
    if problems:
        raise Malformed(f"Organisation {code}", problems)
    if "esg_allocation_pence" in wanted and esg_pence != row.esg_allocation_pence:
        _check_esg(conn, code, esg_pence)
    after_row = {**row._mapping, **wanted}
    before, after = admin_log.changed(current, directory.org_json(after_row))
    if not before and not after:
        return {**current, "changed": False}
    conn.execute(update(organisations).where(organisations.c.code == code).values(**wanted))
    logged = admin_log.append(conn, by, "org_update", code, before=before, after=after, at=at)
    return {**directory.org_json(after_row), "changed": True, "log": logged["id"]}


def _check_esg(conn: Connection, code: str, allocation: int | None) -> None:
    """RuleViolation naming each case past submission whose ESG top-up the new allocation
    would no longer allow (the rule `submit` and `check` run: states.rules._esg_share)."""
    problems: list[str] = []
    q = (
        select(
            cases.c.ref,
            cases.c.kind,
            cases.c.state,
            cases.c.category,
            cases.c.amount_pence,
            cases.c.programme,
        )
        .where(cases.c.lead == code)
        .order_by(cases.c.id)
    )
    for c in conn.execute(q):
        definition = DEFINITIONS[c.kind]
        if c.state == definition.initial or definition.is_final(c.state) or c.category is None:
            continue
        spec = programme_store.find_spec(conn, c.programme)
        category = spec.categories.get(c.category) if spec else None
        if category is None or not (category.needs_esg_allocation or category.esg_share):
            continue
        if allocation is None:
            problems.append(f"{c.ref} is an ESG top-up, which needs the lead's ESG allocation")
            continue
        if category.esg_share is None or c.amount_pence is None:
            continue
        limit = int((Decimal(allocation) * category.esg_share).to_integral_value(ROUND_FLOOR))
        if c.amount_pence > limit:
            share = (category.esg_share * 100).normalize()
            problems.append(
                f"{c.ref} asks for {pounds(c.amount_pence)}, above "
                f"{pounds(limit)} ({share:f}% of {pounds(allocation)})"
            )
    if problems:
        raise RuleViolation(
            f"Organisation {code}'s ESG allocation was not changed: it would "
            f"break the rules for cases already submitted: " + "; ".join(problems) + ".",
            problems,
        )


# --- people -------------------------------------------------------------------------
def _person(conn: Connection, name: str) -> Any:
    row = conn.execute(select(people).where(people.c.name == name)).first()
    if row is None:
        raise PersonNotFound(name)
    return row


def _active_admins(conn: Connection) -> list[str]:
    return [
        r.name
        for r in conn.execute(
            select(people.c.name, people.c.roles).where(people.c.disabled_at.is_(None))
        )
        if ADMIN in (r.roles or ())
    ]


def _sro_of(conn: Connection, name: str) -> list[str]:
    return list(
        conn.execute(
            select(programmes.c.code).where(programmes.c.sro == name).order_by(programmes.c.code)
        ).scalars()
    )


def set_disabled(
    conn: Connection, name: str, disabled: bool, by: Admin, *, at: datetime
) -> dict[str, Any]:
    """Disable a person (no sign-in, token or action from now; their history stays) or
    enable them again. Disabling the last admin who can act, or a programme's SRO, is
    refused; so is disabling yourself on the web."""
    admin_log.hold(conn)
    row = _person(conn, name)
    was = row.disabled_at is not None
    if was == disabled:
        return {**directory.person_json(row), "changed": False}
    if disabled:
        if by.role == ADMIN and by.name == name:
            raise RuleViolation(f"{name} cannot disable themselves; another admin can.")
        if ADMIN in (row.roles or ()) and _active_admins(conn) == [name]:
            raise RuleViolation(
                f"{name} is the last admin who can act, so they cannot be "
                f"disabled: give another person the role admin first."
            )
        owned = _sro_of(conn, name)
        if owned:
            raise RuleViolation(
                f"{name} is the senior responsible owner of "
                f"{', '.join(owned)}, so they cannot be disabled: name "
                f"another first (casework programme sro CODE NAME)."
            )
    value = at if disabled else None
    conn.execute(update(people).where(people.c.name == name).values(disabled_at=value))
    logged = admin_log.append(
        conn,
        by,
        "user_disable" if disabled else "user_enable",
        name,
        before={"disabled_at": moment(row.disabled_at) if was else None},
        after={"disabled_at": moment(at) if disabled else None},
        at=at,
    )
    found = _person(conn, name)
    return {**directory.person_json(found), "changed": True, "log": logged["id"]}


def change_roles(
    conn: Connection,
    name: str,
    by: Admin,
    *,
    at: datetime,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> dict[str, Any]:
    """Give a person roles and take others away; one admin-log row with the roles before
    and after. A person keeps at least one role; a council person needs an organisation;
    the last admin who can act keeps role admin; a programme's SRO keeps role approver."""
    add, remove = sorted(set(add)), sorted(set(remove))
    problems = [
        f"role: '{r}' is not one of {', '.join(directory.PERSON_ROLES)}"
        for r in [*add, *remove]
        if r not in directory.PERSON_ROLES
    ]
    both = sorted(set(add) & set(remove))
    if both:
        problems.append(f"role: {', '.join(both)} cannot be both added and removed")
    if not add and not remove:
        problems.append("role: give --add ROLE or --remove ROLE")
    if problems:
        raise Malformed(f"The roles of {name}", problems, plural=True)
    admin_log.hold(conn)
    row = _person(conn, name)
    before = sorted(row.roles or ())
    after = sorted((set(before) | set(add)) - set(remove))
    if after == before:
        return {**directory.person_json(row), "changed": False}
    if (
        ADMIN in before
        and ADMIN not in after
        and row.disabled_at is None
        and _active_admins(conn) == [name]
    ):
        raise RuleViolation(
            f"{name} is the last admin who can act, so the role admin cannot "
            f"be taken from them: give it to another person first."
        )
    if by.role == ADMIN and by.name == name and ADMIN not in after:
        raise RuleViolation(
            f"{name} cannot take the role admin from themselves; another admin can."
        )
    if "approver" in before and "approver" not in after:
        owned = _sro_of(conn, name)
        if owned:
            raise RuleViolation(
                f"{name} is the senior responsible owner of "
                f"{', '.join(owned)}, who must be an approver: name another "
                f"first (casework programme sro CODE NAME)."
            )
    if not after:
        raise RuleViolation(
            f"{name} would have no role left; a person keeps at least one "
            f"(disable them instead: casework user disable {name})."
        )
    if "council" in after and "council" not in before and not row.org:
        raise RuleViolation(
            f"{name} belongs to no organisation, so they cannot be given the role council."
        )
    conn.execute(update(people).where(people.c.name == name).values(roles=after))
    logged = admin_log.append(
        conn, by, "user_roles", name, before={"roles": before}, after={"roles": after}, at=at
    )
    return {**directory.person_json(_person(conn, name)), "changed": True, "log": logged["id"]}
