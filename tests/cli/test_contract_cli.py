"""DESIGN section 6 as an operator meets it: what the audit of the command line found.

Each test runs the real `casework` script on a bid in monitoring (the `monitored` world)."""

from __future__ import annotations

import sqlite3


def _outbox(cli) -> list[tuple]:
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as conn:
        return conn.execute(
            "SELECT id, state, attempts, next_attempt_at FROM outbox ORDER BY id"
        ).fetchall()


def _mark(cli, id: int, state: str) -> None:
    conn = sqlite3.connect(cli.url.removeprefix("sqlite:///"))
    with conn:
        sent = "'2013-10-02 09:00:00.000000'" if state == "sent" else "NULL"
        conn.execute(
            f"UPDATE outbox SET state = ?, attempts = 3, sent_at = {sent} WHERE id = ?",
            (state, id),
        )
    conn.close()


def test_retrying_a_message_already_sent_is_refused_naming_it_and_changes_nothing(monitored):
    cli = monitored
    ids = [row[0] for row in _outbox(cli)]
    assert len(ids) >= 2, "the monitored world queues mail"
    sent, dead = ids[0], ids[1]
    _mark(cli, sent, "sent")
    _mark(cli, dead, "dead")
    before = _outbox(cli)

    alone = cli("outbox", "retry", str(sent), "--as", "carol")
    # One of several sent: the whole request is refused, the dead one too stays as it was.
    mixed = cli("outbox", "retry", str(dead), str(sent), "--as", "carol")

    for ran in (alone, mixed):
        assert ran.code == 1 and ran.out == ""
        assert ran.err == (
            f"Message {sent} was not sent again: it was sent already, 10am, 2 October 2013, "
            "and a resend would carry the same Message-ID, which mail systems may drop as a "
            "duplicate.\n"
        )
    assert _outbox(cli) == before

    done = cli.ok("outbox", "retry", str(dead), "--as", "carol")
    assert done.out == "1 message queued again\n"
    assert [r[1:3] for r in _outbox(cli) if r[0] == dead] == [("queued", 0)]


def test_retry_takes_message_ids_or_all_dead_not_both(monitored):
    cli = monitored
    dead = _outbox(cli)[0][0]
    _mark(cli, dead, "dead")
    before = _outbox(cli)

    both = cli("outbox", "retry", str(dead), "--all-dead", "--as", "carol")
    neither = cli("outbox", "retry", "--as", "carol")

    assert both.code == neither.code == 2
    assert "give message ids or --all-dead, not both" in both.err
    assert "give message ids or --all-dead" in neither.err
    assert _outbox(cli) == before


def test_states_diagram_takes_json_the_machine_in_codes_beside_its_diagram(monitored):
    drawn = monitored.ok("states", "diagram", "checkpoint").out
    machine = monitored.ok("states", "diagram", "checkpoint", "--json").json()

    assert machine["kind"] == "checkpoint" and machine["diagram"] == drawn
    assert machine["initial"] == "scheduled" and "accepted" in machine["final"]
    assert {
        "from": "submitted",
        "to": "accepted",
        "trigger": "accept",
        "guards": [],
        "roles": ["caseworker"],
    } in machine["transitions"]
    # One row an arrow, as the diagram draws them.
    arrows = [line for line in drawn.splitlines() if "-->" in line and "[*]" not in line]
    assert len(machine["transitions"]) == len(arrows)


def test_audit_export_takes_json_as_format_json_and_refuses_asking_for_both(monitored):
    cli = monitored
    ref = cli.ok("case", "list", "--json").json()[0]["ref"]
    by_format = cli.ok("audit", "export", "--format", "json", "--case", ref).json()
    by_flag = cli.ok("audit", "export", "--json", "--case", ref).json()
    assert by_flag == by_format and by_flag[0]["case"] == ref

    both = cli("audit", "export", "--json", "--format", "csv")
    neither = cli("audit", "export")
    assert both.code == neither.code == 2 and both.out == neither.out == ""
    assert "--json asks for JSON, --format for csv: give one" in both.err
    assert "give --format csv or --format json (or --json)" in neither.err


READS_AS = [
    # (command, who may, who may not and the words of the refusal)
    (["programme", "list"], "cllr", None),
    (["programme", "show", "tca-2013"], "cllr", None),
    (["audit", "verify"], "audrey", ("cllr", "may not read a case's history")),
    (["org", "list"], "sam", ("carol", "may not list every organisation and person")),
    (["user", "list"], "sam", ("cllr", "may not list every organisation and person")),
    (["status"], "carol", None),
    (["states", "diagram", "bid"], "cllr", None),
]


def test_the_read_commands_that_took_no_as_take_it_and_refuse_whom_the_web_would(monitored):
    cli = monitored
    cli.ok("user", "add", "sam", "--role", "admin")
    for command, reader, refused in READS_AS:
        alone = cli(*command, "--json")
        read = cli(*command, "--as", reader, "--json")
        # What the operator reads, the person who may read it reads the same (status
        # says when it was asked: its fields, then).
        same = (lambda ran: ran.json().keys()) if command == ["status"] else (lambda ran: ran.out)
        assert (read.code, same(read)) == (alone.code, same(alone)), command
        nobody = cli(*command, "--as", "nobody")
        assert nobody.code == 1 and nobody.out == "", command
        assert (
            nobody.err
            == "There is no person called 'nobody'. `casework user list` shows who there is.\n"
        )
        if refused:
            who, words = refused
            ran = cli(*command, "--as", who)
            assert ran.code == 1 and ran.out == "" and words in ran.err, command


def test_a_360giving_org_id_another_organisation_carries_is_refused_naming_it(monitored):
    cli = monitored
    cli.ok("org", "add", "E07000030", "--name", "Eden", "--email", "g@eden.example")
    cli.ok("org", "update", "E07000028", "--org-id", "GB-LAE-CAR")
    before = cli.ok("org", "list", "--json").out

    added = cli(
        "org", "add", "E07000031", "--name", "Not Carlisle", "--email", "n@c.example",
        "--org-id", "gb-lae-car",
    )  # fmt: skip
    updated = cli("org", "update", "E07000030", "--org-id", "GB-LAE-CAR")

    said = "org-id: {} is already the org-id of E07000028 (Council E07000028)."
    assert added.code == updated.code == 1
    assert added.err.strip().endswith(said.format("gb-lae-car"))
    assert updated.err.strip().endswith(said.format("GB-LAE-CAR"))
    assert cli.ok("org", "list", "--json").out == before
    # Its own org-id given again is no clash.
    cli.ok("org", "update", "E07000028", "--org-id", "GB-LAE-CAR")


def test_a_programme_code_typed_as_the_references_print_it_is_the_programme(monitored):
    cli = monitored
    # `case list --programme TCA-2013` (and the web, and the API's list) took it already.
    for command in (
        ["programme", "show", "{}"],
        ["programme", "ranking", "{}"],
        ["case", "list", "--programme", "{}"],
    ):
        typed = [w.format("TCA-2013") for w in command]
        given = [w.format("tca-2013") for w in command]
        assert cli.ok(*typed, "--json").out == cli.ok(*given, "--json").out, command
    unknown = cli("programme", "show", "TCA-2099")
    assert unknown.code == 1
    assert unknown.err.startswith("There is no programme 'TCA-2099'.")


def _history_rows(cli) -> int:
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as conn:
        return conn.execute("SELECT count(*) FROM history").fetchone()[0]


def test_no_one_acts_or_reads_as_the_sweep_on_the_command_line(monitored):
    cli = monitored
    ref = cli.ok("case", "list", "--json").json()[0]["ref"]
    before = (_history_rows(cli), cli.ok("case", "show", ref, "--json").out)

    for command in (
        ["case", "advance", ref, "suspend", "--reason", "Pretending to be the sweep."],
        ["checkpoint", "waive", f"{ref}/Q1", "--reason", "As the sweep."],
        ["case", "show", ref],
        ["checkpoint", "list"],
    ):
        for name in ("system", "SYSTEM"):
            ran = cli(*command, "--as", name)
            assert ran.code == 1 and ran.out == "", (command, name)
            assert ran.err == (
                f"--as {name} was refused: 'system' is the sweep's name, and no person reads "
                "or acts as it. Give your own name.\n"
            )
    # The move it was (suspend) was the sweep's to make, and is still: nothing was written.
    assert (_history_rows(cli), cli.ok("case", "show", ref, "--json").out) == before


def test_spaces_around_a_pasted_reference_are_not_part_of_it(monitored):
    cli = monitored
    ref = cli.ok("case", "list", "--json").json()[0]["ref"]
    shown = cli.ok("case", "show", ref, "--json").out
    assert cli.ok("case", "show", f" {ref.lower()} ", "--json").out == shown
    assert cli.ok("checkpoint", "show", f" {ref}/Q1", "--json").json()["ref"] == f"{ref}/Q1"


def test_status_says_an_age_of_years_in_whole_days(monitored):
    # The monitored world's mail was queued in 2013: its age is years, read in days.
    ran = monitored("status")
    line = next(x for x in ran.out.splitlines() if x.startswith("outbox"))
    days = line.split("oldest queued ")[1].split(" days ago")[0]
    assert days.replace(",", "").isdigit() and int(days.replace(",", "")) > 4000
    assert " d ago" not in ran.out
