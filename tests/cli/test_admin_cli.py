"""Administration on the command line: each change one row of the admin log (`audit admin`)."""

from __future__ import annotations

import re


def _cast(cli):
    cli.ok("org", "add", "E07000026", "--name", "Allerdale", "--email", "a@allerdale.gov.uk")
    cli.ok("user", "add", "april", "--role", "approver")
    cli.ok("user", "add", "carol", "--role", "caseworker")
    cli.ok("user", "add", "ada", "--role", "admin")


def _log(cli) -> list[dict]:
    return cli.ok("audit", "admin", "--json").json()


def test_each_command_writes_one_row_with_before_and_after(cli):
    _cast(cli)
    steps = [
        (
            ("org", "update", "E07000026", "--esg-allocation", "12000"),
            "org_update",
            "E07000026",
            {"esg_allocation": None},
            {"esg_allocation": "12000.00"},
        ),
        (
            ("user", "roles", "carol", "--add", "assessor"),
            "user_roles",
            "carol",
            {"roles": ["caseworker"]},
            {"roles": ["assessor", "caseworker"]},
        ),
        (("user", "disable", "carol"), "user_disable", "carol", {"disabled_at": None}, None),
        (("user", "enable", "carol"), "user_enable", "carol", None, {"disabled_at": None}),
        (
            ("programme", "sro", "tca-2013", "april"),
            "programme_sro",
            "tca-2013",
            {"sro": None},
            {"sro": "april"},
        ),
    ]
    for args, action, target, before, after in steps:
        count = len(_log(cli))
        cli.ok(*args)
        rows = _log(cli)
        assert len(rows) == count + 1, args
        row = rows[-1]
        assert (row["action"], row["target"], row["role"]) == (action, target, "operator")
        if before is not None:
            assert row["before"] == before
        if after is not None:
            assert row["after"] == after
        assert row["before"] != row["after"]

    shown = cli.ok("audit", "admin", "--target", "E07000026").out
    assert "Organisation changed" in shown and "ESG allocation £12,000" in shown
    assert "programme_sro" not in cli.ok("audit", "admin").out  # words, not codes
    assert cli.ok("audit", "verify").code == 0


def test_a_changed_programme_file_is_a_row_and_the_same_file_again_is_none(cli):
    from workflow.services.programme_files import bundled_sources

    name, source = next(s for s in bundled_sources() if s[0] == "tca-2013.toml")
    path = cli.write(name, source)
    count = len(_log(cli))
    assert cli.ok("programme", "load", path).out.strip() == "programme tca-2013 unchanged"
    assert len(_log(cli)) == count

    cli.write(name, source.replace('fund = "9000000"', 'fund = "9500000"'))
    assert cli.ok("programme", "load", path).out.strip() == "programme tca-2013 updated"
    row = _log(cli)[-1]
    assert (row["action"], row["before"]["values"], row["after"]["values"]) == (
        "programme_load",
        {"fund": "9000000"},
        {"fund": "9500000"},
    )


def test_refusals_exit_1_naming_why_and_write_nothing(cli):
    _cast(cli)
    count = len(_log(cli))
    for args, words in [
        (
            ("org", "update", "E99999999", "--name", "Nowhere"),
            "There is no organisation 'E99999999'",
        ),
        (("user", "disable", "ada"), "ada is the last admin who can act"),
        (("user", "roles", "ada", "--remove", "admin"), "ada is the last admin who can act"),
        (("programme", "sro", "tca-2013", "carol"), "must be a person with role approver"),
        (("user", "disable", "nobody"), "nobody"),
        (  # a mistyped filter is refused, not an empty log
            ("audit", "admin", "--action", "org_updat"),
            "Organisation changed (org_update), Person added (user_add),",
        ),
        (  # a target that names nothing, rather than a log with no change to it
            ("audit", "admin", "--target", "E0700026"),
            "There is no organisation, person or programme 'E0700026'",
        ),
    ]:
        ran = cli(*args)
        assert ran.code == 1 and words in ran.err, (args, ran.err)
    assert len(_log(cli)) == count


def test_a_disabled_person_cannot_act_on_the_command_line(cli):
    _cast(cli)
    cli.ok("user", "disable", "carol")
    ran = cli("case", "list", "--as", "carol")
    assert ran.code == 1
    assert "carol is disabled, so they cannot sign in, use an API token or act" in ran.err
    assert [
        u["disabled"] for u in cli.ok("user", "list", "--json").json() if u["name"] == "carol"
    ] == [True]


def test_programme_show_and_status_say_when_there_is_no_sro(cli):
    assert re.search(
        r"^sro +none named \(casework programme sro CODE NAME\)$",
        cli.ok("programme", "show", "tca-2013").out,
        re.M,
    )
    assert cli.ok("programme", "show", "tca-2013", "--json").json()["sro"] is None
    status = cli("status")
    assert "SRO          none named for pstn-2013, tca-2013" in status.out
    _cast(cli)
    cli.ok("programme", "sro", "tca-2013", "april")
    assert cli("status", "--json").json()["programmes_without_sro"] == ["pstn-2013"]
    assert cli.ok("programme", "show", "tca-2013", "--json").json()["sro"] == "april"


def test_audit_verify_finds_a_tampered_admin_row(cli):
    from tests.workflow import tamper
    from workflow.storage.db import make_engine

    _cast(cli)
    cli.ok("user", "roles", "carol", "--add", "assessor")
    last = _log(cli)[-1]["id"]
    engine = make_engine(cli.url)
    tamper.rewrite_admin_row(engine, last, rechain=False)
    engine.dispose()

    ran = cli("audit", "verify")

    assert ran.code == 1
    assert f"admin log: row {last} does not match its hash" in ran.out
    assert ran.out.strip().endswith("1 broken")
    assert cli("audit", "verify", "--json").json()["admin_log"]["problems"] == [
        f"admin log: row {last} does not match its hash"
    ]
