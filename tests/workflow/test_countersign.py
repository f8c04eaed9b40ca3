"""A second approver above the threshold, the SRO for a high fraud risk (DESIGN.md section 9).

`countersign` is a move that keeps the bid `recommended`; `offer` is refused,
naming whose signature is missing, until every countersignature it needs is
given by someone other than the approver offering. Every refusal writes nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from workflow.errors import CaseworkError, GuardFailed, PermissionDenied
from workflow.services import chain, lifecycle
from workflow.services.unit_of_work import UnitOfWork

from tests.workflow.awarding import (
    ledger_pence,
    load_programme,
    offers_pence,
    recommended,
    scored,
    small_programme,
    under_assessment,
)

THRESHOLD = 'countersign_above = "100000"\n'


@pytest.fixture
def world(any_world):
    return any_world.cast()


def programme(world, code: str, fund: str = "1000000") -> str:
    # the threshold goes before the first table of the file
    text = small_programme(code, fund=fund).replace("[criteria]", THRESHOLD + "[criteria]")
    return load_programme(world, text)


def history(world, ref):
    return [(r["trigger"], r["actor"]) for r in lifecycle.case_history(world.engine, ref)]


def rate_fraud_risk(world, ref, rating):
    """A caseworker's fraud-risk rating, as due diligence records it (a `diligence` row)."""
    with UnitOfWork(world.engine) as uow:
        case = lifecycle.load_case(uow.conn, ref)
        chain.change(
            uow.conn,
            case,
            chain.Entry(
                from_state=case.state,
                to_state=case.state,
                trigger="diligence",
                actor="carol",
                role="caseworker",
                at=uow.now,
                payload={
                    "check": "fraud_risk",
                    "result": "pass",
                    "rating": rating,
                    "evidence": "checked",
                },
            ),
        )


def name_sro(world, ref: str, name: str = "aaron") -> str:
    """`name` named the senior responsible owner of `ref`'s programme, as an admin names one."""
    return world.name_sro(name, lifecycle.show(world.engine, ref)["programme"])


# --- the boundary ---------------------------------------------------------------
@pytest.mark.parametrize(
    "amount, needs", [("100000", False), ("100000.01", True), ("99999.99", False), ("250000", True)]
)
def test_an_offer_needs_a_countersignature_only_above_the_threshold(world, amount, needs):
    ref = recommended(world, amount=amount, programme=programme(world, "edge"))
    before = world.snapshot()

    if not needs:
        with pytest.raises(GuardFailed, match="it needs no countersignature"):
            lifecycle.advance(world.engine, ref, "countersign", "aaron")
        assert world.snapshot() == before
        lifecycle.advance(world.engine, ref, "offer", "april")
        assert world.state(ref) == "award_offered"
        return
    with pytest.raises(GuardFailed) as refused:
        lifecycle.advance(world.engine, ref, "offer", "april")
    assert refused.value.violations == (
        f"an offer of £{float(amount):,.2f} is above the programme's countersignature threshold "
        f"of £100,000: it needs a second approver's countersignature, by an approver who "
        f"neither makes the offer nor assessed the bid".replace(".00 ", " "),
    )
    assert world.snapshot() == before

    lifecycle.advance(world.engine, ref, "countersign", "aaron")
    lifecycle.advance(world.engine, ref, "offer", "april")

    assert world.state(ref) == "award_offered"
    assert history(world, ref)[-2:] == [("countersign", "aaron"), ("offer", "april")]


def test_the_countersignature_row_keeps_the_state_and_records_the_amount(world):
    ref = recommended(world, amount="250000")  # the bundled TCA file: £100,000

    lifecycle.advance(world.engine, ref, "countersign", "aaron", reason="Read the file.")

    row = lifecycle.case_history(world.engine, ref)[-1]
    assert (row["from_state"], row["to_state"], row["trigger"], row["role"]) == (
        "recommended",
        "recommended",
        "countersign",
        "approver",
    )
    assert row["payload"] == {"amount": "250000.00"}
    assert row["reason"] == "Read the file."


# --- who may countersign -------------------------------------------------------------
@pytest.mark.parametrize(
    "who, roles",
    [("carol", "caseworker"), ("ash", "assessor"), ("audrey", "auditor"), ("cllr", "council")],
)
def test_only_an_approver_may_countersign(world, who, roles):
    ref = recommended(world)
    before = world.snapshot()

    with pytest.raises(PermissionDenied) as refused:
        lifecycle.advance(world.engine, ref, "countersign", who)

    assert str(refused.value) == (
        f"{who} ({roles}) may not do 'Countersign the offer' on {ref}: only an approver may."
    )
    assert world.snapshot() == before


def test_the_approver_who_countersigned_cannot_also_offer(world):
    ref = recommended(world)
    lifecycle.advance(world.engine, ref, "countersign", "april")
    before = world.snapshot()

    with pytest.raises(PermissionDenied) as refused:
        lifecycle.advance(world.engine, ref, "offer", "april")

    assert str(refused.value) == (
        f"april may not do 'Offer the award' on {ref}: you countersigned {ref}'s offer, "
        f"so you cannot also make it: another approver must offer it."
    )
    assert world.snapshot() == before
    lifecycle.advance(world.engine, ref, "offer", "aaron")
    assert world.state(ref) == "award_offered"


def test_an_approver_countersigns_once(world):
    ref = recommended(world)
    lifecycle.advance(world.engine, ref, "countersign", "aaron")
    before = world.snapshot()

    with pytest.raises(PermissionDenied, match="you have already countersigned"):
        lifecycle.advance(world.engine, ref, "countersign", "aaron")

    assert world.snapshot() == before


def test_a_second_countersignature_is_refused_when_none_is_missing(world):
    world.person("abby", "approver")
    ref = recommended(world)
    lifecycle.advance(world.engine, ref, "countersign", "aaron")
    before = world.snapshot()

    with pytest.raises(GuardFailed, match="already countersigned by aaron: it needs no other"):
        lifecycle.advance(world.engine, ref, "countersign", "abby")

    assert world.snapshot() == before


def test_an_approver_who_assessed_the_bid_cannot_countersign(world):
    world.person("alex", "assessor", "approver")
    ref = under_assessment(world)
    scored(world, ref, assessors=("ash", "alex"))
    world.advance(ref, "moderate", "recommend")
    before = world.snapshot()

    with pytest.raises(PermissionDenied) as refused:
        lifecycle.advance(world.engine, ref, "countersign", "alex")

    assert str(refused.value) == (
        f"alex may not do 'Countersign the offer' on {ref}: you assessed {ref}, so you "
        f"cannot countersign its offer: another approver must."
    )
    assert world.snapshot() == before


def test_a_refused_countersignature_with_control_characters_in_its_reason_writes_nothing(world):
    ref = recommended(world)
    before = world.snapshot()

    with pytest.raises(CaseworkError, match="reason"):
        lifecycle.advance(world.engine, ref, "countersign", "aaron", reason="ok\x07")

    assert world.snapshot() == before


# --- a high fraud risk: the SRO's signature -----------------------------------------------
def test_a_high_fraud_risk_needs_the_sros_countersignature_whatever_the_amount(world):
    world.person("abby", "approver")
    ref = recommended(world, amount="60000", programme=programme(world, "risky"))
    sro = name_sro(world, ref)
    rate_fraud_risk(world, ref, "high")
    before = world.snapshot()

    with pytest.raises(GuardFailed) as refused:
        lifecycle.advance(world.engine, ref, "offer", "april")
    assert refused.value.violations == (
        f"{ref}'s fraud risk is rated high: it needs the countersignature of the programme's "
        f"senior responsible owner, aaron",
    )
    with pytest.raises(GuardFailed, match="only they can give it"):
        lifecycle.advance(world.engine, ref, "countersign", "abby")
    assert world.snapshot() == before

    lifecycle.advance(world.engine, ref, "countersign", sro)
    lifecycle.advance(world.engine, ref, "offer", "april")

    assert world.state(ref) == "award_offered"


def test_above_the_threshold_and_high_risk_a_second_approver_alone_is_not_enough(world):
    world.person("abby", "approver")
    ref = recommended(world, amount="250000")
    name_sro(world, ref)
    rate_fraud_risk(world, ref, "high")
    lifecycle.advance(world.engine, ref, "countersign", "abby")

    with pytest.raises(GuardFailed, match="senior responsible owner, aaron"):
        lifecycle.advance(world.engine, ref, "offer", "april")
    lifecycle.advance(world.engine, ref, "countersign", "aaron")
    lifecycle.advance(world.engine, ref, "offer", "april")
    assert world.state(ref) == "award_offered"


def test_a_high_risk_bid_under_a_programme_with_no_sro_says_so(world):
    ref = recommended(world, amount="60000", programme=programme(world, "nosro"))
    rate_fraud_risk(world, ref, "high")

    with pytest.raises(GuardFailed, match="the programme names none yet"):
        lifecycle.advance(world.engine, ref, "offer", "april")
    with pytest.raises(GuardFailed, match="the programme names none yet"):
        lifecycle.advance(world.engine, ref, "countersign", "aaron")


def test_a_low_or_medium_risk_needs_nothing_more_than_the_amount_does(world):
    ref = recommended(world, amount="60000", programme=programme(world, "calm"))
    name_sro(world, ref)
    rate_fraud_risk(world, ref, "high")
    rate_fraud_risk(world, ref, "medium")  # the latest rating counts

    lifecycle.advance(world.engine, ref, "offer", "april")
    assert world.state(ref) == "award_offered"


# --- at the same instant ----------------------------------------------------------------------
@pytest.mark.parametrize("round_no", range(2))
def test_approvers_countersigning_and_offering_at_once_never_pass_the_fund(world, round_no):
    code = programme(world, f"race-{round_no}", fund="1000000")
    bids = [recommended(world, amount="300000", programme=code) for _ in range(5)]
    start = threading.Barrier(len(bids) * 2)

    def move(args):
        trigger, ref, who = args
        start.wait()
        for _ in range(20):  # an offer tried before its countersignature: try again
            try:
                lifecycle.advance(world.engine, ref, trigger, who)
                return None
            except GuardFailed as err:
                if trigger == "offer" and "second approver" in str(err):
                    continue
                return err
            except CaseworkError as err:
                return err
        return None

    jobs = [
        (t, ref, who)
        for n, ref in enumerate(bids)
        for t, who in (
            ("countersign", ("aaron", "april")[n % 2]),
            ("offer", ("april", "aaron")[n % 2]),
        )
    ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(move, jobs))

    offered = [ref for ref in bids if world.state(ref) == "award_offered"]
    assert len(offered) <= 3
    assert (
        ledger_pence(world.engine, code)
        == offers_pence(world.engine, code)
        == 30_000_000 * len(offered)
        <= 100_000_000
    )
    for ref in offered:
        rows = history(world, ref)
        signer = next(who for t, who in rows if t == "countersign")
        offerer = next(who for t, who in rows if t == "offer")
        assert signer != offerer
        assert rows.index(("countersign", signer)) < rows.index(("offer", offerer))
