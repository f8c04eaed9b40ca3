"""Payments of awards (issue 19, DESIGN.md section 8): tranches, moves, refusals, recovery."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from freezegun import freeze_time
from sqlalchemy import select, update

from states import PAYMENT
from states.payment import tranche_amounts
from tests.builders import World
from tests.workflow.payments_world import ACCEPTED, accept_return, award, open_returns, snapshot
from workflow.errors import (
    ConflictError,
    InvalidTransition,
    Malformed,
    PermissionDenied,
    ReasonRequired,
    RuleViolation,
)
from workflow.services import assignment, chain, lifecycle, payments
from workflow.services.chain import Entry, moment, seal
from workflow.storage.db import make_engine, reading
from workflow.storage.tables import cases as cases_t
from workflow.storage.tables import ledger, outbox
from workflow.storage.tables import payments as payments_t

LATER = ACCEPTED + timedelta(days=1)


def _p1(engine) -> str:
    world = World(engine)
    world.cast()
    return award(world)


@pytest.fixture
def p1(any_world, built_once):
    """An accepted award of £250,000 with its first tranche (P1) due (on SQLite built once a
    run and copied for each test)."""
    ref = built_once.into(any_world.engine, "payments-p1", _p1)
    any_world.adopt()
    with freeze_time(LATER):
        yield any_world, ref, f"{ref}/P1"


def state_of(world, ref: str) -> str:
    return payments.get_payment(world.engine, ref)["state"]


def verified(world) -> bool:
    with reading(world.engine) as conn:
        return chain.verify(conn).ok


# --- tranches fall due ------------------------------------------------------------
def test_only_the_first_tranche_is_due_after_acceptance_at_half_the_award(p1):
    world, ref, _ = p1
    rows = payments.list_payments(world.engine, case=ref)
    assert rows == [
        {
            "ref": f"{ref}/P1",
            "case": ref,
            "state": "due",
            "amount": "125000.00",
            "due_on": "2013-09-02",
            "event": "accepted",
            "reference": None,
        }
    ]
    row = [r for r in lifecycle.case_history(world.engine, ref) if r.get("payment")]
    assert [(r["payment"], r["trigger"], r["to_state"]) for r in row] == [
        ("P1", "payment_due", "due")
    ]


def test_q2_and_the_last_return_release_the_other_tranches_and_they_add_up_to_the_award(any_world):
    any_world.cast()
    ref = award(any_world, amount="250000.03")
    open_returns(any_world, ref)
    accept_return(any_world, ref, "Q1")
    assert len(payments.list_payments(any_world.engine, case=ref)) == 1  # Q1 releases none
    accept_return(any_world, ref, "Q2")
    accept_return(any_world, ref, "Q3")
    accept_return(any_world, ref, "Q4")
    rows = payments.list_payments(any_world.engine, case=ref)
    assert [(r["ref"][-2:], r["event"], r["amount"]) for r in rows] == [
        ("P1", "accepted", "125000.01"),
        ("P2", "Q2", "62500.00"),
        ("P3", "last_return", "62500.02"),
    ]
    assert sum(Decimal(r["amount"]) for r in rows) == Decimal("250000.03")
    assert verified(any_world)


def held_for(world, ref: str) -> tuple[int, int]:
    """(what the case holds in the fund ledger, the programme's committed total), in pence."""
    from workflow.services import awards

    with reading(world.engine) as conn:
        case = lifecycle.load_case(conn, ref)
        return awards.reserved_for(conn, case.id), awards.balance_pence(conn, "tca-2013")


def test_completing_with_the_last_return_waived_gives_its_tranche_back_to_the_fund(any_world):
    """The last tranche is paid against the last return's evidence: waived, it never falls
    due, so completing the award releases it; what is paid or due stays committed."""
    any_world.cast()
    ref = award(any_world)
    open_returns(any_world, ref)
    for label in ("Q1", "Q2", "Q3"):
        accept_return(any_world, ref, label)
    with freeze_time(LATER):
        from workflow.services import monitoring

        monitoring.decide_return(
            any_world.engine,
            f"{ref}/Q4",
            "waive",
            "carol",
            reason="The project ended early; the council said so.",
        )
        held, committed = held_for(any_world, ref)
        assert held == 250_000_00
        lifecycle.advance(any_world.engine, ref, "complete", "carol")

    assert held_for(any_world, ref) == (187_500_00, committed - 62_500_00)
    assert [p["state"] for p in payments.list_payments(any_world.engine, case=ref)] == [
        "due",
        "due",
    ]  # P1 and P2 still to be paid: still committed
    assert verified(any_world)


def test_completing_after_every_tranche_fell_due_releases_nothing(any_world):
    any_world.cast()
    ref = award(any_world)
    open_returns(any_world, ref)
    for label in ("Q1", "Q2", "Q3", "Q4"):
        accept_return(any_world, ref, label)
    before = held_for(any_world, ref)
    with freeze_time(LATER):
        lifecycle.advance(any_world.engine, ref, "complete", "carol")

    assert held_for(any_world, ref) == before == (250_000_00, before[1])
    assert released_mail(any_world) == []  # nothing released: nothing to tell


def released_mail(world) -> list:
    with reading(world.engine) as conn:
        return conn.execute(
            select(outbox.c.key, outbox.c.to_addrs, outbox.c.cc_addrs).where(
                outbox.c.kind == "payment.released_to_fund"
            )
        ).all()


def test_the_lead_council_is_told_once_what_a_completion_released_and_why(any_world):
    """The last return waived, completing the award releases its tranche (£62,500) to the
    fund: the lead council's email is queued with the release, keyed by the completion's
    history row, and reaches a real SMTP server once, however often delivery runs."""
    from notifications.transports import transport_from_env
    from tests.smtp_server import SmtpTestServer
    from workflow.runtime import mail
    from workflow.services import monitoring

    any_world.cast()
    ref = award(any_world)
    open_returns(any_world, ref)
    for label in ("Q1", "Q2", "Q3"):
        accept_return(any_world, ref, label)
    with freeze_time(LATER):
        monitoring.decide_return(
            any_world.engine, f"{ref}/Q4", "waive", "carol", reason="The project ended early."
        )
        lifecycle.advance(any_world.engine, ref, "complete", "carol")
    server = SmtpTestServer().start()
    settings = {"CASEWORK_SMTP_HOST": "127.0.0.1", "CASEWORK_SMTP_PORT": str(server.port)}
    try:
        for _ in range(2):  # a second delivery finds nothing more to send
            mail.deliver(any_world.engine, transport=transport_from_env(settings))
    finally:
        server.stop()

    [(key, to, cc)] = released_mail(any_world)
    assert key == f"{ref}:released_to_fund:{_seq_of(any_world, ref)}"  # the release's row
    arrived = [m for m in server.received if m.message["X-Casework-Key"] == key]
    assert len(arrived) == 1
    assert arrived[0].rcpt_tos == [*to, *cc]
    assert to == ["returns@e07000026.example.gov.uk"]  # the lead council; carol copied in
    message = arrived[0].message
    assert message["Subject"] == f"{ref}: £62,500 of the award will not be paid"
    text = " ".join(message.get_body(("plain",)).get_content().split())
    assert "£62,500 of Council E07000026's award of £250,000 will not be paid" in text
    assert "released back to the Transformation Challenge Award 2013 fund" in text
    assert "tranche 3 of 3, 25% of the award, to be paid when the last return is accepted" in text
    assert "The Q4 return was waived, so tranche 3 never fell due." in text
    assert "Reason given for waiving the return: The project ended early." in text
    assert "the rest of the award, £187,500, is not affected" in text


def _seq_of(world, ref: str) -> int:
    """The seq of `ref`'s completion row."""
    from workflow.storage.tables import history

    with reading(world.engine) as conn:
        return conn.execute(
            select(history.c.seq)
            .join(cases_t, cases_t.c.id == history.c.case_id)
            .where(cases_t.c.ref == ref, history.c.trigger == "complete")
        ).scalar_one()


def test_the_schedules_arithmetic_is_in_pence_and_never_loses_one():
    shares = [Decimal(50), Decimal(25), Decimal(25)]
    for award_pence in (0, 1, 3, 99, 100_001, 25_000_003):
        assert sum(tranche_amounts(award_pence, shares)) == award_pence
    assert tranche_amounts(6000, shares, {0: 5000}) == [5000, 1000, 0]
    with pytest.raises(ValueError):
        tranche_amounts(100, shares, {0: 101})


# --- every move, allowed and refused, for every role --------------------------------
PEOPLE = {
    "carol": "caseworker",
    "ash": "assessor",
    "april": "approver",
    "audrey": "auditor",
    "cllr": "council",
    "fiona": "finance",
}
MAY = {"approve": {"april"}, "pay": {"fiona"}, "hold": {"carol"}, "release": {"carol"}}


def _bring_to(world, pay: str, trigger: str) -> None:
    """P1 where `trigger` is defined: due (approve, hold), approved (pay), held (release)."""
    if trigger == "pay":
        payments.move(world.engine, pay, "approve", "april")
    elif trigger == "release":
        payments.move(world.engine, pay, "hold", "carol", reason="Evidence queried")


@pytest.mark.parametrize("trigger", sorted(MAY))
@pytest.mark.parametrize("person", sorted(PEOPLE))
def test_each_move_is_allowed_to_its_role_and_refused_to_every_other(p1, trigger, person):
    world, _, pay = p1
    _bring_to(world, pay, trigger)
    was = state_of(world, pay)
    before = snapshot(world)
    kwargs = {"reason": "Evidence queried"} if trigger == "hold" else {}
    if trigger == "pay":
        kwargs["reference"] = "BACS 2013/0001"
    if person in MAY[trigger]:
        done = payments.move(world.engine, pay, trigger, person, **kwargs)
        assert done["state"] == PAYMENT.machine.transition_for(trigger, was).dest
        assert snapshot(world)["history"] == before["history"] + 1
        assert verified(world)
    else:
        with pytest.raises(PermissionDenied) as refused:
            payments.move(world.engine, pay, trigger, person, **kwargs)
        assert "\n" not in str(refused.value)
        assert snapshot(world) == before


@pytest.mark.parametrize("trigger", ["approve", "pay", "release"])
def test_a_move_from_a_state_it_does_not_leave_is_refused_and_writes_nothing(p1, trigger):
    world, _, pay = p1
    if trigger != "pay":
        payments.move(world.engine, pay, "approve", "april")  # approved: neither due nor held
    before = snapshot(world)
    who = {"approve": "april", "pay": "fiona", "release": "carol"}[trigger]
    with pytest.raises(InvalidTransition):
        payments.move(world.engine, pay, trigger, who, reference="R1")
    assert snapshot(world) == before


# --- bad input: one line naming the rule, nothing written --------------------------------
def refused(world, error, call) -> str:
    before = snapshot(world)
    with pytest.raises(error) as caught:
        call()
    assert snapshot(world) == before
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_paying_a_held_a_cancelled_or_a_paid_payment_is_refused(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    payments.move(world.engine, pay, "pay", "fiona", reference="BACS 1")
    assert "Paid" in refused(
        world,
        InvalidTransition,
        lambda: payments.move(world.engine, pay, "pay", "felix", reference="BACS 2"),
    )
    world2_ref = award(world, title="Shared fleet for two districts")
    p = f"{world2_ref}/P1"
    payments.move(world.engine, p, "approve", "april")
    world.advance(world2_ref, "suspend", reason="Return missing")
    assert state_of(world, p) == "held"
    assert "Held" in refused(
        world,
        InvalidTransition,
        lambda: payments.move(world.engine, p, "pay", "fiona", reference="BACS 3"),
    )
    world.advance(world2_ref, "terminate", by="aaron", reason="The fleet was never bought")
    assert state_of(world, p) == "cancelled"
    assert "Cancelled" in refused(
        world,
        InvalidTransition,
        lambda: payments.move(world.engine, p, "pay", "fiona", reference="BACS 4"),
    )


def test_the_cases_own_caseworker_cannot_approve_its_payment_even_as_an_approver(p1):
    world, ref, pay = p1
    world.person("cara", "caseworker", "approver")
    assignment.assign(world.engine, ref, "cara", "carol")
    message = refused(
        world, PermissionDenied, lambda: payments.move(world.engine, pay, "approve", "cara")
    )
    assert "caseworker of" in message and "another approver must" in message
    # The rule names the case the person is the caseworker of, not the payment.
    assert f"you are the caseworker of {ref}, so" in message


def allowed(world, pay: str, who: str) -> list[str]:
    """What `who` is offered for payment `pay`: in its case's listing (the API's and the
    pages') and in its own (`payment show`)."""
    case = pay.split("/")[0]
    listed = payments.list_payments(world.engine, case=case, actor_name=who, full=True)
    shown = payments.get_payment(world.engine, pay, who)["allowed_triggers"]
    (row,) = [p for p in listed if p["ref"] == pay]
    assert row["allowed_triggers"] == shown
    return shown


def test_the_caseworker_who_is_also_an_approver_is_not_offered_the_approval(p1):
    world, ref, pay = p1
    world.person("cara", "caseworker", "approver")
    assert allowed(world, pay, "cara") == ["approve", "hold"]  # not this case's caseworker yet
    assignment.assign(world.engine, ref, "cara", "carol")
    assert allowed(world, pay, "cara") == ["hold"]
    assert allowed(world, pay, "april") == ["approve"]


def test_nothing_is_offered_that_the_cases_suspension_would_refuse(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    assert allowed(world, pay, "fiona") == ["pay"]
    world.advance(ref, "suspend", reason="Return missing")
    assert allowed(world, pay, "carol") == []  # release waits for the reinstatement
    assert allowed(world, pay, "fiona") == []
    world.advance(ref, "reinstate", reason="Return received")
    payments.move(world.engine, pay, "hold", "carol", reason="Spend queried")
    assert allowed(world, pay, "carol") == ["release"]  # a hold by hand is released by hand


def test_a_refusal_names_only_what_a_person_may_do_instead(p1):
    world, ref, pay = p1
    world.advance(ref, "suspend", reason="Return missing")
    message = refused(
        world, InvalidTransition, lambda: payments.move(world.engine, pay, "approve", "april")
    )
    # The held payment's only move open to an approver is the system's re-plan: not offered.
    assert message.endswith("Allowed now: nothing.") and "Re-plan" not in message


def test_finance_cannot_approve(p1):
    world, _, pay = p1
    assert "only an approver" in refused(
        world, PermissionDenied, lambda: payments.move(world.engine, pay, "approve", "fiona")
    )


def test_paying_needs_a_remittance_reference_without_control_characters(p1):
    world, _, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    assert "remittance reference" in refused(
        world, Malformed, lambda: payments.move(world.engine, pay, "pay", "fiona")
    )
    assert "remittance reference" in refused(
        world,
        Malformed,
        lambda: payments.move(world.engine, pay, "pay", "fiona", reference="BACS\x1b[31m 1"),
    )
    assert "remittance reference" in refused(
        world,
        Malformed,
        lambda: payments.move(world.engine, pay, "pay", "fiona", reference="BACS\n1"),
    )
    # A tab is a control character too: a reference is one line of printable text.
    assert "control character (U+0009)" in refused(
        world,
        Malformed,
        lambda: payments.move(world.engine, pay, "pay", "fiona", reference="BACS\t1"),
    )
    assert "at most" in refused(
        world,
        Malformed,
        lambda: payments.move(world.engine, pay, "pay", "fiona", reference="R" * 101),
    )


def test_holding_by_hand_needs_a_reason(p1):
    world, _, pay = p1
    refused(world, ReasonRequired, lambda: payments.move(world.engine, pay, "hold", "carol"))


def test_a_payment_past_the_award_is_refused(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    with world.engine.begin() as conn:  # the award cut below the payment behind its back
        conn.execute(update(cases_t).where(cases_t.c.ref == ref).values(amount_pence=100))
    message = refused(
        world,
        RuleViolation,
        lambda: payments.move(world.engine, pay, "pay", "fiona", reference="BACS 1"),
    )
    assert "past its award of £1" in message


def test_a_payment_past_the_fund_is_refused(p1, monkeypatch):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    with world.engine.begin() as conn:
        conn.execute(
            update(payments_t).where(payments_t.c.ref == pay).values(amount_pence=900_000_001)
        )
        conn.execute(update(cases_t).where(cases_t.c.ref == ref).values(amount_pence=900_000_001))
    assert "past its fund" in refused(
        world,
        RuleViolation,
        lambda: payments.move(world.engine, pay, "pay", "fiona", reference="BACS 1"),
    )


def test_an_unknown_payment_or_action_is_refused(p1):
    world, ref, _ = p1
    refused(
        world,
        payments.PaymentNotFound,
        lambda: payments.move(world.engine, f"{ref}/P9", "approve", "april"),
    )
    refused(world, Malformed, lambda: payments.move(world.engine, f"{ref}/P1", "cancel", "april"))
    refused(world, Malformed, lambda: payments.list_payments(world.engine, state="payed"))


# --- paid: the email, the figures, the ledger ----------------------------------------------
def test_paying_emails_the_lead_council_and_counts_in_the_figures(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    done = payments.move(world.engine, pay, "pay", "fiona", reference="BACS 2013/0001")
    assert done["state"] == "paid" and done["reference"] == "BACS 2013/0001"
    with world.engine.connect() as conn:
        mail = conn.execute(select(outbox).where(outbox.c.kind == "payment.paid")).one()
        figures = payments.figures(conn, "tca-2013")
    assert mail.to_addrs == ["returns@e07000026.example.gov.uk"]
    assert "£125,000" in mail.subject and "BACS 2013/0001" in mail.body_text
    assert figures == {"paid_pence": 12_500_000, "recovering_pence": 0}
    with world.engine.connect() as conn:
        from workflow.services.programme_files import summaries

        tca = next(s for s in summaries(conn) if s["code"] == "tca-2013")
    assert (tca["committed"], tca["paid"], tca["recovering"]) == ("250000.00", "125000.00", "0.00")


def test_the_last_payment_email_says_the_award_is_paid_in_full_and_promises_no_more(any_world):
    any_world.cast()
    ref = award(any_world, amount="250000.03")
    open_returns(any_world, ref)
    for label in ("Q1", "Q2", "Q3", "Q4"):
        accept_return(any_world, ref, label)
    for n in (1, 2, 3):
        payments.move(any_world.engine, f"{ref}/P{n}", "approve", "april")
        payments.move(any_world.engine, f"{ref}/P{n}", "pay", "fiona", reference=f"BACS {n}")
    with any_world.engine.connect() as conn:
        bodies = conn.execute(
            select(outbox.c.body_text).where(outbox.c.kind == "payment.paid").order_by(outbox.c.id)
        ).scalars()
        first, _, last = (" ".join(b.split()) for b in bodies)

    assert (
        "So far £125,000.01 of the award has been paid, and £125,000.02 is still to come" in first
    )
    assert "the next payment follows its own event" in first
    assert "This is the last payment: the award of £250,000.03 is now paid in full" in last
    assert "next payment" not in last and "still to come" not in last


# --- suspension, reinstatement, termination, recovery ------------------------------------------
def test_suspension_holds_what_is_unpaid_and_reinstatement_makes_it_due_again(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    world.advance(ref, "suspend", reason="Return missing")
    assert state_of(world, pay) == "held"
    assert "suspended" in refused(
        world, RuleViolation, lambda: payments.move(world.engine, pay, "release", "carol")
    )
    world.advance(ref, "reinstate", reason="Return received")
    shown = payments.get_payment(world.engine, pay)
    assert (shown["state"], shown["approved_by"]) == ("due", None)  # to be approved again
    assert [h["trigger"] for h in shown["history"]] == ["payment_due", "approve", "hold", "release"]
    assert verified(world)


def test_a_return_accepted_while_the_case_is_suspended_makes_a_held_payment(p1):
    world, ref, _ = p1
    open_returns(world, ref)
    world.advance(ref, "suspend", reason="Return missing")
    accept_return(world, ref, "Q2", at=LATER)
    assert state_of(world, f"{ref}/P2") == "held"
    world.advance(ref, "reinstate")
    assert state_of(world, f"{ref}/P2") == "due"


def test_a_hold_by_hand_outlasts_a_reinstatement(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "hold", "carol", reason="Spend queried")
    world.advance(ref, "suspend", reason="Return missing")
    world.advance(ref, "reinstate")
    assert state_of(world, pay) == "held"
    payments.move(world.engine, pay, "release", "carol")
    assert state_of(world, pay) == "due"


def test_termination_cancels_what_is_unpaid_keeps_what_is_paid_and_a_recovery_follows(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    payments.move(world.engine, pay, "pay", "fiona", reference="BACS 1")
    open_returns(world, ref)
    accept_return(world, ref, "Q2", at=LATER)
    world.advance(ref, "suspend", reason="Return missing")
    refused(world, RuleViolation, lambda: payments.recover(world.engine, ref, "1", "carol"))
    world.advance(ref, "terminate", by="aaron", reason="No return for a year: the award ends")
    assert state_of(world, f"{ref}/P2") == "cancelled"
    with world.engine.connect() as conn:
        entries = [
            (r.entry, r.amount_pence) for r in conn.execute(select(ledger).order_by(ledger.c.id))
        ]
    assert entries == [("reserve", 25_000_000), ("release", 12_500_000)]  # the paid half stays
    with world.engine.connect() as conn:  # the council is told the sums, paid and released
        told = conn.execute(
            select(outbox.c.body_text).where(outbox.c.kind == "bid.terminated")
        ).scalar_one()
    told = " ".join(told.split())
    assert "Of the award, £125,000 has been paid; the £125,000 not yet paid goes back" in told
    assert "how much of the £125,000 paid was spent on eligible work" in told
    refused(world, Malformed, lambda: payments.recover(world.engine, ref, "12,000", "carol"))
    refused(world, Malformed, lambda: payments.recover(world.engine, ref, "-5", "carol"))
    refused(world, PermissionDenied, lambda: payments.recover(world.engine, ref, "100000", "fiona"))
    done = payments.recover(world.engine, ref, "100000", "carol")
    assert done == {
        "case": ref,
        "paid": "125000.00",
        "eligible": "100000.00",
        "recover": "25000.00",
    }
    refused(world, RuleViolation, lambda: payments.recover(world.engine, ref, "1", "carol"))
    with world.engine.connect() as conn:
        assert payments.figures(conn, "tca-2013") == {
            "paid_pence": 12_500_000,
            "recovering_pence": 2_500_000,
        }
    last = lifecycle.case_history(world.engine, ref)[-1]
    assert (last["trigger"], last["payload"]["recover"]) == ("recover", "25000.00")
    assert verified(world)


def test_eligible_spend_above_what_was_paid_recovers_nothing(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    payments.move(world.engine, pay, "pay", "fiona", reference="BACS 1")
    world.advance(ref, "suspend", reason="Return missing")
    world.advance(ref, "terminate", by="aaron", reason="No return for a year: the award ends")
    assert payments.recover(world.engine, ref, "200000", "carol")["recover"] == "0.00"


def test_a_decline_leaves_no_payment_to_make(any_world):
    from tests.web.site import recommended_bid

    any_world.cast()
    ref = recommended_bid(any_world)
    any_world.advance(ref, "offer", by="april")
    any_world.advance(ref, "decline", by="cllr")
    assert payments.list_payments(any_world.engine, case=ref) == []


# --- re-planning (a variation) ------------------------------------------------------------
def test_replan_changes_only_unpaid_payments_and_sends_an_approved_one_back(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    payments.move(world.engine, pay, "pay", "fiona", reference="BACS 1")
    open_returns(world, ref)
    accept_return(world, ref, "Q2", at=LATER)
    payments.move(world.engine, f"{ref}/P2", "approve", "april")
    with world.engine.begin() as conn:
        conn.execute(update(cases_t).where(cases_t.c.ref == ref).values(amount_pence=30_000_000))
        case = lifecycle.load_case(conn, ref)
        payments.replan(conn, case, actor="april", role="approver")
    rows = {r["ref"][-2:]: r for r in payments.list_payments(world.engine, case=ref)}
    assert (rows["P1"]["amount"], rows["P1"]["state"]) == ("125000.00", "paid")
    assert (rows["P2"]["amount"], rows["P2"]["state"]) == ("75000.00", "due")
    with world.engine.begin() as conn:
        conn.execute(update(cases_t).where(cases_t.c.ref == ref).values(amount_pence=100))
        case = lifecycle.load_case(conn, ref)
        with pytest.raises(RuleViolation):
            payments.replan(conn, case, actor="april", role="approver")
    assert verified(world)


# --- the chain ---------------------------------------------------------------------------
def test_a_row_without_a_payment_keeps_the_hash_it_always_had():
    from datetime import datetime, timezone

    entry = Entry(
        to_state="draft",
        trigger="create",
        actor="carol",
        role="caseworker",
        at=datetime(2013, 4, 1, tzinfo=timezone.utc),
        payload={"x": 1},
    )
    body = {
        "case": "TCA-2013-0001",
        "seq": 1,
        "checkpoint": None,
        "from_state": None,
        "to_state": "draft",
        "trigger": "create",
        "actor": "carol",
        "role": "caseworker",
        "reason": None,
        "at": moment(entry.at),
        "payload": {"x": 1},
        "prev_hash": "0" * 64,
    }
    old = hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    assert seal("TCA-2013-0001", 1, "0" * 64, entry) == old
    from dataclasses import replace

    with_payment = hashlib.sha256(
        json.dumps(
            {**body, "payment": "P1"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    ).hexdigest()
    assert seal("TCA-2013-0001", 1, "0" * 64, replace(entry, payment="P1")) == with_payment


# --- two finance people at once ------------------------------------------------------------
def test_two_finance_people_paying_at_once_pay_it_exactly_once(p1):
    world, ref, pay = p1
    payments.move(world.engine, pay, "approve", "april")
    # Each payer on an engine (and so connections) of their own, as two servers would be.
    engines = [make_engine(world.engine.test_url) for _ in range(2)]
    start, results = threading.Barrier(2), []

    def payer(engine, name):
        start.wait()
        try:
            results.append(
                payments.move(engine, pay, "pay", name, reference=f"BACS {name}")["state"]
            )
        except (InvalidTransition, ConflictError) as err:
            results.append(type(err).__name__)

    threads = [
        threading.Thread(target=payer, args=(e, n)) for e, n in zip(engines, ("fiona", "felix"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for e in engines:
        e.dispose()
    assert sorted(results) == ["InvalidTransition", "paid"] or sorted(results) == [
        "ConflictError",
        "paid",
    ]
    with world.engine.connect() as conn:
        assert payments.paid_pence(conn, lifecycle.load_case(conn, ref).id) == 12_500_000
        assert (
            conn.execute(select(outbox).where(outbox.c.kind == "payment.paid")).all().__len__() == 1
        )
    assert verified(world)
