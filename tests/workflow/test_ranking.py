"""The ranking: moderated bids best first, the running committed total, and where the money stops."""

from __future__ import annotations

import pytest

from workflow.errors import RuleViolation
from workflow.services.ranking import ranking

from tests.workflow.awarding import (
    load_programme,
    offer,
    recommended,
    scored,
    small_programme,
    under_assessment,
)


@pytest.fixture
def world(world):
    return world.cast()


def round_of(world, fund="1000000", max_count=30):
    return load_programme(world, small_programme("rank-1", fund=fund, max_count=max_count))


def brief(rows):
    return [
        (r["ref"][-1], r["score"], r["amount"], r["running_total"], r["fits"], r["stops"])
        for r in rows
    ]


def test_bids_are_ranked_best_first_with_the_running_committed_total(world):
    code = round_of(world)
    low = recommended(world, amount="100000", programme=code, marks=((2, 2, 2), (2, 2, 2)))
    high = recommended(world, amount="200000", programme=code, marks=((5, 5, 5), (5, 5, 4)))
    mid = recommended(world, amount="300000", programme=code, marks=((3, 3, 3), (3, 3, 3)))

    rows = ranking(world.engine, code)

    assert [r["ref"] for r in rows] == [high, mid, low]
    assert brief(rows) == [
        ("2", "14.50", "200000.00", "200000.00", True, None),
        ("3", "9.00", "300000.00", "500000.00", True, None),
        ("1", "6.00", "100000.00", "600000.00", True, None),
    ]
    assert set(rows[0]) >= {"ref", "category", "score", "amount", "running_total"}


def test_the_ranking_shows_where_the_fund_runs_out_and_weighs_the_next_bid_on_what_remains(world):
    code = round_of(world, fund="600000")
    first = recommended(world, amount="400000", programme=code, marks=((5, 5, 5), (5, 5, 5)))
    too_big = recommended(world, amount="300000", programme=code, marks=((4, 4, 4), (4, 4, 4)))
    small = recommended(world, amount="150000", programme=code, marks=((3, 3, 3), (3, 3, 3)))

    rows = ranking(world.engine, code)

    assert [r["ref"] for r in rows] == [first, too_big, small]
    assert brief(rows)[1] == ("2", "12.00", "300000.00", "400000.00", False, "fund")
    assert rows[1]["why"] == [
        "offering £300,000 would commit £700,000, past the fund's £600,000 (£200,000 remains)"
    ]
    assert brief(rows)[2] == ("3", "9.00", "150000.00", "550000.00", True, None)
    assert rows[2]["remaining"] == "50000.00"


def test_the_ranking_shows_where_a_category_count_runs_out(world):
    code = round_of(world, max_count=2)
    refs = [
        recommended(world, amount="100000", programme=code, marks=((5 - n, 4, 4), (5 - n, 4, 4)))
        for n in range(3)
    ]

    rows = ranking(world.engine, code)

    assert [r["ref"] for r in rows] == refs
    assert [r["stops"] for r in rows] == [None, None, "category count"]
    assert rows[2]["why"] == ["Shared arrangement allows at most 2 offers and 2 are already made"]
    assert rows[2]["running_total"] == "200000.00"


def test_offers_already_made_count_from_the_first_row(world):
    code = round_of(world, fund="600000")
    low_but_offered = recommended(
        world, amount="300000", programme=code, marks=((1, 1, 1), (1, 1, 1))
    )
    offer(world, low_but_offered)
    best = recommended(world, amount="200000", programme=code)
    next_best = recommended(world, amount="200000", programme=code, marks=((3, 3, 3), (3, 3, 3)))

    rows = ranking(world.engine, code)

    assert [(r["ref"], r["offered"], r["running_total"], r["fits"]) for r in rows] == [
        (best, False, "500000.00", True),
        (next_best, False, "500000.00", False),
        (low_but_offered, True, "500000.00", True),
    ]
    assert rows[1]["stops"] == "fund"


def test_only_moderated_recommended_or_offered_bids_are_ranked(world):
    code = round_of(world)
    moderated = scored(world, under_assessment(world, programme=code))
    world.advance(moderated, "moderate")
    scored(world, under_assessment(world, programme=code))  # not yet moderated
    rejected = scored(world, under_assessment(world, programme=code))
    world.advance(rejected, "moderate")
    world.advance(rejected, "reject", reason="Scored too low on savings to be funded")

    assert [r["ref"] for r in ranking(world.engine, code)] == [moderated]


def test_equal_scores_keep_the_order_the_bids_were_opened(world):
    code = round_of(world)
    refs = [recommended(world, programme=code) for _ in range(3)]

    assert [r["ref"] for r in ranking(world.engine, code)] == refs


def test_a_ranking_by_category_lists_only_that_category(world):
    world.org("E06000001", esg="4000000")
    shared = recommended(world, amount="100000")
    top_up = recommended(
        world, "esg_top_up", "100000", lead="E06000001", marks=((5, 5, 5), (5, 5, 5))
    )

    assert [r["ref"] for r in ranking(world.engine, "tca-2013")] == [top_up, shared]
    only = ranking(world.engine, "tca-2013", category="shared_arrangement")
    assert [(r["ref"], r["running_total"]) for r in only] == [(shared, "100000.00")]


def test_an_unknown_category_or_a_programme_of_areas_is_refused(world):
    with pytest.raises(RuleViolation) as unknown:
        ranking(world.engine, "tca-2013", category="nope")
    assert str(unknown.value) == (
        "'nope' is not a category of tca-2013: Single operation (single_operation), "
        "Shared arrangement (shared_arrangement), ESG top-up (esg_top_up)."
    )
    with pytest.raises(RuleViolation, match="programme of network areas"):
        ranking(world.engine, "pstn-2013")
