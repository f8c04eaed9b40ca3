"""Payments of awards (DESIGN.md section 8): tranches, their moves, recovery, the figures.

A tranche of the programme file's schedule (`[[payments]]`) becomes a
payment of its case (`P1`, `P2`…) when its event happens: the agreement
accepted, a return accepted. Those events, and the case's suspension,
reinstatement, termination and decline, reach payments through the effects
their transitions declare (states/bid.py, states/checkpoint.py), so a
payment's move is in the same unit of work as the move that caused it.

Every move of a payment is a row of its case's chain carrying the payment
(`payment` = `P2`), written by `chain.change`; the payment's own row moves
with a compare-and-set on its version. A move by a person holds the case row
first (PostgreSQL: SELECT ... FOR UPDATE; SQLite: the write transaction), so
two finance people paying at once are served one after the other and the
second is refused: the payment is already paid.

Money is whole pence. The sum of a case's payments that are not cancelled
never exceeds its award (states.payment.tranche_amounts), and `pay` checks
again, against the award as it stands, before any money is recorded.
"""

from __future__ import annotations

import csv
import io
import logging
import time
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from sqlalchemy import Connection, Engine, bindparam, func, literal, select, update
from sqlalchemy.exc import NoResultFound

from states import BID, CHECKPOINT, PAYMENT
from states.errors import DocumentError
from states.facts import Facts
from states.agreement import ScheduleLine
from states.money import money_json, parse_money, pounds
from states.programme import ProgrammeSpec, tranche_event_label
from states.payment import RELEASED_TO_FUND, tranche_amounts
from states.rules import ACTOR_RULES, RULES
from workflow.errors import (
    ConflictError,
    InvalidTransition,
    Malformed,
    NotFound,
    RuleViolation,
    ValueRefused,
    checked_text,
)
from workflow.logs import event
from workflow.services import chain, directory, messages
from workflow.services.access import may_act
from workflow.services.calendar import london_day
from workflow.services.engine import Actor, allowed_triggers, plan
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord
from workflow.storage.tables import (
    cases,
    checkpoints,
    history,
    organisations,
    paid_totals,
    payments,
    recoveries,
)

if TYPE_CHECKING:
    from workflow.services.effects import MoveDone

log = logging.getLogger("casework.payments")

UNPAID = PAYMENT.group("unpaid")
HOLDABLE = PAYMENT.group("holdable")
ON_HOLD = PAYMENT.group("on_hold")
SETTLED = PAYMENT.group("settled")
LIVE = PAYMENT.group("live")
PEOPLE_TRIGGERS = ("approve", "pay", "hold", "release")
CASE_HELD_REASON = "case suspended"
MAX_REFERENCE = 100  # characters of a remittance reference

__all__ = [
    "PaymentNotFound",
    "Payment",
    "move",
    "list_payments",
    "get_payment",
    "replan",
    "paid_pence",
    "recover",
    "figures",
    "export",
    "payment_json",
    "EXPORT_COLUMNS",
]


class PaymentNotFound(NotFound):
    def __init__(self, ref: str):
        self.ref = ref
        super().__init__(f"There is no payment {ref}.")


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment as read: a row of `payments`."""

    id: int
    ref: str
    case_id: int
    programme: str
    n: int
    tranche: int
    event: str
    state: str
    version: int
    amount_pence: int
    due_on: date
    approved_by: str | None
    approved_at: datetime | None
    paid_by: str | None
    paid_at: datetime | None
    reference: str | None
    held_with_case: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> "Payment":
        m = row._mapping
        return cls(**{name: m[name] for name in cls.__dataclass_fields__})

    @property
    def label(self) -> str:
        return f"P{self.n}"


def _label(ref: str) -> str:
    return ref.rsplit("/", 1)[1]


# --- reading --------------------------------------------------------------------
def load_payment(conn: Connection, ref: str) -> Payment:
    row = conn.execute(select(payments).where(payments.c.ref == ref.strip().upper())).first()
    if row is None:
        raise PaymentNotFound(ref.strip())
    return Payment.of(row)


# Read by every decline and termination (cancel_payments, awards.release): prepared once.
_OF_CASE = Prepared(
    select(payments).where(payments.c.case_id == bindparam("case_id")).order_by(payments.c.n)
)
_CASE_BY_ID = Prepared(select(cases).where(cases.c.id == bindparam("case_id")), record=CaseRecord)
_PAID = Prepared(
    select(func.coalesce(func.sum(payments.c.amount_pence), 0)).where(
        payments.c.case_id == bindparam("case_id"),
        payments.c.state.in_([literal(s) for s in SETTLED]),
    )
)


def _of_case(conn: Connection, case_id: int) -> list[Payment]:
    return [Payment.of(r) for r in _OF_CASE.all(conn, {"case_id": case_id})]


def _case(conn: Connection, case_id: int, *, hold: bool = False) -> CaseRecord:
    if hold and conn.dialect.name == "postgresql":
        return CaseRecord.of(
            conn.execute(select(cases).where(cases.c.id == case_id).with_for_update()).one()
        )
    found = _CASE_BY_ID.first(conn, {"case_id": case_id})
    if found is None:
        raise NoResultFound("No row was found when one was required")  # as Result.one()
    return found


def paid_pence(conn: Connection, case_id: int) -> int:
    """What has been paid of one case's award (for a variation's rule: never below it)."""
    return int(_PAID.scalar(conn, {"case_id": case_id}) or 0)


def scheduled_pence(conn: Connection, case_id: int) -> int:
    """What one case's payments carry that are not cancelled: paid, or still to be paid."""
    return int(
        conn.execute(
            select(func.coalesce(func.sum(payments.c.amount_pence), 0)).where(
                payments.c.case_id == case_id, payments.c.state.in_(LIVE)
            )
        ).scalar()
        or 0
    )


# --- the one writer of a payment's move --------------------------------------------
def _write(
    conn: Connection,
    case: CaseRecord,
    pay: Payment,
    *,
    trigger: str,
    dest: str,
    actor: str,
    role: str,
    now: datetime,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
    **values: Any,
) -> tuple[CaseRecord, Payment]:
    """Move payment `pay` to `dest` (compare-and-set on its version) and chain its row."""
    row = {**values, "state": dest, "version": pay.version + 1}
    done = conn.execute(
        update(payments)
        .where(payments.c.id == pay.id, payments.c.version == pay.version)
        .values(**row)
    ).rowcount
    if done != 1:
        raise ConflictError(pay.ref)
    after = chain.change(
        conn,
        case,
        chain.Entry(
            payment=pay.label,
            from_state=pay.state,
            to_state=dest,
            trigger=trigger,
            actor=actor,
            role=role,
            reason=reason,
            at=now,
            payload=payload or {"amount": money_json(values.get("amount_pence", pay.amount_pence))},
        ),
    )
    return after, replace(pay, **row)


# --- tranches falling due (effects of accept and of a return accepted) ------------------
def _appear(
    conn: Connection,
    case: CaseRecord,
    spec: ProgrammeSpec,
    index: int,
    *,
    actor: str,
    role: str,
    now: datetime,
) -> CaseRecord:
    """Tranche `index` (from 0) of the schedule becomes the case's next payment."""
    existing = _of_case(conn, case.id)
    if any(p.tranche == index + 1 for p in existing):
        return case  # already there (an event seen twice)
    tranche = spec.tranches[index]
    fixed = {p.tranche - 1: p.amount_pence for p in existing if p.state in LIVE}
    amount = tranche_amounts(case.amount_pence or 0, [t.share for t in spec.tranches], fixed)[index]
    n = max((p.n for p in existing), default=0) + 1
    ref = f"{case.ref}/P{n}"
    conn.execute(
        payments.insert().values(
            ref=ref,
            case_id=case.id,
            programme=case.programme,
            n=n,
            tranche=index + 1,
            event=tranche.on,
            state=PAYMENT.initial,
            version=1,
            amount_pence=amount,
            due_on=london_day(now),
            held_with_case=False,
            created_at=now,
        )
    )
    case = chain.change(
        conn,
        case,
        chain.Entry(
            payment=f"P{n}",
            from_state=None,
            to_state=PAYMENT.initial,
            trigger="payment_due",
            actor=actor,
            role=role,
            at=now,
            payload={
                "amount": money_json(amount),
                "event": tranche.on,
                "share": str(tranche.share),
            },
        ),
    )
    if BID.is_in(case.state, "held"):  # a return accepted while the case is suspended
        pay = load_payment(conn, ref)
        case, _ = _write(
            conn,
            case,
            pay,
            trigger="hold",
            dest=_held(),
            actor=actor,
            role=role,
            now=now,
            reason=CASE_HELD_REASON,
            held_with_case=True,
        )
    return case


def _held() -> str:
    return ON_HOLD[0]


def open_tranches(done: "MoveDone") -> None:
    """The agreement accepted: the tranches paid on acceptance fall due."""
    case = _case(done.conn, done.case.id)
    for i, tranche in enumerate(done.spec.tranches):
        if tranche.on == "accepted":
            case = _appear(
                done.conn,
                case,
                done.spec,
                i,
                actor=done.actor.name,
                role=done.move.role,
                now=done.now,
            )


def return_tranches(done: "MoveDone") -> None:
    """A return accepted: the tranches it releases fall due (`Q2`, and `last_return` for the
    case's last return)."""
    cp = done.checkpoint
    if cp is None or not done.spec.tranches:
        return
    conn = done.conn
    case = _case(conn, cp.case_id)
    last = conn.execute(
        select(func.max(checkpoints.c.n)).where(checkpoints.c.case_id == case.id)
    ).scalar()
    events = {_label(cp.ref)} | ({"last_return"} if cp.n == last else set())
    for i, tranche in enumerate(done.spec.tranches):
        if tranche.on in events:
            case = _appear(
                conn, case, done.spec, i, actor=done.actor.name, role=done.move.role, now=done.now
            )


def _with_case(
    done: "MoveDone",
    trigger: str,
    states: Iterable[str],
    dest: str,
    only_held_with_case: bool = False,
    **values: Any,
) -> CaseRecord:
    """Move each of the case's payments in `states` by `trigger`; the case as it is after
    them (`done.after`, not read again, when there is none to move)."""
    conn = done.conn
    wanted = set(states)
    moving = [
        pay
        for pay in _of_case(conn, done.case.id)
        if pay.state in wanted and (pay.held_with_case or not only_held_with_case)
    ]
    if not moving:
        return done.after
    case = _case(conn, done.case.id)
    for pay in moving:
        case, _ = _write(
            conn,
            case,
            pay,
            trigger=trigger,
            dest=dest,
            actor=done.actor.name,
            role=done.move.role,
            now=done.now,
            reason=CASE_HELD_REASON if trigger == "hold" else None,
            **values,
        )
    return case


def hold_payments(done: "MoveDone") -> CaseRecord:
    """The case suspended: its payments not yet paid are held."""
    return _with_case(done, "hold", HOLDABLE, _held(), held_with_case=True)


def release_payments(done: "MoveDone") -> CaseRecord:
    """The case reinstated: what its suspension held is due again (to be approved again)."""
    return _with_case(
        done,
        "release",
        ON_HOLD,
        PAYMENT.initial,
        only_held_with_case=True,
        held_with_case=False,
        approved_by=None,
        approved_at=None,
    )


def cancel_payments(done: "MoveDone") -> CaseRecord:
    """The award terminated or declined: its payments not yet paid are cancelled."""
    cancelled = next(t.dest for t in PAYMENT.transitions if t.trigger == "cancel")
    return _with_case(done, "cancel", UNPAID, cancelled)


# --- re-planning (a variation of the award) -------------------------------------------
def replan(
    work: UnitOfWork | Connection,
    case: CaseRecord,
    *,
    actor: str,
    role: str,
    now: datetime | None = None,
    spec: ProgrammeSpec | None = None,
) -> CaseRecord:
    """Work out again the payments not yet paid, for the award as it now stands.

    Paid payments never change. An approved payment whose amount changes goes
    back to be approved again. RuleViolation when more is already paid than
    the new award. Returns the case after the rows written.
    """
    conn = work.conn if isinstance(work, UnitOfWork) else work
    when = now or (work.now if isinstance(work, UnitOfWork) else None)
    if when is None:
        from workflow import clock

        when = clock.now()
    if spec is None:
        from workflow.services import programme_files

        spec = (
            work.spec(case.programme)
            if isinstance(work, UnitOfWork)
            else programme_files.spec_for(conn, case.programme)
        )
    existing = _of_case(conn, case.id)
    award = case.amount_pence or 0
    fixed = {p.tranche - 1: p.amount_pence for p in existing if p.state in SETTLED}
    if sum(fixed.values()) > award:
        raise RuleViolation(
            f"{case.ref} has already been paid {pounds(sum(fixed.values()))}, "
            f"more than an award of {pounds(award)}: the award cannot be "
            f"less than what is paid."
        )
    if not spec.tranches:
        return case
    # Tranches still to come keep their places: only those that have appeared are written.
    amounts = tranche_amounts(award, [t.share for t in spec.tranches], fixed)
    for pay in existing:
        if pay.state not in UNPAID:
            continue
        new = amounts[pay.tranche - 1]
        if new == pay.amount_pence:
            continue
        dest = PAYMENT.machine.transition_for("replan", pay.state)
        assert dest is not None
        case, _p = _write(
            conn,
            case,
            pay,
            trigger="replan",
            dest=dest.dest,
            actor=actor,
            role=role,
            now=when,
            payload={"amount": money_json(new), "was": money_json(pay.amount_pence)},
            amount_pence=new,
            approved_by=None,
            approved_at=None,
        )
    return case


# --- a person's move: approve, pay, hold, release ---------------------------------------
def move(
    work: UnitOfWork | Engine,
    ref: str,
    trigger: str,
    actor_name: str,
    *,
    reason: str | None = None,
    reference: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """`approve`, `pay` (with the remittance `reference`), `hold` (with a reason) or `release`
    payment `ref` (`TCA-2013-0001/P2`) as `actor_name`; everything checked before anything is
    written."""
    began = time.perf_counter()
    reason = checked_text("reason", reason)
    if trigger not in PEOPLE_TRIGGERS:
        raise Malformed(
            f"The payment action '{trigger}'", [f"it is not one of {', '.join(PEOPLE_TRIGGERS)}"]
        )
    with unit(work) as uow:
        conn, now = uow.conn, uow.now
        first = load_payment(conn, ref)
        # The case row first: a second payer waits here, then reads the payment as paid.
        case = _case(conn, first.case_id, hold=True)
        pay = load_payment(conn, first.ref)
        actor = directory.actor(conn, actor_name)
        if expected_version is not None and pay.version != expected_version:
            raise ConflictError(
                pay.ref,
                f"{pay.ref} has changed since you looked at it "
                f"(version {pay.version}, not {expected_version}); "
                f"nothing of yours was written.",
                current_version=pay.version,
            )
        spec = uow.spec(case.programme)
        t = PAYMENT.machine.transition_for(trigger, pay.state)
        facts = None
        if t is not None and t.actor_rules:
            facts = Facts(
                kind="payment",
                ref=pay.ref,
                programme=spec,
                actor=actor.name,
                caseworker=case.caseworker,
                now=now,
            )
        try:
            planned = plan(
                PAYMENT,
                pay.ref,
                pay.state,
                trigger,
                actor,
                lead=case.lead,
                reason=reason,
                facts=facts,
                rules=RULES,
                actor_rules=ACTOR_RULES,
            )
        except InvalidTransition as err:
            # "Allowed now" names what this person could do instead, as the payment's
            # listing does: never a move only the system makes (a re-plan, a cancellation).
            raise InvalidTransition(
                pay.ref,
                pay.state,
                trigger,
                [
                    t
                    for t in err.allowed
                    if t in PEOPLE_TRIGGERS
                    and not _refused_now(t, pay, actor, case.state, case.caseworker)
                ],
                definition=PAYMENT,
            ) from None
        values: dict[str, Any] = {}
        payload: dict[str, Any] = {"amount": money_json(pay.amount_pence)}
        if trigger in ("approve", "pay"):
            _refuse_past_award(conn, case, pay)
        if trigger == "approve":
            values.update(approved_by=actor.name, approved_at=now)
        elif trigger == "pay":
            reference = _remittance(reference)
            _refuse_if_suspended(case, pay, "paid")
            _count_paid(conn, case, pay, spec)  # refuses past the fund (all rolled back)
            values.update(paid_by=actor.name, paid_at=now, reference=reference)
            payload["reference"] = reference
        elif trigger == "hold":
            values.update(held_with_case=False)
        elif trigger == "release":
            _refuse_if_suspended(case, pay, "released")
            values.update(held_with_case=False, approved_by=None, approved_at=None)
        after, pay = _write(
            conn,
            case,
            pay,
            trigger=trigger,
            dest=planned.dest,
            actor=actor.name,
            role=planned.role,
            now=now,
            reason=(reason or "").strip() or None,
            payload=payload,
            **values,
        )
        notice = planned.transition.notice
        if notice is not None:
            messages.queue(
                conn,
                key=f"{after.ref}:{trigger}:{pay.label}",
                kind=notice.kind,
                case=after,
                spec=spec,
                to=notice.to,
                cc=notice.cc,
                now=now,
                book=uow.book,
                payment=_for_mail(conn, pay, after),
            )
        shown = _shown(pay, after, actor)
    event(
        log,
        "payment.moved",
        f"{trigger}: {first.state} -> {pay.state}",
        case=after.ref,
        person=actor.name,
        seconds=time.perf_counter() - began,
        trigger=trigger,
        payment=pay.label,
    )
    return shown


def _remittance(reference: str | None) -> str:
    text = (reference or "").strip()
    if not text:
        raise ValueRefused("The payment", ["a remittance reference is needed to record it as paid"])
    # One line of the bank's record and of a payment run's CSV: no control character at
    # all, a tab included (other text a person types may hold tabs; this may not).
    control = next((ch for ch in text if unicodedata.category(ch) == "Cc"), None)
    if control is not None:
        raise ValueRefused(
            "The remittance reference",
            [
                f"it contains a control character (U+{ord(control):04X}); "
                f"a reference is one line of printable text"
            ],
        )
    checked_text("remittance reference", text, one_line=True)  # and no bidirectional controls
    if len(text) > MAX_REFERENCE:
        raise ValueRefused(
            "The remittance reference",
            [f"it is {len(text)} characters long; at most {MAX_REFERENCE}"],
        )
    return text


def _refuse_if_suspended(case: CaseRecord, pay: Payment, what: str) -> None:
    if BID.is_in(case.state, "held"):
        raise RuleViolation(
            f"{case.ref} is suspended, so {pay.ref} cannot be {what}: "
            f"nothing is paid while a case is suspended."
        )


def _refuse_past_award(conn: Connection, case: CaseRecord, pay: Payment) -> None:
    """Never more than the award: what is paid, with this payment, within the award."""
    paid = paid_pence(conn, case.id)
    award = case.amount_pence or 0
    if paid + pay.amount_pence > award:
        raise RuleViolation(
            f"{pay.ref} would bring what is paid of {case.ref} to "
            f"{pounds(paid + pay.amount_pence)}, past its award of "
            f"{pounds(award)}: never more than the award is paid."
        )


def _count_paid(conn: Connection, case: CaseRecord, pay: Payment, spec: ProgrammeSpec) -> None:
    """Add the payment to its programme's paid total, refusing it past the fund.

    The total's row is moved in place (its lock held to commit on PostgreSQL, taken after
    the case row's), so two payments in one programme at once each see the other's.
    """
    conn.execute(_ensure_total(conn).values(programme=case.programme, paid_pence=0, payments=0))
    paid = conn.execute(
        update(paid_totals)
        .where(paid_totals.c.programme == case.programme)
        .values(
            paid_pence=paid_totals.c.paid_pence + pay.amount_pence,
            payments=paid_totals.c.payments + 1,
        )
        .returning(paid_totals.c.paid_pence)
    ).scalar_one()
    if paid > spec.fund_pence:
        raise RuleViolation(
            f"{pay.ref} would bring what {spec.code} has paid to "
            f"{pounds(paid)}, past its fund of {pounds(spec.fund_pence)}."
        )


def _ensure_total(conn: Connection) -> Any:
    """An INSERT of a programme's total row that does nothing when it is there already."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(paid_totals).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(paid_totals).on_conflict_do_nothing()


# --- an award completed with tranches that never fell due -----------------------------
def tell_released(done: "MoveDone", released_pence: int) -> str | None:
    """Queue the lead council's email (its caseworker copied in) saying that `released_pence`
    of its award, released to the fund as the award completed (`awards.release_unscheduled`),
    will not be paid, and why: in the completion's transaction, keyed by its history row."""
    conn, case = done.conn, done.after
    notice = RELEASED_TO_FUND
    tranches, why, reason = _never_due(conn, case, done.spec)
    return messages.queue(
        conn,
        key=f"{case.ref}:released_to_fund:{done.seq}",
        kind=notice.kind,
        case=case,
        spec=done.spec,
        to=notice.to,
        cc=notice.cc,
        now=done.now,
        reason=reason,
        payment={
            "released": pounds(released_pence),
            "tranches": tranches,
            "why": why,
            "kept": pounds(scheduled_pence(conn, case.id)),
            "completed_at": done.now,
        },
    )


def _never_due(
    conn: Connection, case: CaseRecord, spec: ProgrammeSpec
) -> tuple[str, str, str | None]:
    """In words: the tranches that never became payments, why (the state of the return each
    waited for), and the reason recorded when those returns reached that state."""
    made = {p.tranche for p in _of_case(conn, case.id) if p.state in LIVE}
    returns = {
        f"Q{r.n}": r
        for r in conn.execute(
            select(checkpoints.c.n, checkpoints.c.state)
            .where(checkpoints.c.case_id == case.id)
            .order_by(checkpoints.c.n)
        )
    }
    last = next(reversed(returns), None)
    count = len(spec.tranches)
    tranches: list[str] = []
    why: list[str] = []
    labels: list[tuple[str, str]] = []
    for i, tranche in enumerate(spec.tranches):
        if i + 1 in made:
            continue
        event = tranche_event_label(tranche.on)
        tranches.append(
            f"tranche {i + 1} of {count}, {tranche.share.normalize():f}% of the award, "
            f"to be paid {event[0].lower()}{event[1:]}"
        )
        label = last if tranche.on == "last_return" else tranche.on
        found = returns.get(label or "")
        if found is None:
            why.append(f"the event of tranche {i + 1} never happened")
            continue
        state = CHECKPOINT.state_label(found.state).lower()
        why.append(f"the {label} return was {state}, so tranche {i + 1} never fell due")
        labels.append((label or "", found.state))
    if not tranches:  # every tranche fell due before the award was varied upwards
        return (
            "the part of the award that no payment carries",
            "every tranche of the payment schedule had already fallen due",
            None,
        )
    return "; ".join(tranches) + ".", _sentence("; ".join(why)), _reasons(conn, case, labels)


def _sentence(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}." if text else ""


def _reasons(conn: Connection, case: CaseRecord, returns: list[tuple[str, str]]) -> str | None:
    """The reason recorded by the move that brought each return to its state (a waiver's)."""
    said: list[tuple[str, str]] = []
    for label, state in returns:
        reason = conn.execute(
            select(history.c.reason)
            .where(
                history.c.case_id == case.id,
                history.c.checkpoint == label,
                history.c.to_state == state,
            )
            .order_by(history.c.seq.desc())
            .limit(1)
        ).scalar()
        if reason:
            said.append((label, reason.strip()))
    if len(said) == 1:
        return said[0][1]
    return "; ".join(f"{label}: {reason}" for label, reason in said) or None


def _for_mail(conn: Connection, pay: Payment, case: CaseRecord) -> dict[str, Any]:
    paid = paid_pence(conn, case.id)
    # What of the award is still to come: None once it is paid in full, when the email
    # must not promise a next payment.
    rest = (case.amount_pence or 0) - paid
    return {
        "ref": pay.ref,
        "label": pay.label,
        "amount": pounds(pay.amount_pence),
        "reference": pay.reference,
        "paid_at": pay.paid_at,
        "event": tranche_event_label(pay.event),
        "paid_total": pounds(paid),
        "still_to_pay": pounds(rest) if rest > 0 else None,
    }


# --- shapes ---------------------------------------------------------------------------
def payment_json(
    pay: Payment,
    *,
    case_ref: str,
    actor: Actor | None = None,
    lead: str | None = None,
    full: bool = False,
    case_state: str | None = None,
    caseworker: str | None = None,
) -> dict[str, Any]:
    """DESIGN.md's shape `{ref, case, state, amount, due_on, event, reference}`; `full` adds
    the version, who approved and paid it and when, and what `actor` may do to it now (the
    moves that would succeed: given its case's state and caseworker, not those `move` would
    refuse by the case's suspension or the caseworker's rule)."""
    out: dict[str, Any] = {
        "ref": pay.ref,
        "case": case_ref,
        "state": pay.state,
        "amount": money_json(pay.amount_pence),
        "due_on": pay.due_on.isoformat(),
        "event": pay.event,
        "reference": pay.reference,
    }
    if full:
        out.update(
            version=pay.version,
            payment=pay.label,
            approved_by=pay.approved_by,
            approved_at=pay.approved_at.isoformat() if pay.approved_at else None,
            paid_by=pay.paid_by,
            paid_at=pay.paid_at.isoformat() if pay.paid_at else None,
            allowed_triggers=[
                t
                for t in allowed_triggers(PAYMENT, pay.state, actor, lead)
                if t in PEOPLE_TRIGGERS and not _refused_now(t, pay, actor, case_state, caseworker)
            ],
        )
    return out


def _shown(pay: Payment, case: CaseRecord, actor: Actor | None) -> dict[str, Any]:
    """`payment_json` in full for a payment of `case` as read (its state and caseworker
    decide what `actor` may do now)."""
    return payment_json(
        pay,
        case_ref=case.ref,
        actor=actor,
        lead=case.lead,
        full=True,
        case_state=case.state,
        caseworker=case.caseworker,
    )


def _refused_now(
    trigger: str,
    pay: Payment,
    actor: Actor | None,
    case_state: str | None,
    caseworker: str | None,
) -> bool:
    """Whether `move` would refuse `trigger`, which `actor`'s role allows, for a reason it
    can tell from the case alone: nothing is paid or released while the case is suspended,
    and the case's caseworker never approves its payments (the transition's actor rules).
    A page and the API offer only what can succeed (DESIGN.md section 12)."""
    if trigger in ("pay", "release") and case_state and BID.is_in(case_state, "held"):
        return True
    t = PAYMENT.machine.transition_for(trigger, pay.state)
    if actor is None or t is None or not t.actor_rules:
        return False
    facts = Facts(
        kind="payment",
        ref=pay.ref,
        programme=None,
        actor=actor.name,
        caseworker=caseworker,
    )
    return any(ACTOR_RULES[name](facts) for name in t.actor_rules)


def list_payments(
    work: UnitOfWork | Engine,
    *,
    case: str | None = None,
    state: str | None = None,
    programme: str | None = None,
    org: str | None = None,
    actor_name: str | None = None,
    full: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Payments by case and number: of one case, in one state, of one programme, or of the
    cases `org` leads or is a partner in."""
    if state is not None and state not in PAYMENT.states:
        raise Malformed.unknown(
            "payment state", state, PAYMENT.group("as_listed"), PAYMENT.state_label
        )
    q = (
        select(
            payments,
            cases.c.ref.label("case_ref"),
            cases.c.lead.label("lead"),
            cases.c.state.label("case_state"),
            cases.c.caseworker.label("caseworker"),
        )
        .join(cases, cases.c.id == payments.c.case_id)
        .order_by(payments.c.case_id, payments.c.n)
    )
    if case:
        q = q.where(cases.c.ref == case.strip().upper())
    if state:
        q = q.where(payments.c.state == state)
    if programme:
        q = q.where(func.lower(payments.c.programme) == programme.strip().lower())
    if org:
        from workflow.services.lifecycle import involving

        q = q.where(involving(org))
    if limit is not None:
        q = q.limit(limit)
    with unit(work, read_only=True) as uow:
        actor = directory.actor(uow.conn, actor_name) if actor_name else None
        return [
            payment_json(
                Payment.of(r),
                case_ref=r.case_ref,
                actor=actor,
                lead=r.lead,
                full=full,
                case_state=r.case_state,
                caseworker=r.caseworker,
            )
            for r in uow.conn.execute(q)
        ]


def get_payment(
    work: UnitOfWork | Engine, ref: str, actor_name: str | None = None
) -> dict[str, Any]:
    with unit(work, read_only=True) as uow:
        pay = load_payment(uow.conn, ref)
        case = _case(uow.conn, pay.case_id)
        actor = directory.actor(uow.conn, actor_name) if actor_name else None
        out = _shown(pay, case, actor)
        out["history"] = [
            chain.as_dict(r)
            for r in chain.rows_for(uow.conn, case.id)
            if getattr(r, "payment", None) == pay.label
        ]
        return out


def schedule(
    conn: Connection, case: CaseRecord, spec: ProgrammeSpec, actor: Actor | None = None
) -> dict[str, Any]:
    """A case's payment schedule for its page: every tranche, the payments made of them
    (with what `actor` may do to each), what is paid, and any recovery."""
    made = {p.tranche: p for p in _of_case(conn, case.id)}
    planned = (
        tranche_amounts(
            case.amount_pence or 0,
            [t.share for t in spec.tranches],
            {p.tranche - 1: p.amount_pence for p in made.values() if p.state in SETTLED},
        )
        if spec.tranches
        else []
    )
    rows = []
    for i, tranche in enumerate(spec.tranches):
        pay = made.get(i + 1)
        rows.append(
            {
                "tranche": i + 1,
                "share": str(tranche.share),
                "event": tranche.on,
                "event_label": tranche_event_label(tranche.on),
                "amount": money_json(pay.amount_pence if pay else planned[i]),
                "payment": _shown(pay, case, actor) if pay else None,
            }
        )
    rec = conn.execute(select(recoveries).where(recoveries.c.case_id == case.id)).first()
    return {
        "tranches": rows,
        "paid": money_json(paid_pence(conn, case.id)),
        "no_payments": spec.no_payments or None,
        "recovery": (
            {
                "paid": money_json(rec.paid_pence),
                "eligible": money_json(rec.eligible_pence),
                "recover": money_json(rec.amount_pence),
                "by": rec.actor,
                "at": rec.at.isoformat(),
            }
            if rec
            else None
        ),
    }


def planned_schedule(
    conn: Connection, case: CaseRecord, spec: ProgrammeSpec, amount_pence: int
) -> tuple[ScheduleLine, ...]:
    """The schedule as an agreement for an award of `amount_pence` states it: each tranche's
    share, event and amount (what was paid stays as paid)."""
    return schedule_from(of_case(conn, case.id), spec, amount_pence)


def of_case(conn: Connection, case_id: int) -> tuple[Payment, ...]:
    """The case's payments as read now (by their number): what `schedule_from` takes."""
    return tuple(_of_case(conn, case_id))


def schedule_from(
    payments: Sequence[Payment], spec: ProgrammeSpec, amount_pence: int
) -> tuple[ScheduleLine, ...]:
    """`planned_schedule` from the case's `payments` as read (`of_case`): the schedule is a
    function of them, the programme file and the amount alone."""
    made = {p.tranche: p for p in payments}
    paid = {p.tranche - 1: p.amount_pence for p in made.values() if p.state in SETTLED}
    fixed = paid if sum(paid.values()) <= amount_pence else {}  # a variation refuses that
    amounts = tranche_amounts(amount_pence, [t.share for t in spec.tranches], fixed)
    lines = []
    for i, tranche in enumerate(spec.tranches):
        pay = made.get(i + 1)
        lines.append(
            ScheduleLine(
                label=pay.label if pay else f"P{i + 1}",
                share=f"{tranche.share.normalize():f}%",
                event=tranche_event_label(tranche.on),
                amount_pence=amounts[i],
                paid=i in paid,
            )
        )
    return tuple(lines)


# --- recovery ---------------------------------------------------------------------------
def recover(
    work: UnitOfWork | Engine, ref: str, eligible: object, actor_name: str
) -> dict[str, Any]:
    """Record a terminated award's eligible spend; what was paid beyond it is to be recovered."""
    try:
        eligible_pence = parse_money(eligible, "eligible")
    except DocumentError as err:
        raise ValueRefused("The eligible spend", err.problems) from None
    with unit(work) as uow:
        from workflow.services.lifecycle import load_case

        conn, now = uow.conn, uow.now
        case = load_case(conn, ref, hold=True)
        actor = directory.actor(conn, actor_name)
        role = may_act(actor, "recover", case.lead, f"record what {case.ref} may keep")
        if not BID.is_in(case.state, "recoverable"):
            raise RuleViolation(
                f"{case.ref} is {BID.state_label(case.state).lower()}, not "
                f"terminated: a recovery is recorded only for a terminated "
                f"award."
            )
        paid = paid_pence(conn, case.id)
        if paid == 0:
            raise RuleViolation(
                f"Nothing was paid of {case.ref}'s award, so there is nothing to recover."
            )
        if (
            conn.execute(select(recoveries.c.id).where(recoveries.c.case_id == case.id)).first()
            is not None
        ):
            raise RuleViolation(
                f"{case.ref}'s recovery is already recorded; it is not recorded twice."
            )
        owed = max(0, paid - eligible_pence)
        conn.execute(
            recoveries.insert().values(
                case_id=case.id,
                programme=case.programme,
                paid_pence=paid,
                eligible_pence=eligible_pence,
                amount_pence=owed,
                actor=actor.name,
                at=now,
            )
        )
        chain.change(
            conn,
            case,
            chain.Entry(
                from_state=case.state,
                to_state=case.state,
                trigger="recover",
                actor=actor.name,
                role=role,
                at=now,
                payload={
                    "paid": money_json(paid),
                    "eligible": money_json(eligible_pence),
                    "recover": money_json(owed),
                },
            ),
        )
        out = {
            "case": case.ref,
            "paid": money_json(paid),
            "eligible": money_json(eligible_pence),
            "recover": money_json(owed),
        }
    event(log, "payment.recovery", "recovery recorded", case=case.ref, person=actor.name)
    return out


# --- the figures ----------------------------------------------------------------------
def _paid_in(conn: Connection, programme: str) -> int:
    """The programme's paid total, kept as each payment is made (one row)."""
    return int(
        conn.execute(
            select(paid_totals.c.paid_pence).where(paid_totals.c.programme == programme)
        ).scalar()
        or 0
    )


def paid_by_rows(conn: Connection, programme: str) -> int:
    """The same total added up from the payments themselves (for checks and tests)."""
    return int(
        conn.execute(
            select(func.coalesce(func.sum(payments.c.amount_pence), 0)).where(
                payments.c.programme == programme, payments.c.state.in_(SETTLED)
            )
        ).scalar()
        or 0
    )


def figures(conn: Connection, programme: str) -> dict[str, int]:
    """What a programme has paid (its kept total) and is recovering, in pence."""
    recovering = conn.execute(
        select(func.coalesce(func.sum(recoveries.c.amount_pence), 0)).where(
            recoveries.c.programme == programme
        )
    ).scalar()
    return {"paid_pence": _paid_in(conn, programme), "recovering_pence": int(recovering or 0)}


# --- a payment run for the finance system ------------------------------------------------
EXPORT_COLUMNS = ("payee_code", "org_id", "name", "amount", "reference", "case")
# A cell a spreadsheet would run as a formula (OWASP's CSV injection): an organisation's
# name is typed by people, and finance opens the run in a spreadsheet before importing it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(text: str) -> str:
    """`text` as a spreadsheet shows it and never runs: a leading quote before a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def export(
    work: UnitOfWork | Engine, *, state: str | None = None, programme: str | None = None
) -> str:
    """Payments in `state` as CSV: payee code, 360Giving org id, name, amount, the payment's
    reference (`TCA-2013-0001/P2`, to quote on the remittance) and the case. `state` is the
    approved ones (finance's next run) unless another is asked."""
    state = state or PAYMENT.group("payable")[0]
    if state not in PAYMENT.states:
        raise Malformed.unknown(
            "payment state", state, PAYMENT.group("as_listed"), PAYMENT.state_label
        )
    q = (
        select(
            payments.c.ref,
            payments.c.amount_pence,
            cases.c.ref.label("case_ref"),
            organisations.c.code,
            organisations.c.org_id,
            organisations.c.name,
        )
        .join(cases, cases.c.id == payments.c.case_id)
        .join(organisations, organisations.c.code == cases.c.lead)
        .where(payments.c.state == state)
        .order_by(payments.c.id)
    )
    if programme:
        q = q.where(func.lower(payments.c.programme) == programme.strip().lower())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    with unit(work, read_only=True) as uow:
        for r in uow.conn.execute(q):
            writer.writerow(
                [
                    _cell(r.code),
                    _cell(r.org_id or ""),
                    _cell(r.name),
                    money_json(r.amount_pence),
                    r.ref,
                    r.case_ref,
                ]
            )
    return out.getvalue()
