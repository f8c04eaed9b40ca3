"""Gathering the facts a guard needs, in the transaction that will act on them."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from states.documents import AreaApplication, BidApplication
from states.facts import CheckpointFacts, Facts, OrgFacts, Score
from workflow import programmes as programme_store
from workflow.models import cases, checkpoints, declarations, organisations, scores

# Offers still live in a category: an offer made and not given back.
LIVE_OFFER_STATES = ("award_offered", "in_monitoring", "suspended", "closed")


def _org(row: Any) -> OrgFacts:
    return OrgFacts(code=row.code, name=row.name, kind=row.kind,
                    esg_allocation_pence=row.esg_allocation_pence)


def application_of(case: Any) -> BidApplication | AreaApplication:
    if case.kind == "bid":
        return BidApplication.from_json(case.application)
    return AreaApplication.from_json(case.application)


def organisations_by_code(conn: Connection, codes: list[str]) -> dict[str, OrgFacts]:
    if not codes:
        return {}
    rows = conn.execute(select(organisations).where(organisations.c.code.in_(codes)))
    return {r.code: _org(r) for r in rows}


def live_offers(conn: Connection, programme: str, category: str | None,
                leave_out_case: int) -> int:
    q = select(func.count()).select_from(cases).where(
        cases.c.programme == programme, cases.c.category == category,
        cases.c.state.in_(LIVE_OFFER_STATES), cases.c.id != leave_out_case)
    return int(conn.execute(q).scalar() or 0)


def _assessment(conn: Connection, case_id: int) -> dict[str, Any]:
    rows = list(conn.execute(select(scores).where(scores.c.case_id == case_id)
                             .order_by(scores.c.id)))
    decl = list(conn.execute(select(declarations).where(declarations.c.case_id == case_id)))
    agreed = [r for r in rows if r.agreed]
    return {
        "scores": tuple(Score(r.assessor, r.innovation, r.costs, r.savings)
                        for r in rows if not r.agreed),
        "agreed_score": (Score(agreed[-1].assessor, agreed[-1].innovation, agreed[-1].costs,
                               agreed[-1].savings) if agreed else None),
        "conflicted": frozenset(d.person for d in decl if d.conflict),
        "declared_no_conflict": frozenset(d.person for d in decl if not d.conflict),
    }


def checkpoint_facts(conn: Connection, case_id: int) -> tuple[CheckpointFacts, ...]:
    rows = conn.execute(select(checkpoints.c.ref, checkpoints.c.state, checkpoints.c.due)
                        .where(checkpoints.c.case_id == case_id).order_by(checkpoints.c.n))
    return tuple(CheckpointFacts(r.ref, r.state, r.due) for r in rows)


def facts_for(conn: Connection, case: Any, *, actor: str, now: datetime,
              figures: dict | None = None) -> Facts:
    """Everything the rules may ask about `case`, read in the caller's transaction."""
    spec = programme_store.spec_for(conn, case.programme)
    orgs = organisations_by_code(conn, [case.lead, *case.partners] if case.kind == "bid"
                                 else [case.lead])
    extra: dict[str, Any] = {}
    if case.kind == "bid":
        extra = _assessment(conn, case.id)
        extra["committed_pence"] = programme_store.committed_pence(
            conn, case.programme, leave_out_case=case.id)
        extra["offers_in_category"] = live_offers(conn, case.programme, case.category, case.id)
    return Facts(
        kind=case.kind, ref=case.ref, programme=spec, application=application_of(case),
        lead=orgs.get(case.lead),
        partners=tuple(orgs[p] for p in case.partners if p in orgs) if case.kind == "bid" else (),
        actor=actor, now=now, contribution_pence=case.contribution_pence,
        checkpoints=checkpoint_facts(conn, case.id), figures=figures or {}, **extra)
