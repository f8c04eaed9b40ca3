"""Variations of an award (DESIGN.md section 8): proposed, then approved or rejected.

Each step is one unit of work: the variation's row (with its version
compared) and one row of its case's history chain written by `chain.change`,
carrying the variation (`payload.variation` = `V1`), so an auditor reads the
case and its variations in one place and every existing row's seal is as it
was. Approval weighs the award as varied by the rules an offer passes
(states.rules, declared on the definition), holding the programme row first
(`awards.lock_fund`) as every move that writes the fund ledger does; it then
reserves an increase or releases a decrease (`awards.vary`), keeps the
agreement's next version, and re-plans the payments not yet paid. That
version's PDF is drawn before the approval's transaction opens (`draw_ahead`:
every face calls it, and `decide` does when given an engine), and kept only
if the text worked out again inside the transaction is the same, as for an
offer (agreements' module notes): the write lock is never held to draw a PDF.

Each step's emails are queued in its own transaction (states.variation declares
them): a proposal tells the approvers one waits for them (for a countersignature
first, when it raises the award above the threshold) and, when a caseworker
proposed it, the lead council; a countersignature tells the other approvers it
may now be decided; a decision tells the lead council, copied to the caseworker.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from states import BID, VARIATION
from states.agreement import AgreementText
from states.definition import Notice
from states.programme import ProgrammeSpec
from states.variation import (
    AWAITING_DECISION,
    PROPOSED_TO_COUNCIL,
    TO_COUNTERSIGN,
    Award,
    ends_in_future,
    refusals,
)
from states.errors import DocumentError
from states.facts import Facts
from states.money import money_json, parse_money, pounds
from states.rules import ACTOR_RULES, RULES
from workflow.errors import (
    CaseworkError,
    ConflictError,
    GuardFailed,
    Malformed,
    NotFound,
    PermissionDenied,
    RuleViolation,
    ValueRefused,
    checked_text,
)
from workflow.logs import event
from workflow.services import agreements, awards, controls, directory, messages, payments
from workflow.services.agreements import Drawn
from workflow.services.access import check_visible, may_act, org_scope
from workflow.services.calendar import london_day
from workflow.services.chain import Entry, change
from workflow.services.engine import Actor, allowed_triggers, plan
from workflow.services.facts import facts_for, needs_of, reads_ledger
from workflow.services.reads import involving, load_case
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.storage.records import CaseRecord
from workflow.storage.tables import cases, history, variations

__all__ = [
    "propose",
    "draw_ahead",
    "decide",
    "countersign",
    "get",
    "list_variations",
    "parse_ref",
    "DECISIONS",
]

log = logging.getLogger("casework.variations")

DECISIONS = ("approve", "reject")  # the faces' words: variation approve|reject
_REF = re.compile(r"(?P<case>[A-Za-z0-9-]+)/V(?P<n>[1-9][0-9]{0,5})", re.IGNORECASE)


class VariationNotFound(NotFound):
    def __init__(self, ref: str):
        self.ref = ref
        super().__init__(f"There is no variation {ref}.")


def parse_ref(ref: str) -> tuple[str, int]:
    """`TCA-2013-0001/V2` -> ("TCA-2013-0001", 2), or Malformed."""
    found = _REF.fullmatch((ref or "").strip())
    if found is None:
        raise Malformed(
            f"The variation '{ref}'", ["it is not a variation's reference, like TCA-2013-0001/V1"]
        )
    return found["case"].upper(), int(found["n"])


# --- proposing -----------------------------------------------------------------
def end_in_future(end_on: date, now: datetime) -> bool:
    """Whether a new end date may be proposed at `now`: it must be after today, in England
    (the rule `propose` refuses by; the web asks it first, to say so at the date's boxes)."""
    return ends_in_future(end_on, london_day(now))


def propose(
    work: UnitOfWork | Engine,
    ref: str,
    *,
    reason: str | None,
    actor: str,
    amount: str | None = None,
    end: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Propose a change to case `ref`'s award: `amount` its new total (pounds), `end` its
    new end date (YYYY-MM-DD), or neither for a change of scope the reason describes."""
    with unit(work) as uow:
        conn, now = uow.conn, uow.now
        case = load_case(conn, ref, hold=True)
        who = directory.actor(conn, actor)
        check_visible(who, case)
        if expected_version is not None and case.version != expected_version:
            raise ConflictError(
                case.ref,
                f"{case.ref} has changed since you looked at it "
                f"(version {case.version}, not {expected_version}); "
                f"nothing of yours was written.",
                current_version=case.version,
            )
        role = may_act(who, "propose_variation", case.lead, f"propose a variation of {case.ref}")
        reason = checked_text("reason", reason)
        problems: list[str] = []  # money or a date written wrongly (422 over HTTP)
        new_total = _amount(amount, problems)
        end_on = _end(end, problems)
        if problems:
            raise ValueRefused(f"The variation of {case.ref}", problems)
        missing = refusals(  # well formed, but not a variation (422)
            _as_it_stands(uow, case), reason=reason, total_pence=new_total, end_on=end_on
        )
        if missing:
            raise RuleViolation(
                f"The variation of {case.ref} was refused: " + "; ".join(missing) + ".", missing
            )
        _refuse_unless_open_to_variation(case, "propose")
        if new_total is not None:
            _refuse_below_paid(conn, case, new_total)
        open_one = conn.execute(
            select(variations.c.ref).where(
                variations.c.case_id == case.id,
                variations.c.state.in_(VARIATION.group("undecided")),
            )
        ).scalar()
        if open_one is not None:
            raise RuleViolation(
                f"{open_one} is still waiting for a decision: an approver "
                f"approves or rejects it before another variation of "
                f"{case.ref} is proposed."
            )
        n = (
            int(
                conn.execute(
                    select(func.coalesce(func.max(variations.c.n), 0)).where(
                        variations.c.case_id == case.id
                    )
                ).scalar()
                or 0
            )
            + 1
        )
        label = f"V{n}"
        conn.execute(
            variations.insert().values(
                ref=f"{case.ref}/{label}",
                case_id=case.id,
                n=n,
                state=VARIATION.initial,
                version=1,
                amount_pence=new_total,
                previous_pence=case.amount_pence or 0,
                end_on=end_on,
                reason=reason,
                proposed_by=who.name,
                proposed_at=now,
            )
        )
        after = change(
            conn,
            case,
            Entry(
                from_state=case.state,
                to_state=case.state,
                trigger="propose_variation",
                actor=who.name,
                role=role,
                reason=reason,
                at=now,
                payload={
                    "variation": label,
                    "amount": money_json(new_total) if new_total is not None else None,
                    "end_on": end_on.isoformat() if end_on else None,
                },
            ),
        )
        row = _row(conn, case.id, n)
        spec = uow.spec(case.programme)
        by_council = role == "council"
        if not by_council:  # the council hears of a change to its award it did not ask
            _tell(
                uow,
                after,
                PROPOSED_TO_COUNCIL,
                row,
                "propose_variation",
                by_council,
                leave_out=(who.name,),
            )
        threshold = spec.countersign_above_pence
        raised = (
            new_total is not None
            and threshold is not None
            and new_total > (case.amount_pence or 0)
            and new_total > threshold
        )
        _tell(
            uow,
            after,
            TO_COUNTERSIGN if raised else AWAITING_DECISION,
            row,
            "propose_variation",
            by_council,
            leave_out=(who.name,),
        )
        shown = _json(conn, row, case.ref, who)
    event(log, "variation.proposed", f"{label} proposed", case=case.ref, person=who.name)
    return shown


def _as_it_stands(uow: UnitOfWork, case: CaseRecord) -> Award:
    """The award a proposal of `case` is weighed against: its total, its agreement's end
    date, today in England and its category's band."""
    latest = agreements.latest(uow.conn, case.id)
    category = uow.spec(case.programme).categories.get(case.category or "")
    return Award(
        amount_pence=case.amount_pence or 0,
        ends_on=latest.end_on if latest is not None else None,
        today=london_day(uow.now),
        band=(category.label or category.name) if category is not None else "",
        least_pence=category.min_pence if category is not None else None,
        most_pence=category.max_pence if category is not None else None,
    )


def _amount(text: str | None, problems: list[str]) -> int | None:
    if text is None:
        return None
    try:
        pence = parse_money(text.strip(), "amount")
    except DocumentError as err:
        problems.extend(err.problems)
        return None
    return pence


def _end(text: str | None, problems: list[str]) -> date | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text.strip()):
        problems.append(f"end: '{text}' is not a date written YYYY-MM-DD (2015-03-31)")
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:  # written right, but no such day: 2015-02-30, 2015-13-01
        problems.append(f"end: '{text}' is not a day of the calendar (no such month or day)")
        return None


def closed_to_variation(case: CaseRecord, what: str) -> str:
    """Why a variation cannot be `what`d (proposed, approved) on `case` now, or "" if it can."""
    if case.kind == "bid" and BID.is_in(case.state, "open_to_variation"):
        return ""
    state = BID.state_label(case.state) if case.kind == "bid" else case.state
    allowed = ", ".join(BID.state_label(s).lower() for s in BID.group("open_to_variation"))
    return f"{case.ref} is {state.lower()}: a variation can be {what}d only on an award {allowed}."


def _refuse_unless_open_to_variation(case: CaseRecord, what: str) -> None:
    why = closed_to_variation(case, what)
    if why:
        raise RuleViolation(why)


# --- deciding ------------------------------------------------------------------
def _refuse_stale(vref: str, row: Any, expected_version: int | None) -> None:
    """The variation as the person saw it (web page, If-Match) must be as it is now."""
    if expected_version is not None and row.version != expected_version:
        raise ConflictError(
            vref,
            f"{vref} has changed since you looked at it (version "
            f"{row.version}, not {expected_version}); nothing of "
            f"yours was written.",
            current_version=row.version,
        )


def _facts(
    uow: UnitOfWork, case: CaseRecord, total: int, label: str, transition: Any, who: Actor
) -> Facts:
    """What the rules of approving or countersigning read: the award as varied to `total`,
    with the countersignatures the variation's own, weighed against the award as it was."""
    facts = facts_for(
        uow.conn,
        _as_varied(case, total),
        actor=who.name,
        now=uow.now,
        spec=uow.spec(case.programme),
        needs=needs_of((*transition.guards, *transition.actor_rules)),
    )
    return replace(facts, **controls.variation_facts(uow.conn, case.id, label, case.amount_pence))


def _agreement_text(
    conn: Connection, case: CaseRecord, spec: ProgrammeSpec, row: Any, now: datetime
) -> AgreementText:
    """What the agreement approving variation `row` of `case` (as it stands before the
    approval) says, made at `now`: the award as varied, the end as varied or as it was."""
    total = row.amount_pence if row.amount_pence is not None else case.amount_pence
    previous = agreements.latest(conn, case.id)
    return agreements.next_text(
        conn,
        replace(case, amount_pence=total),
        spec,
        now=now,
        amount_pence=total or 0,
        end_on=row.end_on or (previous.end_on if previous is not None else None),
        variation=f"V{row.n}",
        reason=row.reason,
        previous_pence=case.amount_pence,
    )


def draw_ahead(engine: Engine, ref: str, decision: str = "approve") -> Drawn | None:
    """The agreement deciding variation `ref` now would keep, drawn outside any write
    transaction (a read-only connection: SQLite's write lock is not taken), to be handed to
    `decide(..., drawn=)`. None when that decision keeps no agreement (a rejection), or when
    the variation cannot be read or approved now: `decide` then says why, in its own
    transaction."""
    if decision != "approve":
        return None
    try:
        case_ref, n = parse_ref(ref)
        with unit(engine, read_only=True) as uow:
            case = load_case(uow.conn, case_ref)
            row = _row(uow.conn, case.id, n)
            if VARIATION.machine.transition_for("approve_variation", row.state) is None:
                return None
            text = _agreement_text(uow.conn, case, uow.spec(case.programme), row, uow.now)
    except CaseworkError:
        return None
    return agreements.drawing(text)


def decide(
    work: UnitOfWork | Engine,
    ref: str,
    decision: str,
    actor: str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
    drawn: Drawn | None = None,
) -> dict[str, Any]:
    """Approve or reject variation `ref` (`TCA-2013-0001/V1`) as `actor`, an approver.

    An approval keeps `drawn`, the agreement drawn before the caller's unit of work opened
    (`draw_ahead`), when the agreement it keeps says exactly what was drawn; given an
    engine, it draws ahead itself before opening its own."""
    if decision not in DECISIONS:
        raise Malformed(f"The decision '{decision}'", [f"it is not one of {', '.join(DECISIONS)}"])
    trigger = f"{decision}_variation"
    case_ref, n = parse_ref(ref)
    if drawn is None and not isinstance(work, UnitOfWork):
        drawn = draw_ahead(work, ref, decision)
    with unit(work) as uow:
        conn, now = uow.conn, uow.now
        reason = checked_text("reason", reason)
        probe = load_case(conn, case_ref)
        t = VARIATION.transition(trigger)
        if t is not None and reads_ledger(t):  # and approval writes it
            awards.lock_fund(conn, probe.programme)  # programme, then case: one order
        case = load_case(conn, case_ref, hold=True)
        who = directory.actor(conn, actor)
        check_visible(who, case)
        row = _row(conn, case.id, n)
        vref = f"{case.ref}/V{n}"
        _refuse_stale(vref, row, expected_version)
        new_total = row.amount_pence if row.amount_pence is not None else case.amount_pence
        transition = VARIATION.machine.transition_for(trigger, row.state)
        facts = None
        if transition is not None and decision == "approve":
            _refuse_unless_open_to_variation(case, "approve")
            facts = _facts(uow, case, new_total or 0, f"V{n}", transition, who)
        move = plan(
            VARIATION,
            vref,
            row.state,
            trigger,
            who,
            lead=case.lead,
            reason=reason,
            facts=facts,
            rules=RULES,
            actor_rules=ACTOR_RULES,
        )
        label = f"V{n}"
        payload: dict[str, Any] = {"variation": label}
        values: dict[str, Any] | None = None
        settled: dict[str, Any] = {
            "state": move.dest,
            "decided_by": who.name,
            "decided_at": now,
            "decision_reason": reason or None,
        }
        if decision == "approve":
            _refuse_below_paid(conn, case, new_total or 0)
            difference = (new_total or 0) - (case.amount_pence or 0)
            awards.vary(conn, case, difference, now)
            text = _agreement_text(conn, case, uow.spec(case.programme), row, now)
            kept = agreements.keep(conn, case, text, now=now, actor=who.name, drawn=drawn)
            settled["agreement_version"] = kept["version"]
            payload.update(amount=money_json(new_total or 0), agreement=kept)
            if difference:
                payload["reserved" if difference > 0 else "released"] = money_json(abs(difference))
                values = {"amount_pence": new_total, "updated_at": now}
        if (
            conn.execute(
                update(variations)
                .where(variations.c.id == row.id, variations.c.version == row.version)
                .values(version=row.version + 1, **settled)
            ).rowcount
            != 1
        ):
            raise ConflictError(vref)
        after = change(
            conn,
            case,
            Entry(
                from_state=case.state,
                to_state=case.state,
                trigger=trigger,
                actor=who.name,
                role=move.role,
                reason=reason or None,
                at=now,
                payload=payload,
            ),
            values=values,
        )
        decided = _row(conn, case.id, n)
        if move.transition.notice is not None:
            _tell(
                uow,
                after,
                move.transition.notice,
                decided,
                trigger,
                _proposed_by_council(conn, case.id, label),
                leave_out=(who.name,),
            )
        if decision == "approve":
            # The payments not yet paid, worked out again for the award as varied (paid ones
            # never change); their rows follow the approval's in the chain.
            payments.replan(
                uow, after, actor=who.name, role=move.role, now=now, spec=uow.spec(case.programme)
            )
        shown = _json(conn, decided, case.ref, who)
    event(
        log,
        "variation.decided",
        f"{label}: {row.state} -> {move.dest}",
        case=case.ref,
        person=who.name,
        trigger=trigger,
    )
    return shown


def countersign(
    work: UnitOfWork | Engine,
    ref: str,
    actor: str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Countersign variation `ref` as a second approver (DESIGN.md section 9): needed when it
    raises the award to a total above the programme's threshold; one who countersigned
    cannot approve it, and no assessor of the bid countersigns."""
    trigger = "countersign_variation"
    case_ref, n = parse_ref(ref)
    with unit(work) as uow:
        conn, now = uow.conn, uow.now
        reason = checked_text("reason", reason)
        case = load_case(conn, case_ref, hold=True)
        who = directory.actor(conn, actor)
        check_visible(who, case)
        row = _row(conn, case.id, n)
        vref, label = f"{case.ref}/V{n}", f"V{n}"
        _refuse_stale(vref, row, expected_version)
        total = row.amount_pence if row.amount_pence is not None else case.amount_pence
        transition = VARIATION.machine.transition_for(trigger, row.state)
        facts = None
        if transition is not None:
            facts = _facts(uow, case, total or 0, label, transition, who)
        move = plan(
            VARIATION,
            vref,
            row.state,
            trigger,
            who,
            lead=case.lead,
            reason=reason,
            facts=facts,
            rules=RULES,
            actor_rules=ACTOR_RULES,
        )
        if (
            conn.execute(
                update(variations)
                .where(variations.c.id == row.id, variations.c.version == row.version)
                .values(version=row.version + 1)
            ).rowcount
            != 1
        ):
            raise ConflictError(vref)
        after = change(
            conn,
            case,
            Entry(
                from_state=case.state,
                to_state=case.state,
                trigger=trigger,
                actor=who.name,
                role=move.role,
                reason=reason or None,
                at=now,
                payload={"variation": label, "amount": money_json(total or 0)},
            ),
        )
        signed = _row(conn, case.id, n)
        if move.transition.notice is not None:  # the others may now decide it
            _tell(
                uow,
                after,
                move.transition.notice,
                signed,
                trigger,
                _proposed_by_council(conn, case.id, label),
                leave_out=(who.name,),
            )
        shown = _json(conn, signed, case.ref, who)
    event(log, "variation.countersigned", label, case=case.ref, person=who.name)
    return shown


# --- telling people ----------------------------------------------------------------
def _tell(
    uow: UnitOfWork,
    case: CaseRecord,
    notice: Notice,
    row: Any,
    trigger: str,
    by_council: bool,
    *,
    leave_out: tuple[str, ...] = (),
) -> str | None:
    """Queue `notice`'s email about variation `row` in the step's own transaction (its key
    names the case, the step and the variation, so each is sent once)."""
    audience = "approvers" if "approvers" in notice.to else "council"
    return messages.queue(
        uow.conn,
        key=f"{case.ref}:{trigger}:V{row.n}:{audience}",
        kind=notice.kind,
        case=case,
        spec=uow.spec(case.programme),
        to=notice.to,
        cc=notice.cc,
        now=uow.now,
        reason=row.decision_reason or None,
        book=uow.book,
        leave_out=leave_out,
        variation=_for_mail(row, case.ref, by_council=by_council),
    )


def _for_mail(row: Any, case_ref: str, *, by_council: bool) -> dict[str, Any]:
    """What the variation's emails say of it, in people's words."""
    root = messages.base_url()
    version = row.agreement_version
    return {
        "ref": row.ref,
        "label": f"V{row.n}",
        "amount": pounds(row.amount_pence) if row.amount_pence is not None else None,
        "previous_amount": pounds(row.previous_pence),
        "end_on": row.end_on,
        "reason": row.reason,
        "proposed_by": row.proposed_by,
        "by_council": by_council,
        "decided_by": row.decided_by,
        "agreement_version": version,
        "agreement_url": (
            f"{root}/cases/{case_ref}/agreement?version={version}" if version else None
        ),
        "url": f"{root}/cases/{case_ref}#variations",
    }


def _proposed_by_council(conn: Connection, case_id: int, label: str) -> bool:
    """Whether variation `label` was proposed by the lead council (its proposal's role)."""
    for r in conn.execute(
        select(history.c.role, history.c.payload).where(
            history.c.case_id == case_id, history.c.trigger == "propose_variation"
        )
    ):
        if (r.payload or {}).get("variation") == label:
            return bool(r.role == "council")
    return False


def _as_varied(case: CaseRecord, total: int) -> CaseRecord:
    """The case as the rules weigh it: its application asking the varied total."""
    application = dict(case.application or {})
    application["amount"] = money_json(total)
    return replace(case, amount_pence=total, application=application)


def _refuse_below_paid(conn: Connection, case: CaseRecord, total: int) -> None:
    paid = payments.paid_pence(conn, case.id)
    if total < paid:
        raise RuleViolation(
            f"{case.ref} has already been paid {pounds(paid)}: a varied award "
            f"of {pounds(total)} would be less than what is paid."
        )


# --- what a decision would meet, before it is offered -------------------------------------
def blocked_decisions(
    uow: UnitOfWork, case: CaseRecord, variation: dict[str, Any], actor_name: str
) -> dict[str, str]:
    """For each decision `actor_name` may take on `variation` (one of `list_variations`), why
    it would be refused now, in words; "" when it would succeed. The same rules and facts as
    `countersign` and `decide` (a reason stands in for the one asked on the form), writing
    nothing, so that a page offers only what can succeed (DESIGN.md section 12)."""
    who = directory.actor(uow.conn, actor_name)
    label = variation["ref"].rsplit("/", 1)[-1]
    total = (
        parse_money(variation["amount"], "amount")
        if variation["amount"] is not None
        else case.amount_pence or 0
    )
    out: dict[str, str] = {}
    for trigger in variation["allowed_triggers"]:
        transition = VARIATION.machine.transition_for(trigger, variation["state"])
        try:
            facts = None
            if transition is not None and trigger != "reject_variation":
                if trigger == "approve_variation":
                    _refuse_unless_open_to_variation(case, "approve")
                    _refuse_below_paid(uow.conn, case, total)
                facts = _facts(uow, case, total, label, transition, who)
            plan(
                VARIATION,
                variation["ref"],
                variation["state"],
                trigger,
                who,
                lead=case.lead,
                reason="(asked on the form)",
                facts=facts,
                rules=RULES,
                actor_rules=ACTOR_RULES,
            )
            out[trigger] = ""
        except (GuardFailed, PermissionDenied, RuleViolation) as err:
            out[trigger] = "; ".join(err.violations) if isinstance(err, GuardFailed) else str(err)
    return out


# --- reading -------------------------------------------------------------------
def _row(conn: Connection, case_id: int, n: int) -> Any:
    row = conn.execute(
        select(variations).where(variations.c.case_id == case_id, variations.c.n == n)
    ).first()
    if row is None:
        ref = conn.execute(select(cases.c.ref).where(cases.c.id == case_id)).scalar()
        raise VariationNotFound(f"{ref}/V{n}")
    return row


def _json(conn: Connection, row: Any, case_ref: str, actor: Actor | None) -> dict[str, Any]:
    lead = conn.execute(select(cases.c.lead).where(cases.c.id == row.case_id)).scalar()
    return {
        "ref": row.ref,
        "case": case_ref,
        "state": row.state,
        "version": row.version,
        "amount": money_json(row.amount_pence) if row.amount_pence is not None else None,
        "previous_amount": money_json(row.previous_pence),
        "end_on": row.end_on.isoformat() if row.end_on else None,
        "reason": row.reason,
        "proposed_by": row.proposed_by,
        "proposed_at": row.proposed_at.isoformat(),
        "decided_by": row.decided_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decision_reason": row.decision_reason,
        "agreement_version": row.agreement_version,
        "allowed_triggers": allowed_triggers(VARIATION, row.state, actor, lead),
    }


def get(work: UnitOfWork | Engine, ref: str, actor_name: str | None = None) -> dict[str, Any]:
    case_ref, n = parse_ref(ref)
    with unit(work, read_only=True) as uow:
        case = load_case(uow.conn, case_ref)
        who = directory.actor(uow.conn, actor_name) if actor_name else None
        if who is not None:
            check_visible(who, case)
        return _json(uow.conn, _row(uow.conn, case.id, n), case.ref, who)


def list_variations(
    work: UnitOfWork | Engine, *, case: str | None = None, actor_name: str | None = None
) -> list[dict[str, Any]]:
    """Variations by case and number; a council person sees its own cases' alone."""
    with unit(work, read_only=True) as uow:
        conn = uow.conn
        who = directory.actor(conn, actor_name) if actor_name else None
        q = (
            select(variations, cases.c.ref.label("case_ref"))
            .join(cases, cases.c.id == variations.c.case_id)
            .order_by(variations.c.case_id, variations.c.n)
        )
        if case is not None:
            found = load_case(conn, case)
            if who is not None:
                check_visible(who, found)
            q = q.where(variations.c.case_id == found.id)
        if who is not None and (scope := org_scope(who)) is not None:
            q = q.where(involving(scope))
        return [_json(conn, r, r.case_ref, who) for r in conn.execute(q)]
