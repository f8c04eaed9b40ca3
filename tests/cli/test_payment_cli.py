"""`casework payment ...` (DESIGN.md section 8): JSON shapes, words for people, one-line refusals."""

import csv
import io

import pytest

from tests.builders import World
from tests.words import codes_in
from tests.workflow.payments_world import snapshot
from workflow.storage.db import make_engine

REF = "TCA-2013-0001"


@pytest.fixture
def paying(monitored):
    engine = make_engine(monitored.url)
    world = World(engine)
    world.person("fiona", "finance")
    engine.dispose()
    return monitored


def rows_of(cli):
    engine = make_engine(cli.url)
    try:
        return snapshot(World(engine))
    finally:
        engine.dispose()


def test_payment_list_json_has_the_designs_shape(paying):
    rows = paying.ok("payment", "list", "--case", REF, "--json").json()
    assert rows == [
        {
            "ref": f"{REF}/P1",
            "case": REF,
            "state": "due",
            "amount": "125000.00",
            "due_on": "2013-10-01",
            "event": "accepted",
            "reference": None,
        }
    ]
    assert paying.ok("payment", "list", "--state", "paid", "--json").json() == []
    assert len(paying.ok("payment", "list", "--programme", "tca-2013", "--json").json()) == 1


def test_approve_then_pay_in_words_and_the_figures_follow(paying):
    assert (
        paying.ok("payment", "approve", f"{REF}/P1", "--as", "april").out.strip()
        == f"{REF}/P1 is now Approved"
    )
    export = paying.ok("payment", "export", "--state", "approved", "--format", "csv").out
    run = list(csv.DictReader(io.StringIO(export)))
    assert [(r["payee_code"], r["name"], r["amount"], r["reference"], r["case"]) for r in run] == [
        ("E07000026", "Council E07000026", "125000.00", f"{REF}/P1", REF)
    ]
    assert list(run[0]) == ["payee_code", "org_id", "name", "amount", "reference", "case"]
    paid = paying.ok(
        "payment", "pay", f"{REF}/P1", "--as", "fiona", "--reference", "BACS 2013/0042"
    )
    assert paid.out.strip() == f"{REF}/P1 is now Paid"
    table = paying.ok("payment", "list").out
    assert "£125,000" in table and "When the agreement is accepted" in table
    assert codes_in(table) == []
    figures = {p["code"]: p for p in paying.ok("programme", "list", "--json").json()}
    assert (figures["tca-2013"]["paid"], figures["tca-2013"]["recovering"]) == ("125000.00", "0.00")
    assert "paid        £125,000" in paying.ok("programme", "show", "tca-2013").out


def test_a_payment_run_never_hands_a_spreadsheet_a_formula(paying):
    # An organisation's name is typed by people; finance opens the run in a spreadsheet.
    paying.ok("org", "update", "E07000026", "--name", '=HYPERLINK("http://x.test","Pay")')
    paying.ok("payment", "approve", f"{REF}/P1", "--as", "april")
    export = paying.ok("payment", "export", "--state", "approved", "--format", "csv").out
    (row,) = csv.DictReader(io.StringIO(export))
    assert row["name"] == '\'=HYPERLINK("http://x.test","Pay")'
    assert (row["payee_code"], row["amount"]) == ("E07000026", "125000.00")


@pytest.mark.parametrize(
    "args, says",
    [
        (
            ["pay", f"{REF}/P1", "--as", "fiona", "--reference", "R1"],
            "cannot be 'Record the payment'",
        ),
        (["approve", f"{REF}/P1", "--as", "fiona"], "only an approver"),
        (["approve", f"{REF}/P1", "--as", "carol"], "only an approver"),
        (["hold", f"{REF}/P1", "--as", "carol"], "needs a reason"),
        (["approve", f"{REF}/P7", "--as", "april"], "There is no payment"),
        (
            ["recover", REF, "--eligible", "12,000", "--as", "carol"],
            "The eligible spend was refused",
        ),
        (["recover", REF, "--eligible", "1000", "--as", "carol"], "not terminated"),
        (["recover", REF, "--eligible", "-5", "--as", "carol"], "The eligible spend was refused"),
    ],
)
def test_refusals_are_one_line_exit_1_and_write_nothing(paying, args, says):
    before = rows_of(paying)
    ran = paying("payment", *args)
    assert ran.code == 1, ran.out + ran.err
    assert says in ran.err and ran.err.strip().count("\n") == 0
    assert rows_of(paying) == before


def test_a_remittance_reference_with_control_characters_is_refused(paying):
    paying.ok("payment", "approve", f"{REF}/P1", "--as", "april")
    before = rows_of(paying)
    for reference in ("BACS\x071", "BACS\t1"):  # a tab too: one line of printable text
        ran = paying("payment", "pay", f"{REF}/P1", "--as", "fiona", "--reference", reference)
        assert ran.code == 1 and "remittance reference" in ran.err, ran.err
        assert ran.err.strip().count("\n") == 0
        assert rows_of(paying) == before


def test_recovery_after_termination(paying):
    paying.ok("payment", "approve", f"{REF}/P1", "--as", "april")
    paying.ok("payment", "pay", f"{REF}/P1", "--as", "fiona", "--reference", "BACS 1")
    paying.ok("case", "advance", REF, "suspend", "--as", "carol", "--reason", "No return")
    paying.ok(
        "case", "advance", REF, "terminate", "--as", "aaron", "--reason", "No return for a year"
    )
    done = paying.ok("payment", "recover", REF, "--eligible", "100000", "--as", "carol")
    assert done.out.strip() == f"{REF}: paid £125,000, eligible £100,000, to recover £25,000"
    figures = {p["code"]: p for p in paying.ok("programme", "list", "--json").json()}
    assert figures["tca-2013"]["recovering"] == "25000.00"


def test_the_history_table_says_which_payment_each_row_is_about(paying):
    paying.ok("payment", "approve", f"{REF}/P1", "--as", "april")
    table = paying.ok("case", "history", REF, env={"COLUMNS": "250"}).out
    (approved,) = [line for line in table.splitlines() if "Approve the payment" in line]
    assert " P1 " in approved  # the column 'about': Q2, P1 or V1, as the chain carries it
    assert "about" in table.splitlines()[0]


def test_every_history_row_has_one_shape_and_names_the_payment_it_moves(paying):
    paying.ok("payment", "approve", f"{REF}/P1", "--as", "april")
    rows = paying.ok("case", "history", REF, "--json").json()
    assert len({tuple(sorted(r)) for r in rows}) == 1  # a reader's shape never varies
    moved = [(r["trigger"], r["payment"]) for r in rows if r["payment"] is not None]
    assert moved[-1] == ("approve", "P1")
    assert all(r["payment"] is None for r in rows if r["trigger"] in ("submit", "offer"))
