"""Gathering the facts a guard needs, in the transaction that will act on them.

Only what the move's guards read is fetched: each rule declares the groups of
facts it reads (`@reads` in states.rules), so a submit reads the organisations and an offer the
fund ledger, and neither reads the other's.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import Connection, bindparam, func, literal, select

from states.documents import AreaApplication, BidApplication
from states import BID
from states.definition import T
from states.facts import FACT_GROUPS, CheckpointFacts, Facts, OrgFacts, Score
from states.rules import ACTOR_RULES, RULES, facts_read
from workflow.services import controls
from workflow.services import programme_files as programme_store
from workflow.storage.tables import cases, checkpoints, declarations, organisations, scores
from workflow.storage.prepared import Prepared
from states.programme import ProgrammeSpec
from workflow.storage.records import CaseRecord

# Offers still live in a category: an offer made and not given back.
LIVE_OFFER_STATES = BID.group("offer_standing")

EVERYTHING = frozenset(FACT_GROUPS)
_ALL_RULES = {**RULES, **ACTOR_RULES}

_ORG = Prepared(select(organisations).where(organisations.c.code == bindparam("code")))
# Live scores only: those a late conflict set aside count for nothing.
_SCORES = Prepared(
    select(scores)
    .where(scores.c.case_id == bindparam("case_id"), scores.c.set_aside_at.is_(None))
    .order_by(scores.c.id)
)
_DECLARED = Prepared(
    select(declarations.c.person, declarations.c.conflict).where(
        declarations.c.case_id == bindparam("case_id")
    )
)
_CHECKPOINTS = Prepared(
    select(checkpoints.c.ref, checkpoints.c.state, checkpoints.c.due)
    .where(checkpoints.c.case_id == bindparam("case_id"))
    .order_by(checkpoints.c.n)
)
_LIVE_OFFERS = Prepared(
    select(func.count())
    .select_from(cases)
    .where(
        cases.c.programme == bindparam("programme"),
        cases.c.category == bindparam("category"),
        cases.c.state.in_([literal(s) for s in LIVE_OFFER_STATES]),
        cases.c.id != bindparam("case_id"),
    )
)


@lru_cache(maxsize=None)
def _needs(rule_names: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(facts_read(_ALL_RULES[name]) for name in rule_names))


def needs_of(rule_names: Iterable[str]) -> frozenset[str]:
    """The groups of facts to fetch for these rules: what each declares it reads."""
    return _needs(tuple(rule_names))


def reads_ledger(t: T) -> bool:
    """Whether a transition's rules weigh the fund ledger (the move then holds the fund)."""
    return "ledger" in needs_of((*t.guards, *t.actor_rules))


def application_of(case: CaseRecord) -> BidApplication | AreaApplication:
    if case.kind == "bid":
        return BidApplication.from_json(case.document)
    return AreaApplication.from_json(case.document)


def _org(row: Any) -> OrgFacts:
    return OrgFacts(
        code=row.code,
        name=row.name,
        kind=row.kind,
        esg_allocation_pence=row.esg_allocation_pence,
        org_id=row.org_id,
    )


def organisations_by_code(conn: Connection, codes: list[str]) -> dict[str, OrgFacts]:
    # One prepared lookup per code: a bid names two or three organisations.
    out = {}
    for code in dict.fromkeys(codes):
        row = _ORG.first(conn, {"code": code})
        if row is not None:
            out[code] = _org(row)
    return out


def live_offers(conn: Connection, programme: str, category: str | None, leave_out_case: int) -> int:
    return int(
        _LIVE_OFFERS.scalar(
            conn, {"programme": programme, "category": category, "case_id": leave_out_case}
        )
        or 0
    )


def _assessment(conn: Connection, case_id: int) -> dict[str, Any]:
    rows = _SCORES.all(conn, {"case_id": case_id})
    decl = _DECLARED.all(conn, {"case_id": case_id})
    agreed = [r for r in rows if r.agreed]
    return {
        "scores": tuple(
            Score(r.assessor, r.innovation, r.costs, r.savings) for r in rows if not r.agreed
        ),
        "agreed_score": (
            Score(agreed[-1].assessor, agreed[-1].innovation, agreed[-1].costs, agreed[-1].savings)
            if agreed
            else None
        ),
        "conflicted": frozenset(d.person for d in decl if d.conflict),
        "declared_no_conflict": frozenset(d.person for d in decl if not d.conflict),
    }


def checkpoint_facts(conn: Connection, case_id: int) -> tuple[CheckpointFacts, ...]:
    return tuple(
        CheckpointFacts(r.ref, r.state, r.due) for r in _CHECKPOINTS.all(conn, {"case_id": case_id})
    )


def facts_for(
    conn: Connection,
    case: CaseRecord,
    *,
    actor: str,
    now: datetime,
    figures: dict[str, Any] | None = None,
    needs: frozenset[str] = EVERYTHING,
    spec: ProgrammeSpec | None = None,
) -> Facts:
    """What the rules may ask about `case`, read in the caller's transaction.

    `needs` limits the reading to the groups of facts the move's rules use.
    """
    spec = spec or programme_store.spec_for(conn, case.programme)
    extra: dict[str, Any] = {}
    lead = None
    if "organisations" in needs or case.kind != "bid":
        codes = [case.lead, *case.partners] if case.kind == "bid" else [case.lead]
        orgs = organisations_by_code(conn, codes)
        lead = orgs.get(case.lead)
        if case.kind == "bid":
            extra["partners"] = tuple(orgs[p] for p in case.partners if p in orgs)
    if case.kind == "bid":
        if "assessment" in needs:
            extra.update(_assessment(conn, case.id))
        if "ledger" in needs:
            extra["committed_pence"] = programme_store.committed_pence(
                conn, case.programme, leave_out_case=case.id
            )
        if "offers" in needs:
            extra["offers_in_category"] = live_offers(conn, case.programme, case.category, case.id)
    if "checkpoints" in needs:
        extra["checkpoints"] = checkpoint_facts(conn, case.id)
    if "diligence" in needs:
        from workflow.services import diligence  # it builds on this module

        extra.update(diligence.facts_of(conn, case))
    if "countersignature" in needs:
        extra.update(controls.facts(conn, case.id, case.programme))
    return Facts(
        kind=case.kind,
        ref=case.ref,
        programme=spec,
        application=application_of(case),
        lead=lead,
        actor=actor,
        caseworker=case.caseworker,
        now=now,
        contribution_pence=case.contribution_pence,
        figures=figures or {},
        **extra,
    )
