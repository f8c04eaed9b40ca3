"""Award rules end to end: category bands at submit, check and offer; the fund and the counts at offer.

Every rule is tried at, just inside and just outside its boundary through the
case service, and every refusal is shown to change nothing.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from workflow.services import assessment, lifecycle
from workflow.errors import GuardFailed, PermissionDenied, RuleViolation
from workflow.storage.tables import outbox

from tests.workflow.awarding import (
    ledger_pence,
    load_programme,
    offer,
    offers_pence,
    open_bid,
    recommended,
    scored,
    small_programme,
    under_assessment,
)

ESG_LEAD = "E06000001"


@pytest.fixture
def world(world):
    world.cast()
    return world


def assert_ledger_matches_offers(world, code="tca-2013"):
    assert ledger_pence(world.engine, code) == offers_pence(world.engine, code)


# --- category bands, at submit ------------------------------------------------
@pytest.mark.parametrize(
    "amount, allowed",
    [
        ("49999", False),
        ("49999.99", False),
        ("50000", True),
        ("50000.01", True),
        ("499999.99", True),
        ("500000", True),
        ("500000.01", False),
        ("500001", False),
    ],
)
def test_a_shared_arrangement_asks_between_50000_and_500000_pounds(world, amount, allowed):
    ref = open_bid(world, amount=amount)
    before = world.snapshot()

    if allowed:
        assert world.advance(ref, "submit")["state"] == "submitted"
        return
    with pytest.raises(
        GuardFailed, match="Shared arrangement asks at (least £50,000|most £500,000); this bid asks"
    ):
        world.advance(ref, "submit")
    assert world.snapshot() == before
    assert world.state(ref) == "draft"


@pytest.mark.parametrize(
    "amount, allowed", [("2000000", True), ("1999999.99", True), ("2000000.01", False)]
)
def test_a_single_operation_asks_up_to_2000000_pounds(world, amount, allowed):
    ref = open_bid(world, "single_operation", amount)
    before = world.snapshot()

    if allowed:
        assert world.advance(ref, "submit")["state"] == "submitted"
        return
    with pytest.raises(GuardFailed, match="asks at most £2,000,000; this bid asks £2,000,000.01"):
        world.advance(ref, "submit")
    assert world.snapshot() == before


@pytest.mark.parametrize(
    "allocation, amount, allowed",
    [
        ("1000000", "250000", True),  # exactly 25%
        ("1000000", "249999.99", True),
        ("1000000", "250000.01", False),  # one penny over
        ("1000000.03", "250000", True),  # 25% is £250,000.0075: rounded down to the penny
        ("1000000.03", "250000.01", False),
    ],
)
def test_an_esg_top_up_asks_at_most_a_quarter_of_the_leads_allocation(
    world, allocation, amount, allowed
):
    world.org(ESG_LEAD, esg=allocation)
    ref = open_bid(world, "esg_top_up", amount, lead=ESG_LEAD)
    before = world.snapshot()

    if allowed:
        assert world.advance(ref, "submit")["state"] == "submitted"
        return
    with pytest.raises(
        GuardFailed,
        match=r"limited to 25% of .* so at most £250,000; "
        r"this bid asks £250,000.01",
    ):
        world.advance(ref, "submit")
    assert world.snapshot() == before


def test_an_esg_top_up_needs_a_lead_with_an_esg_allocation(world):
    ref = open_bid(world, "esg_top_up", "100000")
    before = world.snapshot()

    with pytest.raises(
        GuardFailed, match="Council E07000026 has no Efficiency Support Grant allocation"
    ):
        world.advance(ref, "submit")

    assert world.snapshot() == before


def test_a_refusal_lists_every_broken_rule_at_once(world):
    ref = open_bid(world, amount="49999", innovation=None, annual_savings=None)
    before = world.snapshot()

    with pytest.raises(GuardFailed) as refused:
        world.advance(ref, "submit")

    assert refused.value.violations == (
        "Shared arrangement asks at least £50,000; this bid asks £49,999 (amount)",
        "Shared arrangement bids must state what is innovative about it (innovation); "
        "this bid does not",
        "Shared arrangement bids must state its expected annual savings (annual_savings); "
        "this bid does not",
    )
    assert world.snapshot() == before


# --- the rules run again at check and at offer ---------------------------------
TIGHTER = """
code = "tca-2013"
name = "Transformation Challenge Award 2013"
kind = "bids"
fund = "9000000"
[categories.single_operation]
max = "2000000"
max_count = 4
[categories.shared_arrangement]
min = "50000"
max = "400000"
max_count = 30
[categories.esg_top_up]
esg_share = 0.25
max_count = 7
"""


def test_submit_weighs_the_bid_against_the_rules_in_force_then(world):
    ref = open_bid(world, amount="450000")
    load_programme(world, TIGHTER)  # a draft holds the programme to nothing yet
    before = world.snapshot()

    with pytest.raises(GuardFailed, match="asks at most £400,000; this bid asks £450,000"):
        world.advance(ref, "submit")

    assert world.snapshot() == before


def test_rules_cannot_tighten_under_a_submitted_bid_so_its_offer_meets_the_rules_it_met(world):
    ref = recommended(world, amount="450000")

    with pytest.raises(RuleViolation, match=f"{ref}: asks for £450,000, above the new band"):
        load_programme(world, TIGHTER)
    offer(world, ref)

    assert lifecycle.show(world.engine, ref)["state"] == "award_offered"


# --- the fund and the category counts, at offer --------------------------------
def test_the_fifth_single_operation_offer_is_refused_until_one_is_given_back(world):
    offered = []
    for _ in range(4):
        ref = recommended(world, "single_operation", "2000000")
        offer(world, ref)
        offered.append(ref)
        assert_ledger_matches_offers(world)
    fifth = recommended(world, "single_operation", "100000")
    before = world.snapshot()

    with pytest.raises(GuardFailed) as refused:
        offer(world, fifth)

    assert refused.value.violations == (
        "Single operation allows at most 4 offers and 4 are already made",
    )
    assert world.snapshot() == before
    world.advance(offered[0], "decline", by="cllr")
    assert_ledger_matches_offers(world)
    assert offer(world, fifth)["state"] == "award_offered"
    assert_ledger_matches_offers(world)


def test_an_offer_may_commit_the_whole_fund_but_not_a_penny_more(world):
    world.org(ESG_LEAD, esg="2000000.04")  # 25% is £500,000.01
    for _ in range(4):
        offer(world, recommended(world, "single_operation", "2000000"))
    offer(world, recommended(world, "shared_arrangement", "500000"))
    assert ledger_pence(world.engine, "tca-2013") == 850_000_000
    penny_over = recommended(world, "esg_top_up", "500000.01", lead=ESG_LEAD)
    exact = recommended(world, "esg_top_up", "500000", lead=ESG_LEAD)
    world.countersign(penny_over)  # by aaron, before april's offer is tried
    before = world.snapshot()

    with pytest.raises(GuardFailed) as refused:
        offer(world, penny_over)

    assert refused.value.violations == (
        "offering £500,000.01 would commit £9,000,000.01, past the fund's £9,000,000 "
        "(£500,000 remains)",
    )
    assert world.snapshot() == before
    assert offer(world, exact, by="aaron")["state"] == "award_offered"
    assert ledger_pence(world.engine, "tca-2013") == 900_000_000
    assert_ledger_matches_offers(world)
    position = assessment.fund_position(world.engine, "tca-2013")
    assert (position["committed"], position["remaining"]) == ("9000000.00", "0.00")


def test_an_offer_past_both_the_fund_and_the_count_names_both(world):
    code = load_programme(world, small_programme("both-1", fund="600000", max_count=1))
    offer(world, recommended(world, amount="500000", programme=code))
    late = recommended(world, amount="200000", programme=code)
    before = world.snapshot()

    with pytest.raises(GuardFailed) as refused:
        offer(world, late)

    assert refused.value.violations == (
        "offering £200,000 would commit £700,000, past the fund's £600,000 (£100,000 remains)",
        "Shared arrangement allows at most 1 offer and 1 is already made",
    )
    assert world.snapshot() == before


# --- who may offer -------------------------------------------------------------
def test_an_approver_cannot_offer_a_bid_they_assessed(world):
    world.person("alex", "assessor", "approver")
    ref = under_assessment(world)
    scored(world, ref, marks=((4, 4, 4), (4, 4, 4)), assessors=("ash", "alex"))
    world.advance(ref, "moderate", "recommend")
    world.countersign(ref, offering="alex")
    before = world.snapshot()

    with pytest.raises(PermissionDenied, match="you assessed .* another approver must"):
        offer(world, ref, by="alex")

    assert world.snapshot() == before
    assert offer(world, ref, by="april")["state"] == "award_offered"


def test_an_approver_who_declared_a_conflict_cannot_offer_either(world):
    world.person("alex", "assessor", "approver")
    ref = under_assessment(world)
    assessment.declare(world.engine, ref, "alex", conflict=True, reason="former employer")
    scored(world, ref)
    world.advance(ref, "moderate", "recommend")
    world.countersign(ref, offering="alex")
    before = world.snapshot()

    with pytest.raises(PermissionDenied, match="you assessed"):
        offer(world, ref, by="alex")

    assert world.snapshot() == before


def test_an_approver_sees_offer_among_allowed_triggers_without_guards_being_run(world):
    code = load_programme(world, small_programme("full-1", fund="100000"))
    ref = recommended(world, amount="200000", programme=code)

    shown = lifecycle.show(world.engine, ref, "april")

    assert shown["allowed_triggers"] == ["countersign", "offer"]
    assert lifecycle.show(world.engine, ref, "carol")["allowed_triggers"] == ["withdraw"]


# --- the ledger ----------------------------------------------------------------
def test_an_offer_reserves_and_a_decline_releases_in_ledger_rows(world):
    ref = recommended(world, amount="300000")

    offer(world, ref)
    assert ledger_pence(world.engine, "tca-2013") == 30_000_000
    world.advance(ref, "decline", by="cllr")

    assert ledger_pence(world.engine, "tca-2013") == 0
    assert_ledger_matches_offers(world)
    assert assessment.fund_position(world.engine, "tca-2013")["remaining"] == "9000000.00"


def test_a_termination_releases_what_was_reserved(world):
    ref = recommended(world, amount="300000")
    offer(world, ref)
    world.advance(ref, "accept", by="cllr")
    world.advance(ref, "suspend", reason="Spend on the hub is under audit")

    lifecycle.advance(world.engine, ref, "terminate", "aaron", reason="The audit found misspending")

    assert ledger_pence(world.engine, "tca-2013") == 0
    assert_ledger_matches_offers(world)


# --- messages --------------------------------------------------------------------
def queued(world, ref):
    with world.engine.connect() as conn:
        return [
            (r.kind, list(r.to_addrs))
            for r in conn.execute(
                select(outbox.c.kind, outbox.c.to_addrs)
                .where(outbox.c.case_ref == ref)
                .order_by(outbox.c.id)
            )
        ]


def test_the_offer_the_decline_and_a_rejection_are_queued_to_the_council(world):
    council = ["returns@e07000026.example.gov.uk"]
    ref = recommended(world, amount="300000")
    offer(world, ref)
    world.advance(ref, "decline", by="cllr")
    other = under_assessment(world)
    scored(world, other, marks=((1, 1, 1), (1, 1, 1)))

    world.advance(other, "moderate")
    world.advance(other, "reject", reason="Scored too low on savings to be funded")

    assert queued(world, ref) == [
        ("case.submitted", council),
        ("bid.award_offered", council),
        ("bid.declined", council),
    ]
    assert queued(world, other) == [("case.submitted", council), ("bid.rejected", council)]
    with world.engine.connect() as conn:
        body = conn.execute(
            select(outbox.c.body_text).where(outbox.c.kind == "bid.award_offered")
        ).scalar()
    assert "£300,000" in body and ref in body
