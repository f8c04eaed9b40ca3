"""Assessing a bid: conflict declarations, scores, a moderator's agreed score.

An assessor declares on a bid before scoring it; one who declares a conflict
can never score it. A conflict that comes to light after a "no conflict" may
still be declared while the bid is being assessed: the assessor's score, and
any agreed score settled with it, are then set aside (kept, marked, counted
for nothing), and another assessor scores in their place. Nothing else about
a declaration can change: the history rows are the record people relied on,
and a conflict is never taken back. Each assessor scores once; when
two weighted scores differ by more than the programme's tolerance, a
caseworker who did not assess the bid records an agreed score with a reason.
Every row here is written with its history row, in one transaction.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection, Engine, select

from states import BID
from states.facts import Facts, Score
from states.money import money_json
from states.rules import (
    combined_score,
    has_two_scores,
    no_conflicted_assessor,
    score_problems,
    scores_agree,
    weighted_score,
)
from workflow import errors
from workflow.services import messages, directory
from workflow.services import programme_files as programme_store
from workflow.services.access import may_act
from workflow.services.reads import load_case
from workflow.storage.db import reading
from workflow.errors import Malformed, PermissionDenied, RuleViolation, ValueRefused
from workflow.services.facts import LIVE_OFFER_STATES, facts_for, live_offers
from workflow.services.chain import Entry, change, moment
from workflow.storage.tables import declarations, scores
from workflow.storage.records import CaseRecord
from workflow.services.unit_of_work import UnitOfWork, unit
from states.programme import ProgrammeSpec
from workflow.logs import event

log = logging.getLogger("casework.assessment")

__all__ = [
    "declare",
    "score",
    "agree_score",
    "assessment_of",
    "fund_position",
    "score_text",
    "checked_text",
    "DECLARE_STATES",
    "SCORE_STATES",
]

# An assessor may declare as soon as a bid is found eligible, so conflicts are
# known before assessment starts; scoring happens only under assessment (not
# while the council is answering a clarification question).
DECLARE_STATES = BID.group("declaring")
SCORE_STATES = BID.group("scoring")
MAX_TEXT = 4000  # characters of a comment or reason


# --- declaring --------------------------------------------------------------
def declare(
    work: UnitOfWork | Engine,
    ref: str,
    actor_name: str,
    *,
    conflict: bool,
    reason: str | None = None,
) -> dict[str, Any]:
    """Record an assessor's declaration of (no) conflict of interest on bid `ref`."""
    reason = checked_text("reason", reason)
    with unit(work) as uow:
        conn = uow.conn
        case = _bid(conn, ref, "have interests declared on it", lock=True)
        actor = directory.actor(conn, actor_name)
        role = may_act(actor, "declare", case.lead, f"declare an interest on {case.ref}")
        _in_state(case, DECLARE_STATES, "take declarations of interest")
        if conflict and not reason:
            raise RuleViolation(
                f"A conflict of interest on {case.ref} needs its reason: say what the conflict is."
            )
        now = uow.now
        payload = _write_declaration(conn, case, actor.name, conflict, reason, now)
        seq = _record(
            conn,
            case,
            Entry(
                from_state=case.state,
                to_state=case.state,
                trigger="declare",
                actor=actor.name,
                role=role,
                at=now,
                reason=reason,
                payload=payload,
            ),
        )
        if payload.get("set_aside"):
            # The caseworker finds the stand-in; the conflict itself stays in the system.
            messages.queue(
                conn,
                key=f"{case.ref}:declare:{seq}",
                kind="bid.conflict_declared",
                case=case,
                spec=uow.spec(case.programme),
                to=("caseworker",),
                cc=("lead",),
                now=now,
            )
        shown = assessment_of(conn, case.ref)
    event(
        log,
        "bid.declared",
        "conflict" if conflict else "no conflict",
        case=case.ref,
        person=actor.name,
        trigger="declare",
    )
    return shown


def _write_declaration(
    conn: Connection, case: CaseRecord, person: str, conflict: bool, reason: str | None, now: Any
) -> dict[str, Any]:
    """A first declaration, or a conflict found since "no conflict"; the history payload."""
    earlier = _declaration(conn, case.id, person)
    if earlier is None:
        conn.execute(
            declarations.insert().values(
                case_id=case.id, person=person, conflict=conflict, reason=reason, at=now
            )
        )
        return {"conflict": conflict}
    _refuse_redeclaring(case, person, earlier, conflict)
    conn.execute(
        declarations.update()
        .where(declarations.c.id == earlier.id)
        .values(conflict=True, reason=reason, at=now)
    )
    return {
        "conflict": True,
        "earlier": {"conflict": False, "at": moment(earlier.at)},
        "set_aside": _set_aside_scores(conn, case.id, person, now),
    }


def _refuse_redeclaring(case: CaseRecord, person: str, earlier: Any, conflict: bool) -> None:
    """Only a "no conflict" may be followed by a declaration: the conflict found since."""
    if earlier.conflict:
        raise RuleViolation(
            f"{person} already declared {_declared(earlier)} on {case.ref} "
            f"({moment(earlier.at)[:10]}); a conflict of interest cannot be taken back."
        )
    if not conflict:
        raise RuleViolation(
            f"{person} already declared no conflict of interest on {case.ref} "
            f"({moment(earlier.at)[:10]}). If a conflict has come to light since, declare the "
            f"conflict and say what it is: any score of theirs will be set aside."
        )


def _set_aside_scores(
    conn: Connection, case_id: int, person: str, now: Any
) -> list[dict[str, Any]]:
    """Set aside `person`'s live score and, when there was one, the agreed score settled with it.

    Returns what was set aside, for the history row.
    """
    live = list(
        conn.execute(
            select(scores.c.id, scores.c.assessor, scores.c.agreed)
            .where(scores.c.case_id == case_id, scores.c.set_aside_at.is_(None))
            .order_by(scores.c.id)
        )
    )
    if not any(r.assessor == person and not r.agreed for r in live):
        return []  # nothing of theirs went into any score
    touched = [r for r in live if r.agreed or r.assessor == person]
    conn.execute(
        scores.update().where(scores.c.id.in_([r.id for r in touched])).values(set_aside_at=now)
    )
    return [{"assessor": r.assessor, "agreed": bool(r.agreed)} for r in touched]


# --- scoring ----------------------------------------------------------------
def score(
    work: UnitOfWork | Engine,
    ref: str,
    actor_name: str,
    *,
    innovation: int | str,
    costs: int | str,
    savings: int | str,
    comment: str | None = None,
) -> dict[str, Any]:
    """Record one assessor's 0-5 scores for bid `ref` (once; they cannot be changed).
    A score is a whole number; anything else (text a person typed: `states.rules.score_typed`)
    is refused with the scores allowed."""
    given = _scores(actor_name, innovation, costs, savings)
    comment = checked_text("comment", comment)
    with unit(work) as uow:
        conn = uow.conn
        case = _bid(conn, ref, "be scored", lock=True)
        actor = directory.actor(conn, actor_name)
        role = may_act(actor, "score", case.lead, f"score {case.ref}")
        _scorable(case)
        said = _declaration(conn, case.id, actor.name)
        if said is None:
            raise RuleViolation(
                f"{actor.name} has not declared on {case.ref} yet: declare first with "
                f"`casework assess declare {case.ref} --as {actor.name} --no-conflict` "
                f'(or --conflict "why").'
            )
        if said.conflict:
            raise PermissionDenied(
                f"{actor.name} declared a conflict of interest on {case.ref} "
                f"({said.reason}), so they cannot score it: another assessor must.",
                person=actor.name,
                trigger="score",
            )
        mine = _score_row(conn, case.id, actor.name, agreed=False)
        if mine is not None:
            raise RuleViolation(
                f"{actor.name} already scored {case.ref} ({_shown(mine)}, "
                f"{moment(mine.at)[:10]}); a score cannot be changed."
            )
        weighted = weighted_score(given, uow.spec(case.programme).criteria)
        _keep(uow, case, given, weighted, actor.name, role, agreed=False, words=comment)
        shown = assessment_of(conn, case.ref)
    event(log, "bid.scored", "scored", case=case.ref, person=actor.name, trigger="score")
    return shown


def agree_score(
    work: UnitOfWork | Engine,
    ref: str,
    actor_name: str,
    *,
    innovation: int | str,
    costs: int | str,
    savings: int | str,
    reason: str | None,
) -> dict[str, Any]:
    """A moderating caseworker's agreed score, used in place of the assessors' mean."""
    given = _scores(actor_name, innovation, costs, savings)
    reason = checked_text("reason", reason)
    with unit(work) as uow:
        conn = uow.conn
        case = _bid(conn, ref, "have a score agreed", lock=True)
        actor = directory.actor(conn, actor_name)
        role = may_act(actor, "agree_score", case.lead, f"agree a score for {case.ref}")
        _scorable(case)
        if not reason:
            raise RuleViolation(
                f"An agreed score for {case.ref} needs a reason: say why the "
                f"moderator settled on it."
            )
        facts = facts_for(conn, case, actor=actor.name, now=uow.now)
        involved = (
            {s.assessor for s in facts.scores} | facts.conflicted | facts.declared_no_conflict
        )
        if actor.name in involved:
            raise PermissionDenied(
                f"{actor.name} assessed {case.ref}, so they cannot also agree its score: "
                f"another caseworker must moderate it.",
                person=actor.name,
                trigger="agree_score",
            )
        if facts.agreed_score is not None:
            raise RuleViolation(
                f"{case.ref} already has an agreed score from "
                f"{facts.agreed_score.assessor}; it cannot be changed."
            )
        missing = has_two_scores(facts) + no_conflicted_assessor(facts)
        if missing:
            raise RuleViolation(
                f"{case.ref}'s score cannot be agreed yet: " + "; ".join(missing) + ".", missing
            )
        weighted = weighted_score(given, facts.programme.criteria)
        _keep(uow, case, given, weighted, actor.name, role, agreed=True, words=reason)
        shown = assessment_of(conn, case.ref)
    event(
        log,
        "bid.score_agreed",
        "agreed score",
        case=case.ref,
        person=actor.name,
        trigger="agree_score",
    )
    return shown


# --- reading ----------------------------------------------------------------
def assessment_of(engine_or_conn: Engine | Connection, ref: str) -> dict[str, Any]:
    """Every declaration and score of a bid, the combined score, and whether it can be moderated."""
    if isinstance(engine_or_conn, Engine):
        with reading(engine_or_conn) as conn:
            return _assessment(conn, ref)
    return _assessment(engine_or_conn, ref)


def _assessment(conn: Connection, ref: str) -> dict[str, Any]:
    case = _bid(conn, ref, "be assessed")
    rows = list(
        conn.execute(select(scores).where(scores.c.case_id == case.id).order_by(scores.c.id))
    )
    said = list(
        conn.execute(
            select(declarations)
            .where(declarations.c.case_id == case.id)
            .order_by(declarations.c.id)
        )
    )
    live = [r for r in rows if r.set_aside_at is None]
    facts = _assessment_facts(case, programme_store.spec_for(conn, case.programme), live, said)
    criteria = facts.programme.criteria

    def counts(r: Any) -> bool:
        return r.set_aside_at is None and r.assessor not in facts.conflicted

    individual = [_score_json(r, criteria, counts=counts(r)) for r in rows if not r.agreed]
    agreed = [r for r in live if r.agreed]
    counted = [
        weighted_score(Score(r.assessor, r.innovation, r.costs, r.savings), criteria)
        for r in rows
        if not r.agreed and counts(r)
    ]
    waiting = has_two_scores(facts) + no_conflicted_assessor(facts) + scores_agree(facts)
    if not BID.is_in(case.state, "scoring"):
        waiting = [f"{case.ref} is {BID.state_phrase(case.state)}, not under assessment"]
    combined = combined_score(facts)
    return {
        "ref": case.ref,
        "state": case.state,
        "programme": case.programme,
        "category": case.category,
        "amount": money_json(case.pence),
        "criteria": {name: score_text(w) for name, w in criteria.items()},
        "tolerance": facts.programme.score_tolerance,
        "declarations": [
            {
                "person": d.person,
                "conflict": bool(d.conflict),
                "reason": d.reason,
                "at": moment(d.at),
            }
            for d in said
        ],
        "scores": individual,
        "agreed": (
            {
                **_score_json(agreed[-1], criteria, counts=True),
                "moderator": agreed[-1].assessor,
                "reason": agreed[-1].comment,
            }
            if agreed
            else None
        ),
        "agreed_set_aside": [
            {**_score_json(r, criteria, counts=False), "moderator": r.assessor, "reason": r.comment}
            for r in rows
            if r.agreed and r.set_aside_at is not None
        ],
        "spread": score_text(max(counted) - min(counted)) if len(counted) >= 2 else None,
        "combined": score_text(combined) if combined is not None else None,
        "combined_from": ("agreed" if agreed else "mean" if combined is not None else None),
        "can_moderate": not waiting,
        "waiting_for": waiting,
    }


def _assessment_facts(
    case: CaseRecord, spec: ProgrammeSpec, rows: list[Any], said: list[Any]
) -> Facts:
    """The facts the moderation rules read, from rows already in hand (no further queries)."""
    agreed = [r for r in rows if r.agreed]
    return Facts(
        kind="bid",
        ref=case.ref,
        programme=spec,
        scores=tuple(
            Score(r.assessor, r.innovation, r.costs, r.savings) for r in rows if not r.agreed
        ),
        agreed_score=(
            Score(agreed[-1].assessor, agreed[-1].innovation, agreed[-1].costs, agreed[-1].savings)
            if agreed
            else None
        ),
        conflicted=frozenset(d.person for d in said if d.conflict),
        declared_no_conflict=frozenset(d.person for d in said if not d.conflict),
    )


def fund_position(work: UnitOfWork | Engine, code: str) -> dict[str, Any]:
    """The fund, what offers commit, what remains, and each category's offers made / allowed."""
    with unit(work, read_only=True) as uow:
        conn = uow.conn
        spec = uow.spec(code)
        committed = programme_store.committed_pence(conn, spec.code)
        categories = []
        for name, cat in spec.categories.items():
            categories.append(
                {
                    "category": name,
                    "label": cat.label,
                    "offers": live_offers(conn, spec.code, name, leave_out_case=-1),
                    "allowed": cat.max_count,
                    "min_count": cat.min_count,
                    "committed": money_json(
                        programme_store.committed_pence(conn, spec.code, category=name)
                    ),
                }
            )
        return {
            "code": spec.code,
            "name": spec.name,
            "fund": money_json(spec.fund_pence),
            "committed": money_json(committed),
            "remaining": money_json(spec.fund_pence - committed),
            "live_offer_states": list(LIVE_OFFER_STATES),
            "categories": categories,
        }


def score_text(value: Decimal) -> str:
    """A score for people and JSON: two decimals (`"11.00"`, `"10.33"`)."""
    return str(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --- helpers ----------------------------------------------------------------
def _bid(conn: Connection, ref: str, what: str, *, lock: bool = False) -> CaseRecord:
    """The bid `ref`; with `lock`, its row is held until commit (PostgreSQL), so two
    assessors writing to one bid at once queue instead of one being refused.
    SQLite's write transaction already serialises them."""
    case = load_case(conn, ref, hold=lock)
    if case.kind != "bid":
        raise RuleViolation(f"{case.ref} is a network area, not a bid, so it cannot {what}.")
    return case


def _in_state(case: CaseRecord, states: tuple[str, ...], what: str) -> None:
    if case.state not in states:
        allowed = " or ".join(BID.state_phrase(s) for s in states)
        raise RuleViolation(
            f"{case.ref} is {BID.state_phrase(case.state)}, so it cannot "
            f"{what}: that is done while a bid is {allowed}."
        )


def _scorable(case: CaseRecord) -> None:
    if BID.is_in(case.state, "clarifying"):
        raise RuleViolation(
            f"{case.ref} is waiting for the council's answer to a "
            f"clarification question; score it once it is answered."
        )
    _in_state(case, SCORE_STATES, "be scored")


def _scores(actor_name: str, innovation: Any, costs: Any, savings: Any) -> Score:
    given = Score(actor_name, innovation, costs, savings)
    problems = score_problems(given)
    if problems:
        raise Malformed("The scores", problems, plural=True)
    return given


def checked_text(field: str, value: str | None) -> str | None:
    """Text kept as given; blank is none; refused as `states.text` says (every face's one check)."""
    if value is None or not value.strip():
        return None
    errors.checked_text(field, value)
    if len(value) > MAX_TEXT:
        raise ValueRefused(
            f"The {field}", [f"{field}: {len(value):,} characters is more than {MAX_TEXT:,}"]
        )
    return value


def _declaration(conn: Connection, case_id: int, person: str) -> Any:
    return conn.execute(
        select(declarations).where(
            declarations.c.case_id == case_id, declarations.c.person == person
        )
    ).first()


def _score_row(conn: Connection, case_id: int, person: str, *, agreed: bool) -> Any:
    """`person`'s live score (or live agreed score) on the case, if any."""
    return conn.execute(
        select(scores).where(
            scores.c.case_id == case_id,
            scores.c.assessor == person,
            scores.c.agreed == agreed,
            scores.c.set_aside_at.is_(None),
        )
    ).first()


def _declared(row: Any) -> str:
    return f"a conflict of interest ({row.reason})" if row.conflict else "no conflict of interest"


def _shown(row: Any) -> str:
    return f"innovation {row.innovation}, costs {row.costs}, savings {row.savings}"


def _score_json(row: Any, criteria: dict[str, Any], *, counts: bool) -> dict[str, Any]:
    weighted = weighted_score(Score(row.assessor, row.innovation, row.costs, row.savings), criteria)
    return {
        "assessor": row.assessor,
        "innovation": row.innovation,
        "costs": row.costs,
        "savings": row.savings,
        "weighted": score_text(weighted),
        "comment": row.comment,
        "counts": counts,
        "at": moment(row.at),
        "set_aside_at": moment(row.set_aside_at) if row.set_aside_at is not None else None,
    }


def _keep(
    uow: UnitOfWork,
    case: CaseRecord,
    given: Score,
    weighted: Decimal,
    actor: str,
    role: str,
    *,
    agreed: bool,
    words: str | None,
) -> None:
    """`actor`'s score (`score`: `words` its comment) or a moderator's agreed one
    (`agree_score`: `words` the reason): its row, and its history row with the marks."""
    marks = {"innovation": given.innovation, "costs": given.costs, "savings": given.savings}
    uow.conn.execute(
        scores.insert().values(
            case_id=case.id, assessor=actor, **marks, comment=words, agreed=agreed, at=uow.now
        )
    )
    payload: dict[str, Any] = {**marks, "weighted": score_text(weighted)}
    if agreed:
        payload["agreed"] = True
    elif words:
        payload["comment"] = words
    _record(
        uow.conn,
        case,
        Entry(
            from_state=case.state,
            to_state=case.state,
            trigger="agree_score" if agreed else "score",
            actor=actor,
            role=role,
            at=uow.now,
            reason=words if agreed else None,
            payload=payload,
        ),
    )


def _record(conn: Connection, case: CaseRecord, entry: Entry) -> int:
    """Append `entry` to the case's chain; its sequence number."""
    return change(conn, case, entry).last_seq
