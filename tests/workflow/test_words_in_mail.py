"""Every kind of email, as the services queue it, names things in words, not codes."""

from datetime import datetime, timedelta, timezone

from freezegun import freeze_time
from sqlalchemy import select

from notifications.kinds import KINDS
from tests.web.site import area_under_assessment, recommended_bid, scored_bid
from tests.words import codes_in
from tests.workflow.monitoring_world import bid_in_monitoring, checkpoint_rows
from tests.workflow.payments_world import accept_return, award, open_returns
from workflow.runtime.sweep import sweep
from workflow.services import assessment, assignment, monitoring, payments, variations
from workflow.storage.tables import outbox

UTC = timezone.utc
ACCEPTED = datetime(2013, 6, 3, 10, tzinfo=UTC)


def at(day, days: int) -> datetime:
    return datetime.combine(day + timedelta(days=days), datetime.min.time(), UTC) + timedelta(
        hours=10
    )


def test_no_email_of_any_kind_shows_a_code_as_a_word(world):
    world.cast()
    world.person("cath", "caseworker")
    ref = bid_in_monitoring(world, ACCEPTED)  # award offered
    q1, q2 = checkpoint_rows(world, ref)[:2]
    sweep(world.engine, at(q1.due, 30))  # the whole ladder: suspended
    with freeze_time(at(q1.due, 31)):
        world.advance(ref, "reinstate", reason="Accounts audited")
        assignment.assign(world.engine, ref, "cath", "carol")
    sweep(world.engine, at(q2.due, -10))
    with freeze_time(at(q2.due, -9)):
        monitoring.submit_return(
            world.engine,
            f"{ref}/Q2",
            "cllr",
            figures={"spend_to_date": "1000", "progress": "Started."},
        )
        monitoring.decide_return(
            world.engine, f"{ref}/Q2", "query", "carol", reason="Spend looks low."
        )
        world.person("fiona", "finance")  # the award's first tranche paid
        payments.move(world.engine, f"{ref}/P1", "approve", "aaron")
        payments.move(world.engine, f"{ref}/P1", "pay", "fiona", reference="BACS 2013/0042")
        # A change to the award: the council's increase, countersigned and approved; then the
        # caseworker's decrease, rejected.
        raised = variations.propose(
            world.engine, ref, actor="cllr", amount="300000", reason="Two more districts join."
        )["ref"]
        variations.countersign(world.engine, raised, "april")
        variations.decide(world.engine, raised, "approve", "aaron")
        lowered = variations.propose(
            world.engine,
            ref,
            actor="cath",
            amount="200000",
            end="2015-09-30",
            reason="A district left.",
        )["ref"]
        variations.decide(world.engine, lowered, "reject", "aaron", reason="Keep it whole.")
        moderated = scored_bid(world, title="Joint archive")
        world.advance(moderated, "moderate")
        world.advance(moderated, "reject", reason="Scored too low on savings to be funded")
        declined = recommended_bid(world, title="Shared revenues team")
        world.advance(declined, "offer", by="aaron")
        world.advance(declined, "decline", by="cllr")
        ineligible = world.bid(title="Too small")
        world.advance(ineligible, "submit")
        world.advance(ineligible, "declare_ineligible", reason="Fraud risk")
        asked = world.bid(title="Shared legal team")
        world.advance(asked, "submit", "check", "start_assessment")
        world.advance(asked, "ask_clarification", reason="Which councils share the team?")
        conflicted = scored_bid(world, title="Joint fleet")
        assessment.declare(
            world.engine, conflicted, "ash", conflict=True, reason="My partner works there"
        )
        chosen = area_under_assessment(world)
        world.advance(chosen, "select", by="april")
        passed_over = area_under_assessment(world)
        world.advance(passed_over, "decline", by="april")
        withdrawn = world.bid(title="Shared parking service")
        world.advance(withdrawn, "submit")
        world.advance(withdrawn, "withdraw", by="cllr", reason="The partnership dissolved.")

    # An award completed with its last return waived: its last tranche goes back to the fund.
    completed = award(world, title="Shared waste service")
    open_returns(world, completed)
    for label in ("Q1", "Q2", "Q3"):
        accept_return(world, completed, label)
    with freeze_time(at(q2.due, -8)):
        monitoring.decide_return(
            world.engine, f"{completed}/Q4", "waive", "carol", reason="The service ended early."
        )
        world.advance(completed, "complete")

    # A year on: the annual review falls due, and two weeks later it is overdue.
    sweep(world.engine, at(ACCEPTED.date(), 385))
    with freeze_time(at(ACCEPTED.date(), 386)):
        if world.state(ref) != "suspended":  # the year's ladder may have suspended it again
            world.advance(ref, "suspend", reason="Spend outside the agreement found by audit")
        world.advance(ref, "terminate", by="aaron", reason="The audit's findings stand.")

    with world.engine.connect() as conn:
        mail = conn.execute(
            select(outbox.c.kind, outbox.c.subject, outbox.c.body_text, outbox.c.body_html)
        ).all()

    assert {m.kind for m in mail} == set(KINDS)  # every kind was rendered
    shown = {m.kind: codes_in(" ".join((m.subject, m.body_text, m.body_html))) for m in mail}
    assert {kind: codes for kind, codes in shown.items() if codes} == {}
