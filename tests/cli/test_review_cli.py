"""`casework review record|list` (DESIGN.md section 9): a real subprocess each, one SQLite file.

The monitored bid was accepted on 1 October 2013, so its first annual review
falls due on Wednesday 1 October 2014 (opened by the sweep at 09:00 London).
"""

from __future__ import annotations

from sqlalchemy import func, select

from workflow.storage.db import make_engine
from workflow.storage.tables import history

REF = "TCA-2013-0001"


def rows(cli) -> int:
    engine = make_engine(cli.url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(history)).scalar()
    engine.dispose()
    return int(n or 0)


def test_a_review_is_listed_then_recorded_once_due(monitored):
    cli = monitored
    listed = cli.ok("review", "list", "--json").json()
    assert [(r["ref"], r["due"], r["status"]) for r in listed] == [
        (f"{REF}/R1", "2014-10-01", "not_due")
    ]
    assert cli.ok("review", "list", "--due", "--json").json() == []

    before = rows(cli)
    early = cli(
        "review", "record", REF, "--decision", "continue", "--reason", "Fine.", "--as", "carol"
    )
    assert early.code == 1
    assert early.err.strip() == (
        f"{REF}'s annual review is not due yet: R1 falls due on "
        f"1 October 2014 and can be recorded from then on, not before."
    )
    assert rows(cli) == before

    cli.ok("sweep", "--now", "2014-10-01T09:30")
    before = rows(cli)
    assert [r["ref"] for r in cli.ok("review", "list", "--due", "--json").json()] == [f"{REF}/R1"]
    table = cli.ok("review", "list").out
    assert f"{REF}/R1" in table and "1 Oct 2014" in table and "Due" in table

    for who, says in (("april", "only a caseworker may"), ("cllr", "only a caseworker may")):
        refused = cli(
            "review", "record", REF, "--decision", "continue", "--reason", "Fine.", "--as", who
        )
        assert refused.code == 1 and says in refused.err, refused.err
    bad = cli(
        "review", "record", REF, "--decision", "continue", "--reason", "Fine.\x07", "--as", "carol"
    )
    assert bad.code == 1 and "reason" in bad.err and "\n" not in bad.err.strip()
    odd = cli("review", "record", REF, "--decision", "pause", "--reason", "Fine.", "--as", "carol")
    assert (
        odd.code == 1
        and "it is not one of Continue (continue), Amend (amend), Stop (stop)" in odd.err
    )
    assert rows(cli) == before  # every refusal wrote nothing

    done = cli.ok(
        "review",
        "record",
        REF,
        "--decision",
        "continue",
        "--reason",
        "Returns on time; spend as planned.",
        "--as",
        "carol",
    )
    assert done.out.strip() == (
        f"{REF}/R1: carol recorded the annual review: Continue. The award carries on as agreed."
    )
    shown = cli.ok("review", "list", "--case", REF, "--json").json()
    assert [(r["review"], r["status"], r["decision"], r["recorded_by"]) for r in shown] == [
        ("R1", "recorded", "continue", "carol"),
        ("R2", "not_due", None, None),
    ]
    history_rows = cli.ok("case", "history", REF, "--json").json()
    assert history_rows[-1]["trigger"] == "review"


def test_countersign_through_case_advance(monitored):
    cli = monitored
    # the monitored fixture's offer was countersigned by aaron before april offered it
    rows_ = cli.ok("case", "history", REF, "--json").json()
    signed = [(r["trigger"], r["actor"]) for r in rows_ if r["trigger"] in ("countersign", "offer")]
    assert signed == [("countersign", "aaron"), ("offer", "april")]


def test_a_countersignature_on_the_command_line_says_it_was_done_and_the_bid_stays(cli):
    from tests.builders import World
    from tests.workflow.awarding import recommended

    engine = make_engine(cli.url)
    ref = recommended(World(engine).cast())  # £250,000: above the £100,000 threshold
    engine.dispose()

    signed = cli.ok("case", "advance", ref, "countersign", "--as", "aaron")
    offered = cli.ok("case", "advance", ref, "offer", "--as", "april")

    assert signed.out == f"{ref}: aaron did 'Countersign the offer'; it is still Recommended\n"
    assert offered.out == f"{ref} is now Award offered\n"


def test_review_list_says_which_decisions_the_person_asking_may_record(monitored):
    cli = monitored

    def allowed(*who: str) -> list:
        rows = cli.ok("review", "list", *who, "--json").json()
        assert all(r["allowed_decisions"] == [] for r in rows[1:])  # R2 is not due
        return rows[0]["allowed_decisions"]

    assert allowed("--as", "carol") == []  # not due yet: nothing to record
    cli.ok("sweep", "--now", "2014-10-01T09:30")

    # The sweep suspended the award too (its returns are long overdue): not varied, so no amend.
    assert cli.ok("case", "show", REF, "--json").json()["state"] == "suspended"
    assert allowed("--as", "carol") == ["continue", "stop"]
    assert allowed("--as", "april") == allowed("--as", "cllr") == []  # only a caseworker
    table = cli.ok("review", "list", "--as", "carol").out
    assert "Continue (continue)" in table and "(stop)" in table and "(amend)" not in table
    cli.ok("case", "advance", REF, "reinstate", "--as", "carol", "--reason", "Returns in.")
    assert allowed("--as", "carol") == ["continue", "amend", "stop"]


def test_amend_asking_for_no_change_or_while_a_variation_waits_is_refused(monitored):
    cli = monitored
    cli.ok("sweep", "--now", "2014-10-01T09:30")  # R1 opens; the award is suspended too
    cli.ok("case", "advance", REF, "reinstate", "--as", "carol", "--reason", "Returns in.")
    amend = ("review", "record", REF, "--decision", "amend", "--as", "carol")
    before = rows(cli)

    same = cli(*amend, "--reason", "Keep it.", "--amount", "250000")
    assert same.code == 1
    assert same.err.strip() == (
        f"The variation of {REF} was refused: the award is already £250,000: give the new total."
    )
    assert rows(cli) == before
    cli.ok("variation", "propose", REF, "--reason", "Scope widened.", "--as", "cllr")
    before = rows(cli)

    waits = cli(*amend, "--reason", "Costs fell.", "--amount", "200000")

    assert waits.code == 1
    assert waits.err.strip().startswith(
        f"{REF}/V1 is still waiting for a decision, so the new amount cannot be proposed now"
    )
    assert rows(cli) == before
    assert cli.ok("review", "list", "--json").json()[0]["decision"] is None
