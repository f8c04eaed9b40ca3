"""`case amend` and `case show --version N` through the real command."""

import json

import pytest

from tests.builders import World
from tests.cli.test_case_cli import BID


@pytest.fixture
def c(cli):
    from workflow.services import directory
    from workflow.storage.db import make_engine

    engine = make_engine(cli.url)
    with engine.begin() as conn:
        for code, name in [
            ("E07000026", "Allerdale"),
            ("E07000028", "Carlisle"),
            ("E07000029", "Copeland"),
            ("E07000030", "Eden"),
        ]:
            directory.add_org(conn, code, name=name, email=f"returns@{code.lower()}.example.gov.uk")
        directory.add_user(conn, "carol", roles=["caseworker"], email="carol@example.gov.uk")
        directory.add_user(conn, "cllr", roles=["council"], org="E07000026")
        directory.add_user(conn, "nell", roles=["council"], org="E07000030")
    cli.snapshot = lambda: World(engine).snapshot()
    yield cli
    engine.dispose()


def _open(c) -> str:
    return c.ok(
        "case", "open", "bid", "--from-file", c.write("a.json", json.dumps(BID)), "--as", "cllr"
    ).out.strip()


def test_an_amendment_is_the_next_version_and_version_1_still_shows_the_original(c):
    ref = _open(c)
    changed = {**BID, "amount": "240000", "title": "Joint procurement hub for four"}
    ran = c.ok(
        "case",
        "amend",
        ref,
        "--from-file",
        c.write("b.toml", "\n".join(f"{k} = {json.dumps(v)}" for k, v in changed.items())),
        "--as",
        "cllr",
        "--reason",
        "A fourth district joined.",
    )
    assert ran.out.strip() == f"{ref}: application version 2 (changed: title, amount)"

    first = c.ok("case", "show", ref, "--version", "1", "--json").json()
    assert first["application"]["amount"] == "250000.00"
    assert first["application"]["title"] == "Joint procurement hub"
    assert first["application_version"]["version"] == 1
    assert first["application_version"]["latest"] == 2
    now = c.ok("case", "show", ref, "--json").json()
    assert now["application"]["amount"] == "240000.00" and now["amount"] == "240000.00"
    second = c.ok("case", "show", ref, "--version", "2").out
    assert "application version  2 of 2, by cllr" in second
    assert "changed then" in second and "title, amount" in second
    history = c.ok("case", "history", ref, "--json").json()
    assert history[-1]["trigger"] == "amend"
    assert history[-1]["payload"]["changed"] == ["title", "amount"]
    # People read which version the amendment made and what it changed, in words.
    said = " ".join(c.ok("case", "history", ref).out.split())
    assert "Application amended: version 2, Title, Amount asked for" in said.replace(" │", "")
    assert c.ok("audit", "verify").out.strip().endswith("0 broken")


def test_refusals_say_why_and_write_nothing(c):
    ref = _open(c)
    doc = c.write("b.json", json.dumps({**BID, "amount": "1000"}))
    before = c.snapshot()
    other = c("case", "amend", ref, "--from-file", doc, "--as", "nell")
    assert other.code == 1 and f"There is no case {ref}." in other.err
    bad = c(
        "case",
        "amend",
        ref,
        "--from-file",
        c.write("c.json", json.dumps({**BID, "amount": "£1,000"})),
        "--as",
        "cllr",
    )
    assert bad.code == 1 and "amount:" in bad.err
    missing = c("case", "show", ref, "--version", "3")
    assert missing.code == 1 and "has no application version 3" in missing.err
    assert c.snapshot() == before
    c.ok("case", "advance", ref, "submit", "--as", "cllr")
    before = c.snapshot()
    late = c("case", "amend", ref, "--from-file", doc, "--as", "cllr")
    assert late.code == 1 and "cannot be amended" in late.err
    assert c.snapshot() == before


def test_if_version_refuses_an_amendment_made_from_a_stale_read_as_if_match_does(c):
    ref = _open(c)
    seen = c.ok("case", "show", ref, "--json").json()["version"]
    first = c.write("b.json", json.dumps({**BID, "amount": "240000"}))
    c.ok("case", "amend", ref, "--from-file", first, "--as", "carol", "--if-version", str(seen))
    before = c.snapshot()

    # The council read the case before the caseworker's amendment: its change is refused.
    stale = c(
        "case",
        "amend",
        ref,
        "--from-file",
        c.write("c.json", json.dumps({**BID, "amount": "230000"})),
        "--as",
        "cllr",
        "--if-version",
        str(seen),
    )

    assert stale.code == 1
    assert (
        f"{ref} has changed since you looked at it (version {seen + 1}, not {seen})" in stale.err
        and "nothing of yours was written" in stale.err
    )
    assert c.snapshot() == before
    again = c.ok(
        "case",
        "amend",
        ref,
        "--from-file",
        c.write("d.json", json.dumps({**BID, "amount": "230000"})),
        "--as",
        "cllr",
        "--if-version",
        str(seen + 1),
        "--json",
    ).json()
    assert again["application_version"] == 3 and again["version"] == seen + 2
    after = c.snapshot()
    bad = c("case", "amend", ref, "--from-file", first, "--as", "cllr", "--if-version", "0")
    assert bad.code != 0 and c.snapshot() == after  # typer refuses 0 before anything runs
