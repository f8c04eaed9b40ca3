"""`casework assess` as an assessor meets it: a conflict found after scoring."""

from __future__ import annotations

import pytest

from workflow.services import assessment, lifecycle, directory
from workflow.storage.db import make_engine

from tests.builders import World
from tests.cli.test_case_cli import BID


@pytest.fixture
def scored_bid(cli):
    """A bid under assessment that ash and asha have scored, set up through the services."""
    engine = make_engine(cli.url)
    with engine.begin() as conn:
        for code in ("E07000026", "E07000028", "E07000029"):
            directory.add_org(conn, code, name=code, email=f"returns@{code.lower()}.example.gov.uk")
        directory.add_user(conn, "carol", roles=["caseworker"], email="carol@example.gov.uk")
        for name in ("ash", "asha"):
            directory.add_user(conn, name, roles=["assessor"])
    ref = lifecycle.open_case(engine, "bid", BID, "carol")["ref"]
    World(engine).advance(ref, "submit", "check", "start_assessment")  # due diligence passed
    for name, mark in (("ash", 5), ("asha", 4)):
        assessment.declare(engine, ref, name, conflict=False)
        assessment.score(engine, ref, name, innovation=mark, costs=mark, savings=mark)
    cli.snapshot = lambda: World(engine).snapshot()
    yield ref
    engine.dispose()


def test_a_conflict_found_after_scoring_is_declared_and_says_what_it_set_aside(cli, scored_bid):
    ran = cli.ok(
        "assess",
        "declare",
        scored_bid,
        "--as",
        "ash",
        "--conflict",
        "My partner was appointed to the lead council's cabinet",
    )

    assert ran.out.splitlines() == [
        f"{scored_bid}: ash declared a conflict of interest",
        "Set aside (kept, no longer counted): ash's score",
        "combined score 12.00 (mean)",
        f"moderation waits: moderation needs scores from two different assessors; "
        f"{scored_bid} has 1 (from asha)",
    ]
    shown = cli.ok("assess", "show", scored_bid, "--json").json()
    assert [(s["assessor"], s["counts"]) for s in shown["scores"]] == [
        ("ash", False),
        ("asha", True),
    ]


def test_a_second_no_conflict_is_refused_and_says_how_to_declare_one(cli, scored_bid):
    before = cli.snapshot()

    ran = cli("assess", "declare", scored_bid, "--as", "ash", "--no-conflict")

    assert ran.code == 1
    assert "already declared no conflict of interest" in ran.err
    assert "declare the conflict and say what it is" in ran.err
    assert cli.snapshot() == before


@pytest.mark.parametrize("command", ["score", "agree"])
def test_a_score_that_is_not_a_whole_number_is_refused_naming_it_and_the_scores_allowed(
    cli, scored_bid, command
):
    before = cli.snapshot()

    ran = cli(
        "assess", command, scored_bid, "--as", "carol",
        "--innovation", "3.5", "--costs", "4", "--savings", "four",
    )  # fmt: skip

    assert ran.code == 1
    assert ran.err.strip() == (
        "The scores were refused: innovation: '3.5' is not a whole number from 0 to 5; "
        "savings: 'four' is not a whole number from 0 to 5."
    )
    assert cli.snapshot() == before
