"""A programme's ranking: moderated bids best first, and where the fund runs out.

The list holds every bid with a combined score that is moderated or
recommended (still to be decided) or already holds an offer (offered,
accepted, suspended or closed). Best combined score first; equal scores in the
order the bids were opened.

`running_total` is what the programme would have committed once this bid and
every bid above it that fits were offered, counting the offers already made
(whatever their rank) from the start. A bid already offered adds nothing: its
amount is in the total from the first row. A bid that would take the total
past the fund, or its category past its number of awards, is marked
`fits: false` with `stops: "fund"` or `"category count"` and the rule's own
words in `why`, and is not added, so the next bid down is weighed against
what really remains. With `category`, only that category's bids are listed
and weighed, against the whole fund.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from states import BID
from states.facts import Facts, Score
from states.money import money_json
from states.programme import ProgrammeSpec
from states.rules import combined_score, within_category_count, within_fund
from workflow.services import programme_files as programme_store
from workflow.services.assessment import score_text
from workflow.storage.db import reading
from workflow.errors import RuleViolation
from workflow.services.facts import LIVE_OFFER_STATES, application_of
from workflow.storage.tables import cases, declarations, scores
from workflow.storage.records import CaseRecord

__all__ = ["ranking", "CANDIDATE_STATES", "RANKED_STATES"]

CANDIDATE_STATES = BID.group("ranked")
RANKED_STATES = CANDIDATE_STATES + LIVE_OFFER_STATES


def ranking(engine: Engine, code: str, *, category: str | None = None) -> list[dict[str, Any]]:
    """DESIGN's `{ref, category, score, amount, running_total}` best first, and where it stops."""
    with reading(engine) as conn:
        spec = programme_store.spec_for(conn, code)
        if spec.kind != "bids":
            raise RuleViolation(
                f"{spec.code} is a programme of network areas: only bids are scored and ranked."
            )
        if category is not None and category not in spec.categories:
            listed = ", ".join(f"{spec.category_label(c)} ({c})" for c in spec.categories)
            raise RuleViolation(f"{category!r} is not a category of {spec.code}: {listed}.")
        bids = _scored_bids(conn, spec, category)
        committed = programme_store.committed_pence(conn, spec.code)
        made = _offers_by_category(conn, spec.code)
    return _walk(spec, bids, committed, made)


def _scored_bids(
    conn: Connection, spec: ProgrammeSpec, category: str | None
) -> list[tuple[CaseRecord, Facts]]:
    q = (
        select(cases)
        .where(
            cases.c.programme == spec.code, cases.c.kind == "bid", cases.c.state.in_(RANKED_STATES)
        )
        .order_by(cases.c.id)
    )
    if category is not None:
        q = q.where(cases.c.category == category)
    rows = CaseRecord.all(conn.execute(q))
    ids = [r.id for r in rows]
    marks: dict[int, list[Any]] = defaultdict(list)
    conflicted: dict[int, set[str]] = defaultdict(set)
    if ids:
        for s in conn.execute(
            select(scores)
            .where(scores.c.case_id.in_(ids), scores.c.set_aside_at.is_(None))
            .order_by(scores.c.id)
        ):
            marks[s.case_id].append(s)
        for d in conn.execute(
            select(declarations.c.case_id, declarations.c.person).where(
                declarations.c.case_id.in_(ids), declarations.c.conflict.is_(True)
            )
        ):
            conflicted[d.case_id].add(d.person)
    out = []
    for row in rows:
        own = marks[row.id]
        agreed = [s for s in own if s.agreed]
        out.append(
            (
                row,
                Facts(
                    kind="bid",
                    ref=row.ref,
                    programme=spec,
                    application=application_of(row),
                    scores=tuple(
                        Score(s.assessor, s.innovation, s.costs, s.savings)
                        for s in own
                        if not s.agreed
                    ),
                    agreed_score=(
                        Score(
                            agreed[-1].assessor,
                            agreed[-1].innovation,
                            agreed[-1].costs,
                            agreed[-1].savings,
                        )
                        if agreed
                        else None
                    ),
                    conflicted=frozenset(conflicted[row.id]),
                ),
            )
        )
    return out


def _offers_by_category(conn: Connection, code: str) -> dict[str | None, int]:
    q = (
        select(cases.c.category, func.count())
        .where(cases.c.programme == code, cases.c.state.in_(LIVE_OFFER_STATES))
        .group_by(cases.c.category)
    )
    return {r[0]: int(r[1]) for r in conn.execute(q)}


def _walk(
    spec: ProgrammeSpec,
    bids: list[tuple[CaseRecord, Facts]],
    committed: int,
    made: dict[str | None, int],
) -> list[dict[str, Any]]:
    scored = [(combined_score(f), row, f) for row, f in bids]
    # Best first; a bid without a combined score (none counted) goes last.
    scored.sort(key=lambda t: (t[0] is None, -(t[0] or Decimal(0)), t[1].id))
    running, counts, out = committed, dict(made), []
    for value, row, facts in scored:
        offered = row.state in LIVE_OFFER_STATES
        fund: list[str] = []
        count: list[str] = []
        if not offered:
            weighed = Facts(
                kind="bid",
                ref=row.ref,
                programme=spec,
                application=facts.application,
                committed_pence=running,
                offers_in_category=counts.get(row.category, 0),
            )
            fund, count = within_fund(weighed), within_category_count(weighed)
            if not fund and not count:
                running += row.pence
                counts[row.category] = counts.get(row.category, 0) + 1
        why = fund + count
        stops = "fund" if fund else "category count" if count else None
        out.append(
            {
                "ref": row.ref,
                "category": row.category,
                "score": score_text(value) if value is not None else None,
                "amount": money_json(row.pence),
                "running_total": money_json(running),
                "remaining": money_json(spec.fund_pence - running),
                "fits": not why,
                "stops": stops,
                "why": why,
                "state": row.state,
                "offered": offered,
                "title": row.title,
                "lead": row.lead,
            }
        )
    return out
