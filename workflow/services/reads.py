"""Reading cases: one case by its reference, its JSON for the faces, lists, history.

Nothing here changes a case, and nothing here imports what does (the chain
writer's callers, the email, the effects, the documents' parsers): the
command line's `case list` and `case show` import this alone, so they start
quickly. `lifecycle` (opening and advancing) reads through it too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, bindparam, func, or_, select

from states import DEFINITIONS
from states.money import money_json
from workflow.errors import CaseNotFound, OrganisationNotFound, ProgrammeNotFound
from workflow.services import directory
from workflow.services.access import LEAD_ONLY, check_visible
from workflow.services.case_table import CASE_KINDS as CASE_KINDS, check_filters
from workflow.services.engine import Actor, allowed_triggers
from workflow.storage.db import reading
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord
from workflow.storage.tables import case_orgs, cases, organisations, programmes

_CASE_BY_REF = Prepared(select(cases).where(cases.c.ref == bindparam("ref")), record=CaseRecord)
# For a change that should queue behind a concurrent one rather than be refused
# (PostgreSQL; SQLite's write transaction already lets one writer in at a time).
_CASE_BY_REF_HELD = Prepared(
    select(cases).where(cases.c.ref == bindparam("ref")).with_for_update(), record=CaseRecord
)


def load_case(conn: Connection, ref: str, *, hold: bool = False) -> CaseRecord:
    """Case `ref` (CaseNotFound); with `hold`, its row is held until commit on PostgreSQL."""
    read = _CASE_BY_REF_HELD if hold and conn.dialect.name == "postgresql" else _CASE_BY_REF
    # Spaces around a reference pasted from an email or a table are not part of it.
    case = read.first(conn, {"ref": ref.strip().upper()})
    if case is None:
        raise CaseNotFound(ref)
    return case


def case_json(
    conn: Connection, case: CaseRecord, actor: Actor | None = None, *, with_application: bool = True
) -> dict[str, Any]:
    definition = DEFINITIONS[case.kind]
    out: dict[str, Any] = {
        "ref": case.ref,
        "kind": case.kind,
        "programme": case.programme,
        "state": case.state,
        "version": case.version,
        "allowed_triggers": allowed_triggers(definition, case.state, actor, case.lead),
        "title": case.title,
        "category": case.category,
        "lead": case.lead,
        "partners": list(case.partners),
        "caseworker": case.caseworker,
        "at_risk": bool(case.at_risk),
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
    }
    if case.kind == "bid":  # a draft written a page at a time may not say yet
        out["amount"] = money_json(case.amount_pence) if case.amount_pence is not None else None
    else:
        out["contribution"] = (
            money_json(case.contribution_pence) if case.contribution_pence is not None else None
        )
    if with_application:
        out["application"] = dict(case.document)
    return out


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def show(engine: Engine, ref: str, actor_name: str | None = None) -> dict[str, Any]:
    with reading(engine) as conn:
        actor = directory.actor(conn, actor_name) if actor_name else None
        record = load_case(conn, ref)
        if actor is not None:
            check_visible(actor, record)  # another council's case is "not found"
        return case_json(conn, record, actor)


def involving(org: str) -> ColumnElement[bool]:
    """A condition on cases: those `org` leads or is a partner in, read from an index;
    a partner's only once the case has left the states its lead alone sees (a draft)."""
    return and_(
        cases.c.id.in_(select(case_orgs.c.case_id).where(case_orgs.c.org == org)),
        or_(cases.c.lead == org, cases.c.state.not_in(sorted(LEAD_ONLY))),
    )


def list_cases(
    engine: Engine,
    *,
    state: str | None = None,
    kind: str | None = None,
    programme: str | None = None,
    actor_name: str | None = None,
    after_id: int | None = None,
    limit: int | None = None,
    org: str | None = None,
) -> list[dict[str, Any]]:
    """Cases by id; `org` keeps those the organisation leads or is a partner in.

    A kind or state that names nothing is refused (Malformed) rather than
    answered with no cases: a typing mistake must not look like an empty list.
    The command line's table reads its fields through `case_table.table_rows` on a
    SQLite file, with these conditions written as SQL: change both together.
    """
    check_filters(kind, state)
    with reading(engine) as conn:
        actor = directory.actor(conn, actor_name) if actor_name else None
        # A list shows no application documents, so none is read (or parsed).
        q, position = select(*[c for c in cases.c if c.name != "application"]), cases.c.id
        if org:
            # Walked from the organisation's own rows of case_orgs, in case order:
            # a page then costs the same wherever it starts. (`involving`, an IN
            # list, would gather all of the organisation's cases for every page.)
            q = q.join(case_orgs, case_orgs.c.case_id == cases.c.id).where(
                case_orgs.c.org == org,
                or_(case_orgs.c.role == "lead", cases.c.state.not_in(sorted(LEAD_ONLY))),
            )
            position = case_orgs.c.case_id
        q = q.order_by(position)
        if state:
            q = q.where(cases.c.state == state)
        if kind:
            q = q.where(cases.c.kind == kind)
        if programme:
            q = q.where(func.lower(cases.c.programme) == programme.lower())
        if after_id is not None:
            q = q.where(position > after_id)
        if limit is not None:
            q = q.limit(limit)
        return [
            case_json(conn, r, actor, with_application=False)
            for r in CaseRecord.all(conn.execute(q))
        ]


def refuse_unknown(
    conn: Connection,
    *,
    case: str | None = None,
    programme: str | None = None,
    org: str | None = None,
) -> None:
    """Refuse a list's filter that names nothing (CaseNotFound, ProgrammeNotFound,
    OrganisationNotFound), so a mistyped reference or code does not look like an empty list.
    Every face calls it on an empty list only, so a list that has rows costs nothing."""
    if case:
        load_case(conn, case.strip())
    if programme:
        code = programme.strip().lower()
        found = select(programmes.c.code).where(func.lower(programmes.c.code) == code)
        if conn.execute(found).first() is None:
            raise ProgrammeNotFound(programme)
    if org:
        found = select(organisations.c.code).where(organisations.c.code == org.strip())
        if conn.execute(found).first() is None:
            raise OrganisationNotFound(org)


def case_history(engine: Engine, ref: str) -> list[dict[str, Any]]:
    from workflow.services.chain import as_dict, rows_for  # the history's reader, not the list's

    with reading(engine) as conn:
        case = load_case(conn, ref)
        return [as_dict(r) for r in rows_for(conn, case.id)]
