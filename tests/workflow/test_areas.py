"""Network areas: an expression of interest must be complete; activation needs an agreed contribution."""

from __future__ import annotations

import pytest

from workflow.services import lifecycle
from workflow.services.areas import record_contribution
from workflow.errors import GuardFailed, Malformed, PermissionDenied, RuleViolation

LEAD = "E08000003"


@pytest.fixture
def world(world):
    world.cast()
    world.org(LEAD, name="Manchester City Council")
    world.person("mcr", "council", org=LEAD)
    return world


def eoi(**overrides):
    doc = {
        "programme": "pstn-2013",
        "title": "Greater Manchester public service reform",
        "lead": LEAD,
        "service_areas": ["troubled families", "health and social care"],
        "how_to_succeed": "A combined authority already pools budgets.",
        "partners": [
            {"name": "Greater Manchester Police", "evidence": "Letter of support"},
            {"name": "NHS Manchester", "evidence": "Board minute 12/3"},
        ],
        "contribution": "50000",
    }
    doc.update(overrides)
    return doc


def area(world, *path, **overrides):
    ref = lifecycle.open_case(world.engine, "area", eoi(**overrides), "carol")["ref"]
    for trigger in path:
        lifecycle.advance(world.engine, ref, trigger, "april" if trigger == "select" else "carol")
    return ref


ONBOARDING = ("submit", "start_assessment", "select", "onboard")


def test_an_expression_of_interest_must_name_partners_who_are_bought_in(world):
    ref = area(world, partners=[{"name": "NHS Manchester"}], how_to_succeed=" ")
    before = world.snapshot()

    with pytest.raises(GuardFailed) as refused:
        lifecycle.advance(world.engine, ref, "submit", "mcr")

    assert refused.value.violations == (
        "the expression of interest does not say how the area can succeed (how_to_succeed)",
        "NHS Manchester is named as a partner without evidence that it is bought in",
        "the expression of interest needs at least 2 named partner bodies with evidence that "
        "they are bought in; it has 0",
    )
    assert world.snapshot() == before


def test_an_area_is_not_activated_until_its_contribution_is_agreed(world):
    ref = area(world, *ONBOARDING)
    before = world.snapshot()

    with pytest.raises(
        GuardFailed,
        match=r"contribution to the network's running costs is not "
        r"agreed yet \(the expression of interest proposed "
        r"£50,000\): record it with `casework area "
        r"contribution",
    ):
        lifecycle.advance(world.engine, ref, "activate", "carol")

    assert world.snapshot() == before
    record_contribution(world.engine, ref, "45000", "carol")
    assert lifecycle.advance(world.engine, ref, "activate", "carol")["state"] == "active"


def test_recording_a_contribution_writes_a_history_row_and_changes_no_state(world):
    ref = area(world, "submit", "start_assessment")
    version = lifecycle.show(world.engine, ref)["version"]

    shown = record_contribution(world.engine, ref, "45000.50", "carol")

    assert (shown["state"], shown["contribution"]) == ("under_assessment", "45000.50")
    assert shown["version"] == version + 1
    row = lifecycle.case_history(world.engine, ref)[-1]
    assert (row["trigger"], row["from_state"], row["to_state"], row["actor"], row["role"]) == (
        "record_contribution",
        "under_assessment",
        "under_assessment",
        "carol",
        "caseworker",
    )
    assert row["payload"] == {"contribution": "45000.50", "proposed": "50000.00", "previous": None}


def test_a_renegotiated_contribution_keeps_the_previous_figure_in_history(world):
    ref = area(world, *ONBOARDING)
    record_contribution(world.engine, ref, "45000", "carol")

    record_contribution(world.engine, ref, "40000", "carol")

    assert lifecycle.show(world.engine, ref)["contribution"] == "40000.00"
    assert lifecycle.case_history(world.engine, ref)[-1]["payload"]["previous"] == "45000.00"


@pytest.mark.parametrize(
    "written, field",
    [
        ("£45,000", "contribution: '£45,000' is not an amount in pounds"),
        ("45000.001", "contribution: '45000.001' is not an amount"),
        ("-5", "contribution: '-5' is not an amount"),
        ("0", "contribution: £0 is not a contribution"),
    ],
)
def test_a_contribution_is_an_amount_in_pounds(world, written, field):
    ref = area(world, *ONBOARDING)
    before = world.snapshot()

    with pytest.raises(Malformed, match=field):
        record_contribution(world.engine, ref, written, "carol")

    assert world.snapshot() == before


def test_only_a_caseworker_records_a_contribution(world):
    ref = area(world, *ONBOARDING)
    before = world.snapshot()

    for who in ("mcr", "april", "ash"):
        with pytest.raises(PermissionDenied, match=f"{who} may not record the contribution"):
            record_contribution(world.engine, ref, "45000", who)

    assert world.snapshot() == before


def test_no_contribution_is_recorded_for_a_draft_a_finished_area_or_a_bid(world):
    draft = area(world)
    withdrawn = area(world, "submit")
    lifecycle.advance(
        world.engine, withdrawn, "withdraw", "carol", reason="The county's partners pulled out"
    )
    bid = world.bid()
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="is draft, so no contribution"):
        record_contribution(world.engine, draft, "45000", "carol")
    with pytest.raises(RuleViolation, match="is withdrawn, so no contribution"):
        record_contribution(world.engine, withdrawn, "45000", "carol")
    with pytest.raises(RuleViolation, match="is a bid, not a network area"):
        record_contribution(world.engine, bid, "45000", "carol")

    assert world.snapshot() == before
