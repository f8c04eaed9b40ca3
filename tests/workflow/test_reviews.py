"""The annual review (DESIGN.md section 9): due a year after acceptance, walked by the sweep.

The clocks are frozen (freezegun for the people, the sweep's own `now`): the
review falls due on the first working day twelve months after acceptance (a
bank holiday rolls it on), can be recorded from then on and not before, is
sent to the caseworker once, and escalated to the SRO once ten working days
later, in order after a missed sweep. Every refusal writes nothing.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import select

from workflow.errors import Malformed, PermissionDenied, RuleViolation
from workflow.runtime.sweep import sweep
from workflow.services import lifecycle, monitoring, reviews
from workflow.storage.tables import outbox

from tests.workflow.monitoring_world import bid_in_monitoring

UTC = timezone.utc
# Sunday 25 August 2013: a year on is Monday 25 August 2014, the Summer bank holiday,
# so the review falls due on Tuesday 26 August 2014 (09:00 London is 08:00 UTC).
ACCEPTED = datetime(2013, 8, 25, 11, 0, tzinfo=UTC)
DUE_AT = datetime(2014, 8, 26, 8, 0, tzinfo=UTC)
# Ten working days on: 27, 28, 29 August, 1-5 and 8, 9 September 2014.
OVERDUE_AT = datetime(2014, 9, 9, 8, 0, tzinfo=UTC)


@pytest.fixture
def world(any_world):
    return any_world.cast()


@pytest.fixture
def award(world):
    """An award accepted on ACCEPTED whose returns are waived, so no ladder suspends it; april
    is the programme's senior responsible owner."""
    ref = bid_in_monitoring(world, ACCEPTED)
    world.name_sro("april")
    with freeze_time(ACCEPTED):
        for cp in monitoring.list_checkpoints(world.engine, case=ref):
            monitoring.decide_return(
                world.engine, cp["ref"], "waive", "carol", reason="Not needed for this test."
            )
    return ref


def mail(world, kind):
    with world.engine.connect() as conn:
        return [
            (r.key, r.to_addrs, r.cc_addrs)
            for r in conn.execute(select(outbox).where(outbox.c.kind == kind).order_by(outbox.c.id))
        ]


def rows(world, ref, *triggers):
    return [
        (r["trigger"], r["payload"].get("step"), r["payload"].get("late"))
        for r in lifecycle.case_history(world.engine, ref)
        if r["trigger"] in triggers
    ]


def review(world, ref, n=1):
    return next(r for r in reviews.list_reviews(world.engine, case=ref) if r["review"] == f"R{n}")


def record(
    world, ref, decision="continue", by="carol", reason="On track: returns in, spend as planned."
):
    with freeze_time(DUE_AT.replace(hour=14)):
        return reviews.record(world.engine, ref, decision=decision, reason=reason, actor_name=by)


def test_the_first_review_falls_due_a_year_on_rolled_past_a_bank_holiday(world, award):
    assert review(world, award)["due"] == "2014-08-26"
    assert review(world, award)["status"] == "not_due"

    sweep(world.engine, now=datetime(2014, 8, 25, 12, 0, tzinfo=UTC))  # the bank holiday
    assert mail(world, "review.due") == []
    sweep(world.engine, now=DUE_AT)

    assert mail(world, "review.due") == [
        (f"{award}/R1:review_due", ["carol@casework.example.gov.uk"], [])
    ]
    assert review(world, award)["status"] == "due"
    with world.engine.connect() as conn:  # the command it gives runs as written (--as)
        body = conn.execute(
            select(outbox.c.body_text).where(outbox.c.kind == "review.due")
        ).scalar()
    # the page first, at its annual review section
    assert f"/cases/{award}#review\n\nor at the command line:" in body
    assert (
        f"casework review record {award} --as NAME \\\n"
        f'        --decision continue|amend|stop --reason "..."' in body
    )
    # the next year's review is scheduled as this one opens
    assert review(world, award, 2)["due"] == "2015-08-25"


def test_each_step_is_done_once_and_the_overdue_one_goes_to_the_sro(world, award):
    for at in (
        DUE_AT,
        DUE_AT.replace(hour=12),
        datetime(2014, 9, 8, 12, 0, tzinfo=UTC),
        OVERDUE_AT,
        OVERDUE_AT.replace(hour=15),
    ):
        sweep(world.engine, now=at)

    assert len(mail(world, "review.due")) == 1
    assert mail(world, "review.overdue") == [
        (
            f"{award}/R1:review_overdue",
            ["april@casework.example.gov.uk"],
            ["carol@casework.example.gov.uk"],
        )
    ]
    assert rows(world, award, "review_due", "review_overdue") == [
        ("review_due", "review_due", False),
        ("review_overdue", "review_overdue", False),
    ]
    assert review(world, award)["status"] == "overdue"


def test_an_overdue_review_under_a_programme_with_no_sro_goes_to_the_caseworker_saying_why(world):
    ref = bid_in_monitoring(world, ACCEPTED)  # tca-2013 names no SRO
    with freeze_time(ACCEPTED):
        for cp in monitoring.list_checkpoints(world.engine, case=ref):
            monitoring.decide_return(world.engine, cp["ref"], "waive", "carol", reason="Waived.")

    sweep(world.engine, now=OVERDUE_AT)

    assert mail(world, "review.overdue") == [
        (f"{ref}/R1:review_overdue", ["carol@casework.example.gov.uk"], [])
    ]
    with world.engine.connect() as conn:
        body = conn.execute(
            select(outbox.c.body_text).where(outbox.c.kind == "review.overdue")
        ).scalar()
    text = " ".join(body.split())
    assert "You are told as the senior responsible owner" not in text
    assert (
        "The Transformation Challenge Award 2013 names no senior responsible owner to tell, "
        "so it comes to you, the case's caseworker: ask an admin to name one." in text
    )


def test_the_overdue_review_tells_the_sro_they_are_told_as_such(world, award):
    sweep(world.engine, now=OVERDUE_AT)
    with world.engine.connect() as conn:
        body = conn.execute(
            select(outbox.c.body_text).where(outbox.c.kind == "review.overdue")
        ).scalar()
    assert "You are told as the senior responsible owner of the Transformation Challenge " in (
        " ".join(body.split())
    )


def test_a_missed_sweep_catches_up_in_order_each_step_once_and_late(world, award):
    report = sweep(world.engine, now=datetime(2014, 9, 15, 9, 0, tzinfo=UTC))
    again = sweep(world.engine, now=datetime(2014, 9, 15, 10, 0, tzinfo=UTC))

    assert report.steps["review_due"] == report.steps["review_overdue"] == 1
    assert again.steps["review_due"] == again.steps["review_overdue"] == 0
    assert rows(world, award, "review_due", "review_overdue") == [
        ("review_due", "review_due", True),
        ("review_overdue", "review_overdue", True),
    ]
    assert len(mail(world, "review.due")) == len(mail(world, "review.overdue")) == 1


def test_a_review_cannot_be_recorded_before_it_falls_due(world, award):
    sweep(world.engine, now=datetime(2014, 8, 25, 12, 0, tzinfo=UTC))
    before = world.snapshot()

    with pytest.raises(RuleViolation) as refused:
        record(world, award)

    assert str(refused.value) == (
        f"{award}'s annual review is not due yet: R1 falls due on "
        f"26 August 2014 and can be recorded from then on, not before."
    )
    assert world.snapshot() == before


def test_a_recorded_review_is_not_escalated(world, award):
    sweep(world.engine, now=DUE_AT)
    shown = record(world, award, "continue")
    sweep(world.engine, now=OVERDUE_AT)

    assert (shown["status"], shown["decision"], shown["recorded_by"]) == (
        "recorded",
        "continue",
        "carol",
    )
    assert mail(world, "review.overdue") == []
    assert rows(world, award, "review")[-1][0] == "review"
    assert world.state(award) == "in_monitoring"


def test_amend_proposes_a_variation_with_the_change_asked_for(world, award):
    sweep(world.engine, now=DUE_AT)

    shown = record(world, award, "amend", reason="Extend the end date by six months.")

    assert shown["variation"] == f"{award}/V1"
    rows_ = lifecycle.case_history(world.engine, award)
    assert (rows_[-1]["trigger"], rows_[-1]["payload"]) == (
        "review",
        {
            "review": "R1",
            "decision": "amend",
            "requested_change": "Extend the end date by six months.",
            "variation": f"{award}/V1",
        },
    )
    assert (rows_[-2]["trigger"], rows_[-2]["reason"]) == (
        "propose_variation",
        "Annual review R1: Extend the end date by six months.",
    )
    from workflow.services import variations

    assert variations.get(world.engine, f"{award}/V1")["state"] == "awaiting_decision"


def test_amend_while_a_variation_waits_records_the_change_only(world, award):
    from workflow.services import variations

    sweep(world.engine, now=DUE_AT)
    with freeze_time(DUE_AT.replace(hour=13)):
        variations.propose(world.engine, award, reason="Scope widened.", actor="cllr")

    shown = record(world, award, "amend", reason="Add a fourth district.")

    assert shown["variation"] is None
    assert [v["ref"] for v in variations.list_variations(world.engine, case=award)] == [
        f"{award}/V1"
    ]


@pytest.mark.parametrize(
    "kw, asked",
    [
        ({"amount": "200000"}, "amount"),
        ({"amount": "200000", "end": "2016-03-31"}, "amount and end date"),
    ],
)
def test_amend_asking_a_new_amount_while_a_variation_waits_is_refused_not_dropped(
    world, award, kw, asked
):
    from workflow.services import variations

    sweep(world.engine, now=DUE_AT)
    with freeze_time(DUE_AT.replace(hour=13)):
        variations.propose(world.engine, award, reason="Scope widened.", actor="cllr")
    before = world.snapshot()

    with freeze_time(DUE_AT.replace(hour=14)), pytest.raises(RuleViolation) as refused:
        reviews.record(
            world.engine, award, decision="amend", reason="Costs fell.", actor_name="carol", **kw
        )

    assert str(refused.value) == (
        f"{award}/V1 is still waiting for a decision, so the new {asked} cannot be proposed "
        f"now: record amend without it (the change asked for is kept with the review), or "
        f"once an approver has decided {award}/V1."
    )
    assert world.snapshot() == before
    assert review(world, award)["decision"] is None


def test_stop_suspends_the_case_for_an_approver_to_terminate(world, award):
    sweep(world.engine, now=DUE_AT)

    record(world, award, "stop", reason="No progress in a year.")

    assert world.state(award) == "suspended"
    last = next(
        r
        for r in reversed(lifecycle.case_history(world.engine, award))
        if r["trigger"] == "suspend"
    )
    assert last["actor"] == "carol"
    assert "annual review (R1) decided to stop the award: No progress in a year." in last["reason"]
    lifecycle.advance(world.engine, award, "terminate", "aaron", reason="As the review says.")
    assert world.state(award) == "terminated"


@pytest.mark.parametrize("who", ["april", "ash", "audrey", "cllr"])
def test_only_a_caseworker_records_a_review(world, award, who):
    sweep(world.engine, now=DUE_AT)
    before = world.snapshot()

    with pytest.raises(PermissionDenied) as refused:
        record(world, award, by=who)

    assert "only a caseworker may" in str(refused.value) or "is not a person of" in str(
        refused.value
    )
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "decision, reason, error, words",
    [
        (
            "maybe",
            "Why not.",
            Malformed,
            "it is not one of Continue (continue), Amend (amend), Stop (stop)",
        ),
        ("continue", "", Malformed, "needs its reason"),
        ("continue", "fine\x1b[31m", Malformed, "reason"),
    ],
)
def test_a_review_with_bad_input_is_refused_and_writes_nothing(
    world, award, decision, reason, error, words
):
    sweep(world.engine, now=DUE_AT)
    before = world.snapshot()

    with pytest.raises(error, match=re.escape(words)):
        record(world, award, decision, reason=reason)

    assert world.snapshot() == before
