"""The command line speaks to people in words (DESIGN.md section 12); --json keeps codes."""

import re

import pytest

from tests.builders import World
from tests.words import codes_in
from workflow.storage.db import make_engine

REF = "TCA-2013-0001"


@pytest.fixture
def monitored(monitored):
    """The bid in monitoring (its Q1 opens on 19 December 2013), and a draft beside it."""
    engine = make_engine(monitored.url)
    World(engine).bid()
    engine.dispose()
    return monitored


def test_unknown_filter_values_are_refused_with_the_allowed_ones_in_words_and_codes(monitored):
    state = monitored("case", "list", "--state", "sumbitted")
    kind = monitored("case", "list", "--kind", "bids")
    returns = monitored("checkpoint", "list", "--state", "overdeu")

    assert state.code == kind.code == returns.code == 1
    assert state.err.startswith(
        "The case state 'sumbitted' was refused: it is not one of Draft (draft), "
        "Submitted (submitted), Eligible (eligible),"
    )
    assert state.err.strip().endswith("— did you mean submitted?")
    assert kind.err.strip() == (
        "The kind 'bids' was refused: it is not one of Bid (bid), Network area (area) "
        "— did you mean bid?"
    )
    assert "did you mean overdue?" in returns.err
    assert "Not open yet (scheduled), Open (open), Overdue (overdue)" in returns.err
    assert state.out == kind.out == returns.out == ""


def test_a_case_programme_or_organisation_that_names_nothing_is_refused_not_listed_empty(monitored):
    """A mistyped reference or code must not look like an empty list (nothing found)."""
    refused = {
        ("checkpoint", "list", "--case", "TCA-2013-0099"): "There is no case TCA-2013-0099.",
        ("payment", "list", "--case", "TCA-2013-0099"): "There is no case TCA-2013-0099.",
        ("checkpoint", "list", "--org", "E0700002"): "There is no organisation 'E0700002'.",
        ("case", "list", "--programme", "tca"): "There is no programme 'tca'.",
        ("payment", "list", "--programme", "tca"): "There is no programme 'tca'.",
    }
    for args, said in refused.items():
        ran = monitored(*args)
        assert (ran.code, ran.out) == (1, ""), args
        assert ran.err.startswith(said), (args, ran.err)
        assert "`casework " in ran.err or "no case" in ran.err  # the command that lists them

    # A real case with no payments yet is an empty list, as before.
    assert monitored.ok("payment", "list", "--case", "TCA-2013-0002", "--json").json() == []
    assert monitored.ok("checkpoint", "list", "--case", REF, "--json").json()


def test_case_list_shows_the_lead_council_caseworker_and_amount_in_pounds(monitored):
    out = monitored.ok("case", "list").out

    row = next(line for line in out.splitlines() if line.strip().startswith(REF))
    assert "In monitoring" in row and "Council E07000026" in row
    assert "carol" in row and "£250,000" in row
    assert "version" not in out
    assert monitored.ok("case", "list", "--json").json()[0]["state"] == "in_monitoring"


def test_an_unknown_trigger_is_answered_with_what_was_meant(monitored):
    ran = monitored("case", "advance", "TCA-2013-0002", "sbumit", "--as", "carol")

    assert ran.code == 1
    assert ran.err.strip() == (
        "TCA-2013-0002: no such trigger 'sbumit' — did you mean submit? "
        "Allowed now: Submit the bid (submit), Withdraw (withdraw)."
    )


def test_a_move_is_reported_by_its_label(monitored):
    ran = monitored.ok("case", "advance", "TCA-2013-0002", "submit", "--as", "carol")

    assert ran.out.strip() == "TCA-2013-0002 is now Submitted"


def test_status_on_a_new_database_says_no_sweep_has_run_yet(cli):
    ran = cli("status")

    assert "no sweep has run yet" in ran.out
    assert "never" not in ran.out and "STALE" not in ran.out


def test_returns_show_their_next_step_by_its_label_and_dates_in_words(monitored):
    monitored.ok("sweep", "--now", "2013-12-19T09:30")

    listed = monitored.ok("checkpoint", "list", "--case", REF).out
    shown = monitored.ok("checkpoint", "show", f"{REF}/Q1").out

    assert "Reminder, 9am, 27 December 2013" in listed  # 3 working days before 2 January
    assert "2 January 2014" in listed and "Not open yet" in listed
    assert "Return opens" in shown and "9am, 19 December 2013" in shown
    assert "Send the return (submit)" in shown
    assert "lead council  Council E07000026" in shown  # the council by name, as case show


def test_no_human_output_shows_a_code_as_a_word(monitored):
    monitored.ok("sweep", "--now", "2014-02-10T10:00")  # Q1 goes up the ladder
    outputs = [
        monitored(*args).out
        for args in (
            ("case", "list"),
            ("case", "show", REF),
            ("case", "history", REF),
            ("checkpoint", "list"),
            ("checkpoint", "show", f"{REF}/Q1"),
            ("outbox", "list"),
            ("status",),
            ("programme", "fund", "tca-2013"),
            ("programme", "ranking", "tca-2013"),
            ("assess", "show", REF),
        )
    ]
    outputs.append(monitored("case", "advance", REF, "offer", "--as", "april").err)

    assert all(outputs[:-1])
    assert [codes_in(text) for text in outputs] == [[] for _ in outputs]
    assert codes_in("TCA-2013-0001 is under_assessment") == ["under_assessment"]  # it can fail


def test_a_return_of_a_suspended_case_shows_its_held_steps(monitored):
    monitored.ok("case", "advance", REF, "suspend", "--as", "carol", "--reason", "Audit")
    monitored.ok("sweep", "--now", "2014-01-20T10:00")  # Q1 overdue and escalation 1 due

    shown = monitored.ok("checkpoint", "show", f"{REF}/Q1").out

    assert re.search(r"^state +Open$", shown, re.M)
    assert "held  Overdue notice" in shown and "held  First escalation" in shown
    assert "done  Return opens" in shown


def test_a_table_is_headed_in_words_not_by_its_json_keys(monitored):
    out = monitored.ok("checkpoint", "list", "--case", REF).out

    header = out.splitlines()[0]
    assert "case state" in header and "case_state" not in header
    assert monitored.ok("checkpoint", "list", "--case", REF, "--json").json()[0]["case_state"]


def test_a_return_shown_names_its_fields_in_words_not_by_their_json_keys(monitored):
    shown = monitored.ok("checkpoint", "show", f"{REF}/Q1").out

    assert re.search(r"^case state +In monitoring$", shown, re.M)
    assert re.search(r"^allowed now +", shown, re.M) and re.search(
        r"^figures +\(none\)$", shown, re.M
    )
    assert "case_state" not in shown and "allowed_triggers" not in shown and "{}" not in shown
