"""Every read command takes `--as NAME` (DESIGN section 6), and sees what that person may see:
a council person their own organisation's cases, another council's "not found"."""

from __future__ import annotations

BID = "TCA-2013-0001"  # led by E07000026 (cllr's), partners E07000028 and E07000029

READS = [
    ["case", "show", BID],
    ["case", "history", BID],
    ["checkpoint", "list", "--case", BID],
    ["checkpoint", "show", f"{BID}/Q1"],
    ["payment", "list", "--case", BID],
    ["variation", "list", "--case", BID],
    ["assess", "show", BID],
    ["agreement", "show", BID],
    ["review", "list", "--case", BID],
    ["diligence", "show", BID],  # staff only: a council person is refused, but by name
]


def _outsider(cli) -> None:
    cli.ok(
        "org", "add", "E07000030", "--name", "Barrow-in-Furness Borough Council",
        "--email", "grants@barrow.example",
    )  # fmt: skip
    cli.ok("user", "add", "olly", "--role", "council", "--org", "E07000030")


def test_every_read_command_reads_as_a_person_and_their_council_sees_its_own_case(monitored):
    cli = monitored
    for command in READS[:-1]:
        cli.ok(*command, "--as", "cllr")
    cli.ok(*READS[-1], "--as", "carol")

    # What they may fire is theirs: the caseworker's moves are not the council's.
    council = cli.ok("case", "show", BID, "--as", "cllr", "--json").json()["allowed_triggers"]
    staff = cli.ok("case", "show", BID, "--as", "carol", "--json").json()["allowed_triggers"]
    assert council != staff and "suspend" in staff and "suspend" not in council


def test_an_unknown_person_is_refused_as_the_writing_commands_refuse_them(monitored):
    writing = monitored("case", "assign", BID, "--to", "ash", "--as", "nobody")
    for command in READS:
        ran = monitored(*command, "--as", "nobody")
        assert ran.code == 1, (command, ran.err)
        assert "nobody" in ran.err and ran.err == writing.err, (command, ran.err)


def test_another_council_neither_sees_the_case_nor_finds_it_in_lists(monitored):
    cli = monitored
    _outsider(cli)
    for command in READS:
        ran = cli(*command, "--as", "olly")
        # As if it did not exist: what a staff member hears of a case there is not.
        assert ran.code == 1 and ran.err == f"There is no case {BID}.\n", (command, ran.err)
    for command in (
        ["case", "list"],
        ["checkpoint", "list"],
        ["payment", "list"],
        ["review", "list"],
    ):  # (the bid has no variation: `variation list --case` above is refused)
        assert cli.ok(*command, "--as", "olly", "--json").json() == [], command
        assert BID in cli.ok(*command, "--as", "cllr", "--json").out, command
    # Asking for another organisation's returns gives none of theirs either.
    asked = cli.ok("checkpoint", "list", "--org", "E07000026", "--as", "olly", "--json")
    assert asked.json() == []


def test_staff_reads_take_as_and_refuse_whom_the_api_refuses(monitored):
    cli = monitored
    for command, may, may_not in (
        (["programme", "ranking", "tca-2013"], "carol", "cllr"),
        (["outbox", "list"], "carol", "audrey"),
        (["audit", "admin"], "audrey", "carol"),
        (["audit", "export", "--format", "json"], "audrey", "cllr"),
    ):
        cli.ok(*command, "--as", may)
        refused = cli(*command, "--as", may_not)
        assert refused.code == 1 and f"{may_not} (" in refused.err, (command, refused.err)
        assert "may not" in refused.err and refused.out == "", (command, refused.out)
