"""The programme rules, each at, just inside and just outside its boundary."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from states.documents import AreaApplication, AreaPartner, BidApplication
from states.facts import CheckpointFacts, Facts, OrgFacts, Score
from states.programme import parse_programme
from states.rules import (
    ACTOR_RULES,
    RULES,
    all_checkpoints_accepted,
    combined_score,
    contribution_agreed,
    did_not_assess,
    eoi_complete,
    has_two_scores,
    meets_category_rules,
    no_conflicted_assessor,
    return_complete,
    score_problems,
    score_typed,
    scores_agree,
    weighted_score,
    within_category_count,
    within_fund,
)

PROGRAMMES = Path(__file__).resolve().parents[2] / "states" / "programmes"
TCA = parse_programme((PROGRAMMES / "tca-2013.toml").read_text())
PSTN = parse_programme((PROGRAMMES / "pstn-2013.toml").read_text())

LEAD = OrgFacts("E07000026", "Mid Suffolk")
PARTNER = OrgFacts("E07000028", "Babergh")
FIRE = OrgFacts("ORG-SFRS", "Suffolk Fire and Rescue", kind="fire")
BARROW = OrgFacts("E07000027", "Barrow", esg_allocation_pence=100_000_000)

COMPLETE = {  # every field any category requires, stated
    "transitional_costs_pence": 12_000_000,
    "annual_savings_pence": 40_000_000,
    "arrangement": "joint_procurement",
    "innovation": "One buyer for three councils",
    "further_and_faster": "Two years ahead of plan",
}


def a_bid(category: str, amount: int, **fields) -> BidApplication:
    values = {**COMPLETE, **fields}
    return BidApplication(
        programme="tca-2013",
        category=category,
        title="A bid",
        lead=LEAD.code,
        partners=(PARTNER.code,),
        amount_pence=amount,
        **values,
    )


def bid_facts(app: BidApplication, *, lead: OrgFacts = LEAD, partners=(PARTNER,), **facts) -> Facts:
    return Facts(
        kind="bid",
        ref="TCA-2013-0004",
        programme=TCA,
        application=app,
        lead=lead,
        partners=tuple(partners),
        **facts,
    )


def test_the_rule_names_are_the_ones_the_definitions_use():
    assert set(RULES) == {
        "meets_category_rules",
        "within_fund",
        "within_category_count",
        "has_two_scores",
        "no_conflicted_assessor",
        "scores_agree",
        "eoi_complete",
        "contribution_agreed",
        "all_checkpoints_accepted",
        "return_complete",
        "diligence_passed",
        "needs_countersignature",
        "countersigned",
        "variation_needs_countersignature",
        "variation_countersigned",
    }
    assert set(ACTOR_RULES) == {
        "did_not_assess",
        "not_the_caseworker",
        "may_countersign",
        "did_not_countersign",
    }


# --- single_operation ------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, allowed", [(199_999_999, True), (200_000_000, True), (200_000_001, False)]
)
def test_single_operation_awards_are_up_to_two_million(amount, allowed):
    assert (meets_category_rules(bid_facts(a_bid("single_operation", amount))) == []) is allowed


def test_a_single_operation_bid_over_the_band_is_told_both_numbers():
    assert meets_category_rules(bid_facts(a_bid("single_operation", 210_000_000))) == [
        "Single operation asks at most £2,000,000; this bid asks £2,100,000 (amount)"
    ]


def test_a_single_operation_needs_a_partner_council_besides_the_lead():
    alone = bid_facts(a_bid("single_operation", 100_000_000), partners=())
    with_fire = bid_facts(a_bid("single_operation", 100_000_000), partners=(FIRE,))

    assert meets_category_rules(alone) == [
        "Single operation is for a group of councils: it needs the lead and at least "
        "1 partner council (partners); this bid names 0"
    ]
    assert meets_category_rules(with_fire) == [
        "Single operation is for a group of councils: it needs the lead and at least "
        "1 partner council (partners); this bid names 0 (Suffolk Fire and Rescue is a fire authority, not a council)"
    ]
    assert (
        meets_category_rules(
            bid_facts(a_bid("single_operation", 100_000_000), partners=(FIRE, PARTNER))
        )
        == []
    )


def test_a_single_operation_must_state_its_costs_and_savings():
    app = a_bid(
        "single_operation", 100_000_000, transitional_costs_pence=None, annual_savings_pence=None
    )

    assert meets_category_rules(bid_facts(app)) == [
        "Single operation bids must state its estimated transitional costs "
        "(transitional_costs); this bid does not",
        "Single operation bids must state its expected annual savings (annual_savings); "
        "this bid does not",
    ]


# --- shared_arrangement ------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, allowed",
    [
        (4_999_999, False),
        (5_000_000, True),
        (5_000_001, True),
        (49_999_999, True),
        (50_000_000, True),
        (50_000_001, False),
    ],
)
def test_shared_arrangements_are_fifty_thousand_to_half_a_million_inclusive(amount, allowed):
    assert (meets_category_rules(bid_facts(a_bid("shared_arrangement", amount))) == []) is allowed


def test_a_shared_arrangement_outside_the_band_is_told_the_band():
    assert meets_category_rules(bid_facts(a_bid("shared_arrangement", 4_999_999))) == [
        "Shared arrangement asks at least £50,000; this bid asks £49,999.99 (amount)"
    ]
    assert meets_category_rules(bid_facts(a_bid("shared_arrangement", 50_000_001))) == [
        "Shared arrangement asks at most £500,000; this bid asks £500,000.01 (amount)"
    ]


def test_a_shared_arrangement_must_say_what_it_is_and_what_is_innovative():
    app = a_bid(
        "shared_arrangement",
        25_000_000,
        arrangement=None,
        innovation="  ",
        transitional_costs_pence=None,
    )

    assert meets_category_rules(bid_facts(app)) == [
        "Shared arrangement bids must state the kind of shared arrangement (arrangement); "
        "this bid does not",
        "Shared arrangement bids must state what is innovative about it (innovation); "
        "this bid does not",
        "Shared arrangement bids must state its estimated transitional costs "
        "(transitional_costs); this bid does not",
    ]


# --- esg_top_up ------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, allowed", [(24_999_999, True), (25_000_000, True), (25_000_001, False)]
)
def test_an_esg_top_up_is_at_most_a_quarter_of_the_councils_allocation(amount, allowed):
    facts = bid_facts(a_bid("esg_top_up", amount), lead=BARROW)

    assert (meets_category_rules(facts) == []) is allowed


def test_an_esg_top_up_a_penny_over_is_told_the_limit():
    facts = bid_facts(a_bid("esg_top_up", 25_000_001), lead=BARROW)

    assert meets_category_rules(facts) == [
        "ESG top-up is limited to 25% of Barrow's ESG allocation of £1,000,000, so at most "
        "£250,000; this bid asks £250,000.01 (amount)"
    ]


def test_a_quarter_of_an_odd_allocation_is_rounded_down_to_the_penny():
    odd = OrgFacts("E07000027", "Barrow", esg_allocation_pence=101)  # a quarter is 25.25p

    assert meets_category_rules(bid_facts(a_bid("esg_top_up", 25), lead=odd)) == []
    assert len(meets_category_rules(bid_facts(a_bid("esg_top_up", 26), lead=odd))) == 1


def test_an_esg_top_up_needs_a_lead_with_an_allocation_on_record():
    hartlepool = OrgFacts("E06000001", "Hartlepool")

    assert meets_category_rules(bid_facts(a_bid("esg_top_up", 1), lead=hartlepool)) == [
        "Hartlepool has no Efficiency Support Grant allocation on record"
    ]


def test_an_esg_top_up_must_say_how_it_goes_further_and_faster():
    facts = bid_facts(a_bid("esg_top_up", 100, further_and_faster=None), lead=BARROW)

    assert meets_category_rules(facts) == [
        "ESG top-up bids must state how it goes further and faster than already planned "
        "(further_and_faster); this bid does not"
    ]


def test_every_violation_is_listed_together():
    facts = bid_facts(a_bid("esg_top_up", 30_000_000, further_and_faster=None), lead=BARROW)

    assert len(meets_category_rules(facts)) == 2


def test_a_programme_file_moves_the_boundary_without_any_code_change():
    wider = parse_programme(TCA.source.replace('max = "500000"', 'max = "600000"'))
    facts = Facts(
        kind="bid",
        ref="TCA-2013-0004",
        programme=wider,
        application=a_bid("shared_arrangement", 60_000_000),
        lead=LEAD,
        partners=(PARTNER,),
    )

    assert meets_category_rules(facts) == []


# --- the fund and the counts -----------------------------------------------------


@pytest.mark.parametrize(
    "committed, allowed", [(839_999_999, True), (840_000_000, True), (840_000_001, False)]
)
def test_an_offer_may_commit_the_fund_exactly_and_not_a_penny_more(committed, allowed):
    facts = bid_facts(a_bid("shared_arrangement", 60_000_000), committed_pence=committed)

    assert (within_fund(facts) == []) is allowed


def test_the_offer_that_would_pass_the_fund_says_what_remains():
    facts = bid_facts(a_bid("shared_arrangement", 60_000_000), committed_pence=840_000_001)

    assert within_fund(facts) == [
        "offering £600,000 would commit £9,000,000.01, past the fund's £9,000,000 "
        "(£599,999.99 remains)"
    ]


@pytest.mark.parametrize("made, allowed", [(3, True), (4, False), (5, False)])
def test_single_operation_has_at_most_four_offers(made, allowed):
    facts = bid_facts(a_bid("single_operation", 100_000_000), offers_in_category=made)

    assert (within_category_count(facts) == []) is allowed


def test_the_fifth_single_operation_offer_is_refused_with_the_count():
    facts = bid_facts(a_bid("single_operation", 100_000_000), offers_in_category=4)

    assert within_category_count(facts) == [
        "Single operation allows at most 4 offers and 4 are already made"
    ]


@pytest.mark.parametrize(
    "category, made, refused",
    [
        ("shared_arrangement", 29, False),
        ("shared_arrangement", 30, True),
        ("esg_top_up", 6, False),
        ("esg_top_up", 7, True),
    ],
)
def test_each_category_has_its_own_count(category, made, refused):
    facts = bid_facts(a_bid(category, 100), offers_in_category=made)

    assert bool(within_category_count(facts)) is refused


def test_the_thirty_first_shared_arrangement_offer_is_refused_with_the_count():
    facts = bid_facts(a_bid("shared_arrangement", 100), offers_in_category=30)

    assert within_category_count(facts) == [
        "Shared arrangement allows at most 30 offers and 30 are already made"
    ]


# --- assessment ------------------------------------------------------------------

ALICE = Score("alice", innovation=4, costs=3, savings=5)  # 12
BOB = Score("bob", innovation=3, costs=3, savings=4)  # 10
CAROL = Score("carol", innovation=2, costs=2, savings=5)  # 9


def scored(*scores: Score, **facts) -> Facts:
    return bid_facts(a_bid("shared_arrangement", 25_000_000), scores=scores, **facts)


def test_moderation_needs_scores_from_two_different_assessors():
    assert has_two_scores(scored(ALICE, BOB)) == []
    assert has_two_scores(scored(ALICE)) == [
        "moderation needs scores from two different assessors; TCA-2013-0004 has 1 (from alice)"
    ]
    assert has_two_scores(scored(ALICE, Score("alice", 1, 1, 1))) != []
    assert has_two_scores(scored()) == [
        "moderation needs scores from two different assessors; TCA-2013-0004 has 0"
    ]


def test_a_conflicted_assessors_score_cannot_count():
    facts = scored(ALICE, BOB, conflicted=frozenset({"bob"}))

    assert no_conflicted_assessor(facts) == [
        "bob declared a conflict of interest on TCA-2013-0004 but scored it: that score "
        "cannot count, so ask another assessor to score instead"
    ]
    assert no_conflicted_assessor(scored(ALICE, BOB)) == []


def test_each_criterion_is_scored_from_0_to_5():
    assert score_problems(Score("alice", 0, 5, 3)) == []
    assert score_problems(Score("alice", 6, -1, True)) == [
        "innovation: 6 is not a whole number from 0 to 5",
        "costs: -1 is not a whole number from 0 to 5",
        "savings: True is not a whole number from 0 to 5",
    ]


def test_a_score_typed_is_a_number_only_when_it_is_a_whole_one():
    assert [score_typed(t) for t in ("3", " 5 ", "0", "05")] == [3, 5, 0, 5]
    assert [score_typed(t) for t in ("3.5", "-1", "four", "²", "٣", "")] == [
        "3.5", "-1", "four", "²", "٣", ""
    ]  # fmt: skip
    assert score_problems(Score("alice", score_typed("3.5"), 5, 3)) == [
        "innovation: '3.5' is not a whole number from 0 to 5"
    ]


def test_weighted_scores_use_the_programmes_weights():
    weights = {"innovation": Decimal(2), "costs": Decimal("0.5"), "savings": Decimal(1)}

    assert weighted_score(ALICE, TCA.criteria) == 12
    assert weighted_score(ALICE, weights) == Decimal("14.5")


@pytest.mark.parametrize(
    "other, agree",
    [
        (BOB, True),  # 12 and 10: a gap of 2, the tolerance
        (CAROL, False),  # 12 and 9: a gap of 3
    ],
)
def test_scores_further_apart_than_the_tolerance_need_an_agreed_score(other, agree):
    assert (scores_agree(scored(ALICE, other)) == []) is agree


def test_the_disagreement_names_the_scores_and_the_way_forward():
    assert scores_agree(scored(ALICE, CAROL)) == [
        "the assessors' weighted scores differ by 3 (alice 12, carol 9), more than the "
        "tolerance of 2: a moderator's agreed score is needed"
    ]
    assert scores_agree(scored(ALICE, CAROL, agreed_score=Score("mo", 3, 3, 4))) == []


def test_the_combined_score_is_the_agreed_one_else_the_mean():
    assert combined_score(scored(ALICE, BOB)) == 11
    assert combined_score(scored(ALICE, CAROL, agreed_score=Score("mo", 3, 3, 4))) == 10
    assert combined_score(scored(ALICE, BOB, conflicted=frozenset({"bob"}))) == 12
    assert combined_score(scored()) is None


def test_an_approver_who_assessed_the_case_cannot_decide_it():
    assert did_not_assess(scored(ALICE, BOB, actor="alice")) == [
        "you assessed TCA-2013-0004, so you cannot offer its award or terminate it: "
        "another approver must"
    ]
    assert (
        "assessed"
        in did_not_assess(
            scored(ALICE, BOB, actor="dave", declared_no_conflict=frozenset({"dave"}))
        )[0]
    )
    assert "assessed" in did_not_assess(scored(actor="erin", conflicted=frozenset({"erin"})))[0]
    assert did_not_assess(scored(ALICE, BOB, actor="april")) == []


# --- network areas -----------------------------------------------------------------


def an_eoi(**fields) -> AreaApplication:
    values = {
        "service_areas": ("troubled families",),
        "how_to_succeed": "Pooled budgets",
        "partners": (
            AreaPartner("West Yorkshire Police", "A letter"),
            AreaPartner("Bradford CCG", "Board minutes"),
        ),
        "contribution_pence": 5_000_000,
        **fields,
    }
    return AreaApplication(programme="pstn-2013", title="Bradford", lead="E08000003", **values)


def area_facts(app: AreaApplication, **facts) -> Facts:
    return Facts(kind="area", ref="PSTN-2013-0002", programme=PSTN, application=app, **facts)


def test_a_complete_expression_of_interest_may_be_submitted():
    assert eoi_complete(area_facts(an_eoi())) == []


def test_an_expression_of_interest_needs_two_partners_who_are_bought_in():
    app = an_eoi(
        partners=(
            AreaPartner("West Yorkshire Police", "A letter"),
            AreaPartner("Bradford CCG", None),
        )
    )

    assert eoi_complete(area_facts(app)) == [
        "Bradford CCG is named as a partner without evidence that it is bought in",
        "the expression of interest needs at least 2 named partner bodies with evidence "
        "that they are bought in; it has 1",
    ]


def test_an_empty_expression_of_interest_is_told_everything_it_lacks():
    app = an_eoi(service_areas=(), how_to_succeed=None, partners=())

    assert eoi_complete(area_facts(app)) == [
        "the expression of interest names 0 service areas to reform; it needs at least 1 "
        "(service_areas)",
        "the expression of interest does not say how the area can succeed (how_to_succeed)",
        "the expression of interest needs at least 2 named partner bodies with evidence "
        "that they are bought in; it has 0",
    ]


def test_an_area_is_activated_only_once_its_contribution_is_agreed():
    assert contribution_agreed(area_facts(an_eoi(), contribution_pence=4_000_000)) == []
    assert contribution_agreed(area_facts(an_eoi(), contribution_pence=0)) == []
    assert contribution_agreed(area_facts(an_eoi())) == [
        "PSTN-2013-0002's contribution to the network's running costs is not agreed yet "
        "(the expression of interest proposed £50,000): record it with "
        "`casework area contribution PSTN-2013-0002 POUNDS`"
    ]


# --- monitoring ------------------------------------------------------------------


def test_a_case_completes_only_when_every_return_is_accepted_or_waived():
    done = (
        CheckpointFacts("TCA-2013-0001/Q1", "accepted"),
        CheckpointFacts("TCA-2013-0001/Q2", "waived"),
    )
    open_q3 = CheckpointFacts("TCA-2013-0001/Q3", "open", due=date(2014, 3, 31))

    assert all_checkpoints_accepted(bid_facts(a_bid("esg_top_up", 1), checkpoints=done)) == []
    assert all_checkpoints_accepted(
        bid_facts(a_bid("esg_top_up", 1), checkpoints=done + (open_q3,))
    ) == ["TCA-2013-0001/Q3 is open (due 31 March 2014): accept or waive it first"]
    assert all_checkpoints_accepted(bid_facts(a_bid("esg_top_up", 1), checkpoints=())) == [
        "TCA-2013-0004 has no monitoring returns, so it cannot be completed yet"
    ]


def test_a_return_must_give_the_fields_the_programme_requires():
    strict = parse_programme(
        PSTN.source + "\n[monitoring.fields.progress]\nrequired = true\n"
        '[monitoring.fields.people_helped]\nkind = "text"\n'
        "required = true\n"
    )

    def submitted(**figures):
        return return_complete(
            Facts(kind="checkpoint", ref="PSTN-2013-0002/Q1", programme=strict, figures=figures)
        )

    assert submitted(progress="On track", people_helped="120") == []
    assert submitted(progress="   ", spend_to_date=100) == [
        "Progress (progress) is required in a Public Service Transformation Network 2013 "
        "return and was not given",
        "People helped (people_helped) is required in a Public Service Transformation Network "
        "2013 return and was not given",
    ]


def test_an_empty_return_is_refused_whatever_the_programme_requires():
    def submitted(programme, **figures):
        return return_complete(
            Facts(kind="checkpoint", ref="X/Q1", programme=programme, figures=figures)
        )

    assert submitted(PSTN) == [
        "the return is empty: it gives none of Spend to date (spend_to_date), Savings to date "
        "(savings_to_date), Progress (progress), Risks (risks)"
    ]
    assert submitted(PSTN, risks="  ") == submitted(PSTN)  # blank text is nothing
    assert submitted(PSTN, risks="None new") == []  # nothing else is required


def test_a_tca_return_needs_its_progress_and_spend():
    assert [f for f, spec in TCA.monitoring.fields.items() if spec.required] == [
        "spend_to_date",
        "progress",
    ]
    assert return_complete(
        Facts(kind="checkpoint", ref="TCA-2013-0001/Q1", programme=TCA, figures={"risks": "None"})
    ) == [
        "Spend to date (spend_to_date) is required in a Transformation Challenge Award 2013 "
        "return and was not given",
        "Progress (progress) is required in a Transformation Challenge Award 2013 return and "
        "was not given",
    ]
