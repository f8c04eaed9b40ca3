"""A whole Transformation Challenge Award round, run from the command line.

Bids in every category are submitted, checked, assessed by two assessors,
moderated, ranked and offered until the £9,000,000 fund is spent; every
refusal on the way is explained, and the fund ledger equals the sum of the
offers at every step. Each command is a real `casework` subprocess against
one SQLite file; bids that do not depend on each other go through at the same
time (two at once: one per core).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from workflow.storage.db import make_engine, reading
from workflow.storage.tables import outbox

from tests.workflow.awarding import ledger_pence, offers_pence

pytestmark = pytest.mark.slow

ORGS = [
    ("E07000026", "Allerdale Borough Council", []),
    ("E07000028", "Carlisle City Council", []),
    ("E07000029", "Copeland Borough Council", []),
    ("E06000001", "Hartlepool Borough Council", ["--esg-allocation", "4000000"]),
]
PEOPLE = [
    ("carol", ["caseworker"]),
    ("mo", ["caseworker"]),
    ("ash", ["assessor"]),
    ("asha", ["assessor"]),
    ("alex", ["assessor", "approver"]),
    ("april", ["approver"]),
    ("aaron", ["approver"]),
]

# name: (category, amount, lead, each assessor's marks). Best first once moderated.
BIDS = {
    "S1": ("single_operation", "2000000", "E07000026", (5, 5, 4)),
    "S2": ("single_operation", "2000000", "E07000026", (5, 4, 4)),
    "S3": ("single_operation", "2000000", "E07000026", (4, 4, 4)),
    "H1": ("shared_arrangement", "500000", "E07000026", None),  # the assessors disagree
    "S4": ("single_operation", "2000000", "E07000026", (4, 4, 3)),
    "H2": ("shared_arrangement", "500000", "E07000026", (4, 3, 3)),
    "E1": ("esg_top_up", "1000000", "E06000001", (2, 2, 2)),
}


def application(category, amount, lead):
    doc = {
        "programme": "tca-2013",
        "category": category,
        "title": f"{category} bid",
        "lead": lead,
        "partners": ["E07000028", "E07000029"],
        "amount": amount,
        "transitional_costs": "300000",
        "annual_savings": "900000",
    }
    if category == "shared_arrangement":
        doc.update(arrangement="linked_it", innovation="One IT estate for three councils.")
    if category == "esg_top_up":
        doc.update(partners=[], further_and_faster="Two years sooner than planned.")
    return doc


def refused(cli, *args, says):
    ran = cli(*args)
    assert ran.code == 1, f"casework {' '.join(args)} was not refused: {ran.out}"
    assert says in ran.err, ran.err
    return ran.err


def set_up(cli):
    with ThreadPoolExecutor(2) as pool:
        list(
            pool.map(
                lambda o: cli.ok(
                    "org",
                    "add",
                    o[0],
                    "--name",
                    o[1],
                    "--email",
                    f"returns@{o[0].lower()}.example.gov.uk",
                    *o[2],
                ),
                ORGS,
            )
        )
        jobs = [
            [
                "user",
                "add",
                name,
                *[a for r in roles for a in ("--role", r)],
                "--email",
                f"{name}@tca.example.gov.uk",
            ]
            for name, roles in PEOPLE
        ]
        jobs.append(["user", "add", "cllr", "--role", "council", "--org", "E07000026"])
        list(pool.map(lambda args: cli.ok(*args), jobs))


def assess(cli, ref, name, marks):
    """Declare, then score: what every assessor does for a bid."""
    innovation, costs, savings = (str(m) for m in marks)
    cli.ok("assess", "declare", ref, "--as", name, "--no-conflict")
    cli.ok(
        "assess",
        ref,
        "--as",
        name,
        "--innovation",
        innovation,
        "--costs",
        costs,
        "--savings",
        savings,
    )


def take_through_assessment(cli, name, ref):
    category, amount, lead, marks = BIDS[name]
    cli.ok("case", "advance", ref, "submit", "--as", "cllr" if lead == "E07000026" else "carol")
    if name != "E1":  # the round's bids share a lead: each was found a separate bid
        refused(
            cli,
            "case",
            "advance",
            ref,
            "check",
            "--as",
            "carol",
            says="Fraud risk (fraud_risk) is not recorded yet",
        )
        cli.ok(
            "diligence",
            "record",
            ref,
            "no_duplicate_bid",
            "--result",
            "pass",
            "--as",
            "carol",
            "--evidence",
            "A separate service of the council's: not a second bid for one.",
        )
    cli.ok(
        "diligence",
        "record",
        ref,
        "fraud_risk",
        "--result",
        "pass",
        "--rating",
        "low",
        "--as",
        "carol",
        "--evidence",
        "Bank details and s151 sign-off confirmed.",
    )
    cli.ok("case", "advance", ref, "check", "--as", "carol")
    cli.ok("case", "advance", ref, "start_assessment", "--as", "carol")
    if name == "S1":  # a conflicted assessor is kept out
        cli.ok(
            "assess",
            "declare",
            ref,
            "--as",
            "alex",
            "--conflict",
            "Former chief executive of the lead council",
        )
        refused(
            cli,
            "assess",
            ref,
            "--as",
            "alex",
            "--innovation",
            "5",
            "--costs",
            "5",
            "--savings",
            "5",
            says="declared a conflict of interest",
        )
    second = "alex" if name == "S2" else "asha"
    if name == "H1":  # too far apart: a moderator settles it
        assess(cli, ref, "ash", (5, 5, 5))
        assess(cli, ref, "asha", (2, 2, 2))
        refused(
            cli,
            "case",
            "advance",
            ref,
            "moderate",
            "--as",
            "carol",
            says="differ by 9 (ash 15, asha 6), more than the tolerance of 2",
        )
        cli.ok(
            "assess",
            "agree",
            ref,
            "--as",
            "mo",
            "--innovation",
            "4",
            "--costs",
            "4",
            "--savings",
            "4",
            "--reason",
            "Panel: the IT savings are credible",
        )
    else:
        assess(cli, ref, "ash", marks)
        assess(cli, ref, second, marks)
    cli.ok("case", "advance", ref, "moderate", "--as", "carol")
    cli.ok("case", "advance", ref, "recommend", "--as", "carol")


def test_a_whole_tca_round_runs_from_the_command_line(cli):
    set_up(cli)
    engine = make_engine(cli.url)

    def ledger_matches_offers():
        assert ledger_pence(engine, "tca-2013") == offers_pence(engine, "tca-2013")

    # A bid below its category's band is refused at submit, saying why.
    small = cli.write(
        "small.json", json.dumps(application("shared_arrangement", "49999", "E07000026"))
    )
    too_small = cli.ok("case", "open", "bid", "--from-file", small, "--as", "cllr").out.strip()
    refused(
        cli,
        "case",
        "advance",
        too_small,
        "submit",
        "--as",
        "cllr",
        says="Shared arrangement asks at least £50,000; this bid asks £49,999",
    )

    refs = {}
    for name, (category, amount, lead, _) in BIDS.items():
        path = cli.write(f"{name}.json", json.dumps(application(category, amount, lead)))
        refs[name] = cli.ok("case", "open", "bid", "--from-file", path, "--as", "carol").out.strip()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda n: take_through_assessment(cli, n, refs[n]), BIDS))

    h1 = cli.ok("assess", "show", refs["H1"], "--json").json()
    assert [s["weighted"] for s in h1["scores"]] == ["15.00", "6.00"]
    assert (h1["agreed"]["weighted"], h1["combined"]) == ("12.00", "12.00")

    ranked = cli.ok("programme", "ranking", "tca-2013", "--json").json()
    assert [(r["ref"], r["score"], r["running_total"], r["stops"]) for r in ranked] == [
        (refs["S1"], "14.00", "2000000.00", None),
        (refs["S2"], "13.00", "4000000.00", None),
        (refs["S3"], "12.00", "6000000.00", None),
        (refs["H1"], "12.00", "6500000.00", None),
        (refs["S4"], "11.00", "8500000.00", None),
        (refs["H2"], "10.00", "9000000.00", None),
        (refs["E1"], "6.00", "9000000.00", "fund"),
    ]
    assert "no: fund" in cli.ok("programme", "ranking", "tca-2013").out

    # Offers in rank order until the fund is spent; nobody offers what they assessed.
    # Each is above £100,000, so a second approver countersigns it first, never the
    # one who offers it nor one who assessed it.
    refused(cli, "case", "advance", refs["S2"], "offer", "--as", "alex", says="you assessed")
    refused(cli, "case", "advance", refs["S2"], "countersign", "--as", "alex", says="you assessed")
    refused(
        cli,
        "case",
        "advance",
        refs["S1"],
        "offer",
        "--as",
        "april",
        says="it needs a second approver's countersignature",
    )
    for n, row in enumerate(ranked[:-1]):
        offers, signs = ("april", "aaron")[n % 2], ("aaron", "april")[n % 2]
        cli.ok("case", "advance", row["ref"], "countersign", "--as", signs)
        if n == 0:
            refused(
                cli, "case", "advance", row["ref"], "offer", "--as", signs, says="you countersigned"
            )
        cli.ok("case", "advance", row["ref"], "offer", "--as", offers)
        ledger_matches_offers()
    cli.ok("case", "advance", refs["E1"], "countersign", "--as", "aaron")
    refused(
        cli,
        "case",
        "advance",
        refs["E1"],
        "offer",
        "--as",
        "april",
        says="offering £1,000,000 would commit £10,000,000, past the fund's £9,000,000 "
        "(£0 remains)",
    )
    ledger_matches_offers()

    spent = [p for p in cli.ok("programme", "list", "--json").json() if p["code"] == "tca-2013"]
    assert (spent[0]["committed"], spent[0]["remaining"]) == ("9000000.00", "0.00")
    with reading(engine) as conn:
        offers = (
            conn.execute(select(outbox.c.case_ref).where(outbox.c.kind == "bid.award_offered"))
            .scalars()
            .all()
        )
    assert sorted(offers) == sorted(r["ref"] for r in ranked[:-1])
    assert cli.ok("audit", "verify").code == 0
    engine.dispose()
