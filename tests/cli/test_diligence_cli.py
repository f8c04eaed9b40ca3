"""`casework diligence record|show` (DESIGN.md section 9): a caseworker's checks before `check`."""

from __future__ import annotations

import pytest

from tests.builders import World
from tests.words import codes_in
from workflow.storage.db import make_engine

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def submitted(cli):
    """A submitted bid of councils named as the register names them, set up by the services."""
    engine = make_engine(cli.url)
    world = World(engine)
    for code, name in (
        ("E07000026", "Allerdale Borough Council"),
        ("E07000028", "Carlisle City Council"),
        ("E07000029", "Copeland Borough Council"),
    ):
        world.org(code, name=name)
    world.cast()
    ref = world.bid()
    world.advance(ref, "submit")
    cli.snapshot = world.snapshot
    yield ref
    engine.dispose()


def test_show_lists_each_check_in_words_and_what_is_still_needed(cli, submitted):
    shown = cli.ok("diligence", "show", submitted)

    lines = shown.out.splitlines()
    assert lines[0] == f"{submitted} (Submitted)"
    assert "  Lead is a council: Passed" in lines
    assert "  Fraud risk: Not recorded yet" in lines
    assert lines[-1] == (
        "still needed: Fraud risk (fraud_risk) is not recorded yet: a caseworker "
        "records it with evidence"
    )
    assert not codes_in(shown.out.replace("(fraud_risk)", ""))
    assert cli.ok("diligence", "show", submitted, "--json").json()["passed"] is False


def test_record_with_a_file_then_check_succeeds(cli, submitted):
    evidence = cli.tmp / "bank-letter.pdf"
    evidence.write_bytes(PDF)
    refused = cli("case", "advance", submitted, "check", "--as", "carol")
    assert refused.code == 1 and "Fraud risk (fraud_risk) is not recorded yet" in refused.err

    ran = cli.ok(
        "diligence",
        "record",
        submitted,
        "fraud_risk",
        "--result",
        "pass",
        "--rating",
        "low",
        "--evidence",
        "Bank details confirmed.",
        "--attach",
        str(evidence),
        "--as",
        "carol",
    )

    assert ran.out.splitlines() == [
        f"{submitted}: carol recorded Fraud risk: pass, rated low",
        "every check has passed",
    ]
    shown = cli.ok("diligence", "show", submitted).out
    assert "pass, rated low by carol" in shown and "(file: bank-letter.pdf)" in shown
    cli.ok("case", "advance", submitted, "check", "--as", "carol")


@pytest.mark.parametrize(
    "args,says",
    [
        (
            ["credit_check", "--result", "pass", "--evidence", "x", "--as", "carol"],
            "'credit_check' is not a due-diligence check of tca-2013",
        ),
        (
            [
                "no_duplicate_bid",
                "--result",
                "pass",
                "--rating",
                "low",
                "--evidence",
                "x",
                "--as",
                "carol",
            ],
            "No duplicate bid (no_duplicate_bid) is a pass or fail check and takes no rating",
        ),
        (
            [
                "fraud_risk",
                "--result",
                "pass",
                "--rating",
                "low",
                "--evidence",
                "ok\x1b[2J",
                "--as",
                "carol",
            ],
            "The evidence was refused:",
        ),
        (
            [
                "fraud_risk",
                "--result",
                "pass",
                "--rating",
                "low",
                "--evidence",
                "x",
                "--as",
                "april",
            ],
            "april may not record due diligence on TCA-2013-0001: only a caseworker may.",
        ),
        (
            ["lead_is_council", "--result", "pass", "--evidence", "x", "--as", "carol"],
            "cannot be overridden",
        ),
    ],
)
def test_bad_records_are_refused_in_one_line_and_write_nothing(cli, submitted, args, says):
    before = cli.snapshot()

    ran = cli("diligence", "record", submitted, *args)

    assert ran.code == 1
    assert says in ran.err and len(ran.err.strip().splitlines()) == 1, ran.err
    assert cli.snapshot() == before


def test_case_history_says_which_check_was_recorded_and_how_it_came_out(cli, submitted):
    cli.ok(
        "diligence", "record", submitted, "fraud_risk", "--result", "pass", "--rating", "low",
        "--evidence", "Bank details confirmed", "--as", "carol",
    )  # fmt: skip

    table = cli.ok("case", "history", submitted, env={"COLUMNS": "250"}).out
    rows = cli.ok("case", "history", submitted, "--json").json()

    assert "Due diligence recorded: Lead is a council, passed" in table
    assert "Due diligence recorded: Fraud risk, passed" in table
    assert rows[-1]["trigger"] == "diligence" and rows[-1]["payload"]["check"] == "fraud_risk"
