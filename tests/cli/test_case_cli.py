"""The command line as scripts and people meet it: exit codes, messages, --json, nothing half-done."""

import json
import re

import pytest

from tests.builders import World

BID = {
    "programme": "tca-2013",
    "category": "shared_arrangement",
    "title": "Joint procurement hub",
    "lead": "E07000026",
    "partners": ["E07000028", "E07000029"],
    "amount": "250000",
    "transitional_costs": "120000",
    "annual_savings": "400000",
    "arrangement": "joint_procurement",
    "innovation": "One buying team for three districts.",
}


@pytest.fixture
def c(cli):
    """Set-up through the services (fast); everything under test through the real command."""
    from workflow.services import directory
    from workflow.storage.db import make_engine

    engine = make_engine(cli.url)
    with engine.begin() as conn:
        for code, name in [
            ("E07000026", "Allerdale"),
            ("E07000028", "Carlisle"),
            ("E07000029", "Copeland"),
        ]:
            directory.add_org(conn, code, name=name, email=f"returns@{code.lower()}.example.gov.uk")
        directory.add_user(conn, "carol", roles=["caseworker"], email="carol@example.gov.uk")
        directory.add_user(conn, "cllr", roles=["council"], org="E07000026")
    cli.snapshot = lambda: World(engine).snapshot()
    yield cli
    engine.dispose()


def _state(c):
    return c.snapshot()


def test_a_bid_opened_from_a_file_prints_its_reference_and_shows_as_json(c):
    ref = c.ok(
        "case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr"
    ).out.strip()

    shown = c.ok("case", "show", ref, "--as", "cllr", "--json").json()
    assert ref == "TCA-2013-0001"
    assert {k: shown[k] for k in ("ref", "kind", "programme", "state", "version", "amount")} == {
        "ref": ref,
        "kind": "bid",
        "programme": "tca-2013",
        "state": "draft",
        "version": 1,
        "amount": "250000.00",
    }
    assert shown["allowed_triggers"] == ["submit", "withdraw"]
    assert shown["application"]["title"] == "Joint procurement hub"


def test_toml_documents_are_read_too(c):
    toml = "\n".join(f"{k} = {json.dumps(v)}" for k, v in BID.items())
    assert (
        c.ok(
            "case", "open", "bid", "--from-file", c.write("a.toml", toml), "--as", "carol"
        ).out.strip()
        == "TCA-2013-0001"
    )


def test_history_json_is_oldest_first_with_the_chain(c):
    ref = c.ok(
        "case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr"
    ).out.strip()
    c.ok("case", "advance", ref, "submit", "--as", "cllr")

    rows = c.ok("case", "history", ref, "--json").json()
    assert [r["trigger"] for r in rows] == ["create", "submit", *["diligence"] * 3]
    assert [r["payload"]["check"] for r in rows[2:]] == [
        "lead_is_council",
        "no_duplicate_bid",
        "org_in_register",
    ]
    assert set(rows[0]) >= {
        "seq",
        "checkpoint",
        "from_state",
        "to_state",
        "trigger",
        "actor",
        "role",
        "reason",
        "at",
        "payload",
        "hash",
        "prev_hash",
    }
    assert rows[1]["prev_hash"] == rows[0]["hash"] and rows[1]["at"].endswith("+00:00")


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["case", "advance", "TCA-2013-0001", "offer", "--as", "carol"],
            "TCA-2013-0001 is Draft, so it cannot be 'Offer the award' (offer). Allowed now: "
            "Submit the bid (submit), Withdraw (withdraw).",
        ),
        (
            ["case", "advance", "TCA-2013-0001", "sumbit", "--as", "carol"],
            "TCA-2013-0001: no such trigger 'sumbit' — did you mean submit? Allowed now: "
            "Submit the bid (submit), Withdraw (withdraw).",
        ),
        (
            ["case", "advance", "TCA-2013-0009", "submit", "--as", "carol"],
            "There is no case TCA-2013-0009.",
        ),
        (
            ["case", "advance", "TCA-2013-0001", "submit", "--as", "mallory"],
            "There is no person called 'mallory'",
        ),
        (
            ["case", "advance", "TCA-2013-0001", "withdraw", "--as", "nobody-council"],
            "There is no person",
        ),
    ],
)
def test_refusals_exit_1_with_the_reason_and_change_nothing(c, args, message):
    c.ok("case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr")
    before = _state(c)

    ran = c(*args)

    assert ran.code == 1 and message in ran.err and "Traceback" not in ran.err
    assert _state(c) == before


@pytest.mark.parametrize("amount", ["£250,000", "2.5e5", "-250000", "250000.001"])
def test_a_malformed_amount_is_refused_naming_the_field_and_creates_nothing(c, amount):
    before = _state(c)

    ran = c(
        "case",
        "open",
        "bid",
        "--from-file",
        c.write("a.json", json.dumps({**BID, "amount": amount})),
        "--as",
        "cllr",
    )

    assert ran.code == 1 and "amount" in ran.err
    assert _state(c) == before


def test_usage_errors_exit_2(c):
    assert c("case", "open", "bid", "--as", "carol").code == 2
    assert (
        c("case", "open", "grant", "--from-file", c.write("a.json", "{}"), "--as", "carol").code
        == 2
    )
    assert c("case", "frobnicate").code == 2


def test_a_database_that_cannot_be_opened_is_one_clear_line(c):
    ran = c("--db", "postgresql://nobody@127.0.0.1:1/none", "case", "list")
    assert ran.code == 1 and "cannot be reached" in ran.err and len(ran.err.splitlines()) == 1


def test_a_database_not_yet_initialised_says_to_run_init(c, tmp_path):
    ran = c("--db", f"sqlite:///{tmp_path / 'new.db'}", "case", "list")
    assert ran.code == 1 and "casework init" in ran.err


def test_audit_verify_prints_a_summary_and_exits_0_when_intact(c):
    c.ok("case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr")
    assert c.ok("audit", "verify").out.strip() == "1 cases, 1 rows checked, 0 broken"


def test_audit_export_csv_has_a_header_and_a_row_per_history_row(c):
    c.ok("case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr")
    lines = c.ok("audit", "export", "--format", "csv").out.splitlines()
    assert lines[0].startswith("case,seq,checkpoint,from_state,to_state,trigger")
    assert len(lines) == 2 and lines[1].startswith("TCA-2013-0001,1,")


def test_states_diagram_is_drawn_from_the_definition(c):
    out = c.ok("states", "diagram", "checkpoint").out
    assert out.startswith("stateDiagram-v2") and "escalated --> escalated: escalate" in out


def test_states_diagram_names_every_machine_it_draws_in_its_usage(c):
    wrong = c("states", "diagram", "bids")
    assert wrong.code == 2
    assert "bid|area|checkpoint|payment|variation" in wrong.err  # the usage line too
    assert c.ok("states", "diagram", "variation").out.startswith("stateDiagram-v2")


def test_list_commands_give_the_documented_json(c):
    assert c.ok("org", "list", "--json").json()[0] == {
        "code": "E07000026",
        "name": "Allerdale",
        "email": "returns@e07000026.example.gov.uk",
        "escalation_email": None,
        "kind": "council",
        "esg_allocation": None,
        "org_id": None,
    }
    assert {
        "name": "carol",
        "roles": ["caseworker"],
        "email": "carol@example.gov.uk",
        "org": None,
        "disabled": False,
        "disabled_at": None,
    } in c.ok("user", "list", "--json").json()
    tca = next(p for p in c.ok("programme", "list", "--json").json() if p["code"] == "tca-2013")
    assert (tca["fund"], tca["committed"], tca["remaining"]) == ("9000000.00", "0.00", "9000000.00")


def test_people_read_money_in_pounds_and_documents_as_lines_and_scripts_read_json(c):
    ref = c.ok(
        "case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr"
    ).out.strip()

    listed = c.ok("programme", "list").out
    shown = c.ok("case", "show", ref).out

    assert "£9,000,000" in listed and "9000000.00" not in listed
    assert re.search(r"^amount +£250,000$", shown, re.M)
    assert re.search(r"^partners +Carlisle, Copeland$", shown, re.M)  # by name
    assert re.search(r"^application:\n  programme +tca-2013$", shown, re.M)  # the document, below
    assert re.search(r"^  transitional_costs +£120,000$", shown, re.M)
    assert c.ok("case", "show", ref, "--json").json()["amount"] == "250000.00"


def test_audit_verify_exits_1_naming_a_broken_chain(c):
    from sqlalchemy import text
    from workflow.storage.db import make_engine

    c.ok("case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr")
    engine = make_engine(c.url)
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER history_no_update"))
        conn.execute(text("UPDATE history SET actor = 'mallory'"))
    engine.dispose()

    ran = c("audit", "verify")

    assert ran.code == 1
    assert ran.out.splitlines() == [
        "TCA-2013-0001: row 1 does not match its hash",
        "1 cases, 1 rows checked, 1 broken",
    ]


def test_a_case_is_handed_to_another_caseworker_and_a_refusal_changes_nothing(c):
    c.ok("user", "add", "cath", "--role", "caseworker", "--email", "cath@example.gov.uk")
    ref = c.ok(
        "case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "carol"
    ).out.strip()

    before = _state(c)
    refused = c("case", "assign", ref, "--to", "cllr", "--as", "carol")
    assert refused.code == 1 and "cllr is not a caseworker" in refused.err
    assert _state(c) == before

    said = c.ok("case", "assign", ref, "--to", "cath", "--as", "carol", "--reason", "Leave.").out
    assert said.strip() == f"{ref} is now assigned to cath"
    assert c.ok("case", "show", ref, "--json").json()["caseworker"] == "cath"
    last = c.ok("case", "history", ref, "--json").json()[-1]
    assert (last["trigger"], last["actor"], last["payload"]) == (
        "assign",
        "carol",
        {"caseworker": "cath", "previous": "carol"},
    )
    assert (
        c("case", "assign", ref, "--to", "carol", "--as", "cath", "--json").json()["caseworker"]
        == "carol"
    )
