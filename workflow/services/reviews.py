"""The annual review of an award (DESIGN.md section 9): scheduling, the sweep's steps,
recording a decision, listing.

- Accepting an award schedules review R1, due twelve months on (the effect
  `schedule_review`); opening a review schedules the next, a year after it,
  while the case is monitored.
- The sweep walks each review's steps (states.review.REVIEW_STEPS) exactly as
  it walks a return's ladder: `review_due` opens it and reminds the caseworker,
  `review_overdue` tells the programme's senior responsible owner; each step
  is one transaction, a no-state history row of the case and at most one
  email keyed `<review>:<step>` (unique in the outbox), missed sweeps caught
  up in order.
- A caseworker records the decision (`record`) from the day it opens, never
  before: a no-state history row `review`. `amend` asks for a variation,
  `stop` suspends the case (its payments held) and puts it to an approver to
  terminate: the bid's definition terminates only from `suspended`, so a
  decision to stop holds the money at once rather than adding a second way to
  terminate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from states import BID
from states.ladder import LadderStep, StepDue, plan_catch_up, step_moments
from states.review import (
    DECISION_WORDS,
    DECISIONS,
    RECORDABLE,
    REVIEW_STEPS,
    STEP_KINDS,
    label,
    review_due_date,
    status_of,
)
from states import dates
from workflow.errors import (
    Malformed,
    PermissionDenied,
    RuleViolation,
    ValueRefused,
    checked_text,
)
from workflow.logs import event
from workflow.services import directory, messages, sro
from workflow.services.access import may_act
from workflow.services.engine import Actor
from workflow.services.calendar import is_working_day, london_day
from workflow.services.chain import Entry, change, moment
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.storage.db import reading
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord
from workflow.storage.tables import cases, reviews

import logging

log = logging.getLogger("casework.reviews")

__all__ = [
    "schedule_review",
    "record",
    "list_reviews",
    "allowed_decisions",
    "review_json",
    "due_for_case",
    "ReviewStep",
    "claim",
    "do_step",
    "MONITORED",
]

MONITORED = BID.group("monitored")  # reviews fall due while the case is monitored
RECORD_TRIGGER = "review"


# --- the times --------------------------------------------------------------------
def moments(due: date) -> list[tuple[LadderStep, datetime]]:
    """Each review step for a review due on `due`, at 09:00 London time, as UTC."""
    return step_moments(due, REVIEW_STEPS, is_working_day)


def _pending(due: date, done: list[str]) -> list[tuple[LadderStep, datetime]]:
    return [(s, at) for s, at in moments(due) if s.name not in done]


def _row(case: CaseRecord, n: int, accepted: date, now: datetime) -> dict[str, Any]:
    due = review_due_date(accepted, n, is_working_day)
    return {
        "ref": f"{case.ref}/{label(n)}",
        "case_id": case.id,
        "n": n,
        "due": due,
        "next_step_at": moments(due)[0][1],
        "steps_done": [],
        "created_at": now,
    }


# --- scheduling (an effect of accept) ------------------------------------------------
def schedule_review(done: Any) -> None:
    """Review R1 of the award just accepted, due twelve months on (no history row: the
    review's own steps write them when it falls due)."""
    conn, case = done.conn, done.after
    exists = conn.execute(select(reviews.c.id).where(reviews.c.case_id == case.id)).first()
    if exists is None:
        conn.execute(reviews.insert().values(_row(case, 1, london_day(done.now), done.now)))


# --- the sweep's steps ----------------------------------------------------------------
_CLAIM = (
    select(reviews)
    .where(reviews.c.next_step_at <= bindparam("now"))
    .order_by(reviews.c.next_step_at, reviews.c.id)
    .limit(1)
)
_CLAIMS = {
    "postgresql": Prepared(_CLAIM.with_for_update(skip_locked=True)),
    "sqlite": Prepared(_CLAIM),
}
_CASE = select(cases).where(cases.c.id == bindparam("case_id"))
_CASE_Q = {
    "postgresql": Prepared(_CASE.with_for_update(), record=CaseRecord),
    "sqlite": Prepared(_CASE, record=CaseRecord),
}


def claim(conn: Connection, now: datetime, failed: set[int]) -> Any:
    """The review whose next step is due soonest (skipping those that failed this sweep)."""
    if failed:
        q = _CLAIM.where(reviews.c.id.not_in(sorted(failed)))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        return conn.execute(q, {"now": now}).first()
    return _CLAIMS[conn.dialect.name].first(conn, {"now": now})


@dataclass
class ReviewStep:
    """What one sweep step of a review did: the step, or None when the review's ladder ended."""

    ref: str
    due: StepDue | None


def do_step(uow: UnitOfWork, row: Any) -> ReviewStep:
    """Do the review's next step due at `uow.now`, in the caller's unit of work."""
    conn, now = uow.conn, uow.now
    case = _CASE_Q[conn.dialect.name].first(conn, {"case_id": row.case_id})
    if case is None:
        raise LookupError(f"no case with id {row.case_id}")
    pending = _pending(row.due, list(row.steps_done))
    if row.recorded_at is not None or not pending:
        _set(conn, row.id, next_step_at=None)
        return ReviewStep(row.ref, None)
    if not BID.is_in(case.state, "monitored"):
        # The case ended (closed, terminated): the review is no longer needed.
        _set(conn, row.id, next_step_at=None, ended_at=now)
        return ReviewStep(row.ref, None)
    # A step that fell due before the review existed is due when it was created.
    pending = [(s, max(at, row.created_at)) for s, at in pending]
    due = plan_catch_up(pending, now, "all")
    if not due:
        _set(conn, row.id, next_step_at=pending[0][1])
        return ReviewStep(row.ref, None)
    first = due[0]
    step = first.step
    later = [at for s, at in pending if s.name != step.name]
    spec = uow.spec(case.programme)
    payload: dict[str, Any] = {
        "review": label(row.n),
        "step": step.name,
        "due": row.due.isoformat(),
        "due_at": moment(first.due_at),
        "done_at": moment(now),
        "late": first.late,
    }
    key = messages.queue(
        conn,
        key=f"{row.ref}:{step.name}",
        kind=STEP_KINDS[step.name],
        case=case,
        spec=spec,
        to=step.to,
        cc=step.cc,
        now=now,
        review=_for_mail(row, _sro_written_to(uow, case) if "sro" in step.to else None),
        book=uow.book,
        step={"name": step.name, "due_at": first.due_at, "late": first.late},
    )
    if key is None:
        payload["message"] = "no recipient on record"
    change(
        conn,
        case,
        Entry(
            from_state=case.state,
            to_state=case.state,
            trigger=step.name,
            actor="system",
            role="system",
            at=now,
            payload=payload,
        ),
    )
    values: dict[str, Any] = {
        "steps_done": [*row.steps_done, step.name],
        "next_step_at": later[0] if later else None,
    }
    if step.name == REVIEW_STEPS[0].name:  # the first step opens the review
        values["opened_at"] = now
        _schedule_next(conn, case, row, now)
    else:
        values["overdue_at"] = now
    _set(conn, row.id, **values)
    return ReviewStep(row.ref, first)


def _schedule_next(conn: Connection, case: Any, row: Any, now: datetime) -> None:
    """The next year's review, counted from the first review's due month (acceptance)."""
    first = conn.execute(
        select(reviews.c.created_at).where(reviews.c.case_id == case.id, reviews.c.n == 1)
    ).first()
    accepted = london_day(first.created_at) if first is not None else row.due
    taken = conn.execute(
        select(reviews.c.id).where(reviews.c.case_id == case.id, reviews.c.n == row.n + 1)
    ).first()
    if taken is None:
        conn.execute(reviews.insert().values(_row(case, row.n + 1, accepted, now)))


def _set(conn: Connection, review_id: int, **values: Any) -> None:
    conn.execute(update(reviews).where(reviews.c.id == review_id).values(**values))


def _sro_written_to(uow: UnitOfWork, case: CaseRecord) -> str | None:
    """The programme's SRO when they have an address to be written to, else None (the
    message then goes to the caseworker: messages.AddressBook.recipients)."""
    name = sro.sro_of(uow.conn, case.programme)
    return name if name and uow.book.email(uow.conn, name) else None


def _for_mail(row: Any, sro_name: str | None = None) -> dict[str, Any]:
    """The review as its email reads it; `sro_name` the SRO it is sent to, when the programme
    names one (else it goes to the caseworker, and says why)."""
    case_ref = row.ref.rsplit("/", 1)[0]
    return {
        "ref": row.ref,
        "label": label(row.n),
        "due": row.due,
        # the case page's annual review section, where the caseworker records it
        "url": f"{messages.base_url()}/cases/{case_ref}#review",
        "sro": sro_name,
    }


# --- recording a decision -----------------------------------------------------------------
def _open_review(conn: Connection, case_id: int) -> Any:
    """The earliest review of the case that is open and not recorded, if any."""
    q = (
        select(reviews)
        .where(
            reviews.c.case_id == case_id,
            reviews.c.opened_at.is_not(None),
            reviews.c.recorded_at.is_(None),
            reviews.c.ended_at.is_(None),
        )
        .order_by(reviews.c.n)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    return conn.execute(q).first()


def record(
    work: UnitOfWork | Engine,
    ref: str,
    *,
    decision: str,
    reason: str | None,
    actor_name: str,
    expected_version: int | None = None,
    amount: str | None = None,
    end: str | None = None,
) -> dict[str, Any]:
    """Record the decision of case `ref`'s open review, as a caseworker.

    Refused, writing nothing: a person who is not a caseworker, a decision that
    is not continue, amend or stop, no reason (or one with control characters),
    and a review that is not due yet (it can be recorded from the day it opens).
    `amend` proposes a variation (services.variations) with the reason, and `amount` (the
    new total) or `end` (the new end date) when given; while another variation of the case
    waits for a decision, the change asked for is recorded and none is proposed.
    """
    from workflow.services import lifecycle

    with unit(work) as uow:
        conn, now = uow.conn, uow.now
        actor = directory.actor(conn, actor_name)
        case = lifecycle.load_case(conn, ref, hold=True)
        role = may_act(actor, "review", case.lead, f"record the annual review of {case.ref}")
        if decision not in DECISIONS:
            raise Malformed.unknown(
                "decision", decision, DECISIONS, lambda d: DECISION_WORDS[d].label
            )
        reason = checked_text("reason", reason)
        if not (reason or "").strip():
            raise ValueRefused(
                "The review",
                [f"reason: a review's decision needs its reason: why the award should {decision}"],
            )
        lifecycle.refuse_stale(case, expected_version)
        review = _open_review(conn, case.id)
        if review is None:
            raise RuleViolation(_not_due(conn, case))
        payload: dict[str, Any] = {"review": label(review.n), "decision": decision}
        if (amount is not None or end is not None) and decision != "amend":
            raise ValueRefused(
                "The review", ["a new amount or end date goes with the decision amend only"]
            )
        if decision == "amend":
            payload["requested_change"] = reason
            proposed = _propose_variation(
                uow, case, review.n, reason or "", actor.name, amount, end
            )
            if proposed is not None:
                payload["variation"] = proposed
                case = lifecycle.load_case(conn, case.ref)  # the proposal's row came first
        after = change(
            conn,
            case,
            Entry(
                from_state=case.state,
                to_state=case.state,
                trigger=RECORD_TRIGGER,
                actor=actor.name,
                role=role,
                reason=reason,
                at=now,
                payload=payload,
            ),
        )
        _set(
            conn,
            review.id,
            decision=decision,
            reason=reason,
            recorded_by=actor.name,
            recorded_at=now,
            next_step_at=None,
        )
        if decision == "stop" and BID.machine.transition_for("suspend", after.state) is not None:
            lifecycle.advance(
                uow,
                after,
                "suspend",
                actor,
                reason=f"the annual review ({label(review.n)}) decided to stop the award: {reason}",
            )
            after = lifecycle.load_case(conn, case.ref)
        shown = {
            **review_json(conn, _by_id(conn, review.id), case.ref),
            "case_state": after.state,
            "case_version": after.version,
            "variation": payload.get("variation"),
        }
    event(log, "review.recorded", decision, case=case.ref, person=actor.name)
    return shown


def refused_decisions(conn: Connection, case: CaseRecord) -> dict[str, str]:
    """The decisions `record` would refuse on `case`'s due review now, each with why, so a
    form offers only those that can succeed. `amend` proposes a variation, which only an award
    open to variation takes (not a suspended one), unless another already waits (the change
    asked for is then recorded alone)."""
    from workflow.services import variations

    why = variations.closed_to_variation(case, "propose")
    if why and _variation_waiting(conn, case.id) is None:
        return {"amend": why}
    return {}


def _variation_waiting(conn: Connection, case_id: int) -> str | None:
    from states import VARIATION
    from workflow.storage.tables import variations as variations_t

    found = conn.execute(
        select(variations_t.c.ref).where(
            variations_t.c.case_id == case_id,
            variations_t.c.state.in_(VARIATION.group("undecided")),
        )
    ).scalar()
    return None if found is None else str(found)


def _propose_variation(
    uow: UnitOfWork,
    case: CaseRecord,
    n: int,
    reason: str,
    actor: str,
    amount: str | None,
    end: str | None,
) -> str | None:
    """The variation an `amend` decision asks for (its reference), or None while another
    waits for a decision (the change asked for stays in the review's row); a new amount or
    end date is then refused, not dropped, since no variation would carry it."""
    from workflow.services import variations

    waiting = _variation_waiting(uow.conn, case.id)
    if waiting is not None:
        asked = " and ".join(w for w, v in (("amount", amount), ("end date", end)) if v)
        if asked:  # never dropped without a word
            raise RuleViolation(
                f"{waiting} is still waiting for a decision, so the new {asked} cannot be "
                f"proposed now: record amend without it (the change asked for is kept with "
                f"the review), or once an approver has decided {waiting}."
            )
        return None
    shown = variations.propose(
        uow,
        case.ref,
        reason=f"Annual review {label(n)}: {reason}",
        actor=actor,
        amount=amount,
        end=end,
    )
    return str(shown["ref"])


def _not_due(conn: Connection, case: CaseRecord) -> str:
    nxt = conn.execute(
        select(reviews.c.ref, reviews.c.due)
        .where(
            reviews.c.case_id == case.id,
            reviews.c.opened_at.is_(None),
            reviews.c.ended_at.is_(None),
        )
        .order_by(reviews.c.n)
        .limit(1)
    ).first()
    if not BID.is_in(case.state, "monitored"):
        return (
            f"{case.ref} is {BID.state_label(case.state).lower()}: annual reviews fall due "
            f"only while an award is monitored, so there is none to record."
        )
    if nxt is None:
        return f"{case.ref} has no annual review to record."
    return (
        f"{case.ref}'s annual review is not due yet: {label(int(nxt.ref.rsplit('R', 1)[1]))} "
        f"falls due on {dates.day(nxt.due)} and can be recorded from then on, not before."
    )


def _by_id(conn: Connection, review_id: int) -> Any:
    return conn.execute(select(reviews).where(reviews.c.id == review_id)).first()


# --- reading ---------------------------------------------------------------------------
def review_json(conn: Connection | None, row: Any, case_ref: str | None = None) -> dict[str, Any]:
    """A review as `--json` and the API give it (codes and ISO 8601 times)."""
    status = status_of(
        opened=row.opened_at is not None,
        overdue=row.overdue_at is not None,
        recorded=row.recorded_at is not None,
        ended=row.ended_at is not None,
    )

    def at(value: datetime | None) -> str | None:
        return moment(value) if value is not None else None

    return {
        "ref": row.ref,
        "case": case_ref or row.ref.rsplit("/", 1)[0],
        "review": label(row.n),
        "due": row.due.isoformat(),
        "status": status,
        "opened_at": at(row.opened_at),
        "overdue_at": at(row.overdue_at),
        "decision": row.decision,
        "reason": row.reason,
        "recorded_by": row.recorded_by,
        "recorded_at": at(row.recorded_at),
    }


def allowed_decisions(
    conn: Connection, case: CaseRecord, status: str, actor: Actor | None
) -> list[str]:
    """The decisions `record` would take on a review of `case` in `status` from `actor` (from
    anyone who may record reviews, when None): none unless the review is due and not yet
    recorded and `actor` may record the case's reviews (access.may_act, as `record` asks), and
    not those `refused_decisions` names (amend on an award closed to variation)."""
    if status not in RECORDABLE:
        return []
    if actor is not None:
        try:
            may_act(actor, "review", case.lead, f"record the annual review of {case.ref}")
        except PermissionDenied:
            return []
    refused = refused_decisions(conn, case)
    return [d for d in DECISIONS if d not in refused]


def list_reviews(
    engine: Engine,
    *,
    due_only: bool = False,
    case: str | None = None,
    programme: str | None = None,
    actor_name: str | None = None,
) -> list[dict[str, Any]]:
    """Every review (by due date), or with `due_only` those open and not yet recorded; each
    with the decisions the person asking (`actor_name`; anyone, when None) may record now."""
    from workflow.services.reads import load_case

    q = (
        select(
            reviews,
            cases.c.ref.label("case_ref"),
            cases.c.caseworker,
            cases.c.programme,
            cases.c.title,
        )
        .join(cases, cases.c.id == reviews.c.case_id)
        .order_by(reviews.c.due, reviews.c.id)
    )
    if due_only:
        q = q.where(
            reviews.c.opened_at.is_not(None),
            reviews.c.recorded_at.is_(None),
            reviews.c.ended_at.is_(None),
        )
    if case:
        q = q.where(cases.c.ref == case.strip().upper())
    if programme:
        q = q.where(cases.c.programme == programme.strip().lower())
    with reading(engine) as conn:
        actor = directory.actor(conn, actor_name) if actor_name else None
        out = []
        for r in conn.execute(q).all():
            shown = review_json(conn, r, r.case_ref)
            allowed = (  # a case is read only for a review that may be recorded now
                allowed_decisions(conn, load_case(conn, r.case_ref), shown["status"], actor)
                if shown["status"] in RECORDABLE
                else []
            )
            out.append(
                {
                    **shown,
                    "caseworker": r.caseworker,
                    "programme": r.programme,
                    "title": r.title,
                    "allowed_decisions": allowed,
                }
            )
        return out


def reviews_of(conn: Connection, case: CaseRecord) -> list[dict[str, Any]]:
    """Every review of one case, oldest first, in the caller's transaction (the case page)."""
    listed = conn.execute(select(reviews).where(reviews.c.case_id == case.id).order_by(reviews.c.n))
    return [review_json(conn, r, case.ref) for r in listed]


def due_for_case() -> Any:
    """A condition on cases: an annual review is open and not recorded (the inbox's group)."""
    from sqlalchemy import exists

    return exists().where(
        reviews.c.case_id == cases.c.id,
        reviews.c.opened_at.is_not(None),
        reviews.c.recorded_at.is_(None),
        reviews.c.ended_at.is_(None),
    )


def decision_label(code: str | None) -> str:
    words = DECISION_WORDS.get(code or "")
    return words.label if words else (code or "")
