"""`casework agreement show`, run as a real process."""

import hashlib

import pytest

from tests.builders import World
from workflow.storage.db import make_engine

REF = "TCA-2013-0001"


def test_agreement_show_lists_versions_and_writes_the_pdf_it_names(monitored, tmp_path):
    listed = monitored.ok("agreement", "show", REF, "--json").json()
    out = tmp_path / "agreement.pdf"

    wrote = monitored.ok("agreement", "show", REF, "--version", "1", "--out", str(out))

    assert [v["version"] for v in listed["versions"]] == [1]
    assert listed["accepted_version"] == {"version": 1, "sha256": listed["versions"][0]["sha256"]}
    assert hashlib.sha256(out.read_bytes()).hexdigest() == listed["versions"][0]["sha256"]
    assert out.read_bytes().startswith(b"%PDF-")
    assert "agreement version 1" in wrote.out
    table = monitored.ok("agreement", "show", REF)
    assert "the council accepted version 1" in table.out and "£" in table.out


def test_agreement_show_of_a_version_that_does_not_exist_is_refused(monitored):
    ran = monitored("agreement", "show", REF, "--version", "7")

    assert ran.code == 1
    assert ran.err.strip() == f"{REF} has no agreement version 7."


def test_a_variation_proposed_and_approved_on_the_command_line(monitored, tmp_path):
    ran = monitored.ok(
        "variation",
        "propose",
        REF,
        "--amount",
        "300000",
        "--reason",
        "Two more districts join.",
        "--as",
        "cllr",
    )
    assert ran.out.strip() == f"{REF}/V1"

    refused = monitored("variation", "approve", f"{REF}/V1", "--as", "aaron")
    assert refused.code == 1 and "it needs a second approver's countersignature" in refused.err
    signed = monitored.ok("variation", "countersign", f"{REF}/V1", "--as", "april")
    assert signed.out.strip() == (
        f"{REF}/V1: countersigned by april; an approver other than april may now approve it"
    )
    approved = monitored.ok("variation", "approve", f"{REF}/V1", "--as", "aaron")

    assert approved.out.strip() == f"{REF}/V1 is now approved; agreement version 2 drawn up"
    listed = monitored.ok("variation", "list", "--case", REF, "--json").json()
    assert [(v["ref"], v["state"], v["amount"]) for v in listed] == [
        (f"{REF}/V1", "approved", "300000.00")
    ]
    table = monitored.ok("variation", "list")
    assert "Approved" in table.out and "£300,000" in table.out
    versions = monitored.ok("agreement", "show", REF, "--json").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    out = tmp_path / "v2.pdf"  # the PDF drawn before the approval's transaction, as kept
    monitored.ok("agreement", "show", REF, "--version", "2", "--out", str(out))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == versions[1]["sha256"]


def test_a_variation_refused_exits_1_with_one_line_naming_the_rule(monitored):
    cases = [
        (["propose", REF, "--amount", "12,000", "--reason", "x", "--as", "cllr"], "amount"),
        (["propose", REF, "--end", "soon", "--reason", "x", "--as", "cllr"], "YYYY-MM-DD"),
        (
            ["propose", REF, "--end", "2015-02-30", "--reason", "x", "--as", "cllr"],
            "'2015-02-30' is not a day of the calendar",
        ),
        (["propose", REF, "--amount", "12.345", "--reason", "x", "--as", "cllr"], "'12.345'"),
        (["propose", REF, "--amount", "£1,000", "--reason", "x", "--as", "cllr"], "'£1,000'"),
        (
            ["propose", REF, "--amount", "300000", "--reason", "x", "--as", "ash"],
            "propose a variation",
        ),
    ]
    before = monitored.ok("case", "history", REF, "--json").out
    for args, words in cases:
        ran = monitored("variation", *args)
        assert ran.code == 1, args
        assert len(ran.err.strip().splitlines()) == 1 and words in ran.err, ran.err
    assert monitored.ok("case", "history", REF, "--json").out == before
    assert monitored.ok("variation", "list", "--json").json() == []
    monitored.ok("variation", "propose", REF, "--amount", "300000", "--reason", "x", "--as", "cllr")
    ran = monitored("variation", "approve", f"{REF}/V1", "--as", "carol")
    assert ran.code == 1 and "only an approver" in ran.err


def _rows(cli) -> dict:
    engine = make_engine(cli.url)
    try:
        return World(engine).snapshot()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--amount", "0"], "£0 is not an award; to end the award, an approver terminates it"),
        (["--amount", "250000"], "the award is already £250,000: give the new total"),
        (
            ["--amount", "900000"],
            "Shared arrangement awards are at most £500,000: a total of £900,000 is more than "
            "the programme allows",
        ),
        (["--end", "2013-03-31"], "the end date 31 March 2013 is not after today ("),
    ],
)
def test_a_proposal_that_varies_nothing_is_refused_saying_why(monitored, args, says):
    before = _rows(monitored)

    ran = monitored("variation", "propose", REF, *args, "--reason", "x", "--as", "cllr")

    assert ran.code == 1, ran.out
    (line,) = ran.err.strip().splitlines()
    assert line.startswith(f"The variation of {REF} was refused: {says}")
    assert _rows(monitored) == before  # no history row, no email, no ledger row
    assert monitored.ok("variation", "list", "--json").json() == []


def test_a_new_end_date_the_award_already_has_is_refused(monitored):
    monitored.ok(
        "variation", "propose", REF, "--end", "2031-06-30", "--reason", "Later.", "--as", "cllr"
    )
    monitored.ok("variation", "approve", f"{REF}/V1", "--as", "aaron")
    before = _rows(monitored)

    ran = monitored(
        "variation", "propose", REF, "--end", "2031-06-30", "--reason", "Again.", "--as", "cllr"
    )

    assert ran.code == 1
    assert ran.err.strip() == (
        f"The variation of {REF} was refused: the award already ends on 30 June 2031: "
        "give a new end date, or leave it out."
    )
    assert _rows(monitored) == before
    assert len(monitored.ok("variation", "list", "--json").json()) == 1


def test_writing_into_a_folder_that_does_not_exist_is_one_line_not_a_traceback(monitored, tmp_path):
    missing = tmp_path / "no-such-folder"
    pdf, package = missing / "agreement.pdf", missing / "awards.json"
    monitored.ok("org", "update", "E07000026", "--org-id", "GB-LAE-ALL")

    agreement = monitored("agreement", "show", REF, "--version", "1", "--out", str(pdf))
    published = monitored("publish", "360giving", "tca-2013", "--out", str(package))

    assert (agreement.code, agreement.err) == (
        1,
        f"Could not open {pdf}: No such file or directory.\n",
    )
    assert (published.code, published.err) == (
        1,
        f"Could not open {package}: No such file or directory.\n",
    )
    assert not missing.exists()
