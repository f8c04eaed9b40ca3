"""`casework programme load FILE`: a file with a mistake is refused naming the field; nothing loads."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from workflow.storage.db import make_engine, reading
from workflow.storage.tables import programmes as programmes_t

GOOD = """
code = "tca-2014"
name = "Transformation Challenge Award 2014"
kind = "bids"
fund = "5000000"
score_tolerance = 2

[criteria.innovation]
weight = 2

[categories.shared_arrangement]
min = "50000"
max = "500000"
max_count = 20

[categories.esg_top_up]
esg_share = 0.25
max_count = 7
"""

# (what is wrong, the text to swap in for the good one, what the refusal must say)
MISTAKES = [
    ("no code", ('code = "tca-2014"\n', ""), "code: missing"),
    ("no fund", ('fund = "5000000"\n', ""), "fund: missing"),
    (
        "a pound sign in the fund",
        ('fund = "5000000"', 'fund = "£5,000,000"'),
        "fund: '£5,000,000' is not an amount in pounds",
    ),
    (
        "a float with three decimals",
        ('fund = "5000000"', "fund = 5000000.001"),
        "fund: '5000000.001' is not an amount in pounds",
    ),
    (
        "an unknown kind",
        ('kind = "bids"', 'kind = "grants"'),
        "kind: 'grants' is not bids or areas",
    ),
    ("a band with no max", ('max = "500000"\n', ""), "categories.shared_arrangement.max: missing"),
    (
        "a band upside down",
        ('min = "50000"', 'min = "600000"'),
        "categories.shared_arrangement.min: £600,000 is above max £500,000",
    ),
    (
        "a category with no count",
        ("max_count = 20\n", ""),
        "categories.shared_arrangement.max_count: missing",
    ),
    (
        "an ESG share over the whole",
        ("esg_share = 0.25", "esg_share = 1.25"),
        "categories.esg_top_up.esg_share: 1.25 is not a share above 0 and at most 1",
    ),
    (
        "a negative weight",
        ("weight = 2", "weight = -2"),
        "criteria.innovation.weight: -2 is below 0",
    ),
    (
        "an unknown field",
        ("score_tolerance = 2", "score_tolerance = 2\nbudget = 3"),
        "budget: unknown field",
    ),
    ("not TOML at all", ("[criteria.innovation]", "[criteria.innovation"), "not valid TOML"),
]


@pytest.fixture
def programmes(cli):
    """Every programme row as stored (read directly: one subprocess per test is enough)."""
    engine = make_engine(cli.url)

    def rows():
        with reading(engine) as conn:
            return [
                tuple(r) for r in conn.execute(select(programmes_t).order_by(programmes_t.c.code))
            ]

    yield rows
    engine.dispose()


@pytest.mark.parametrize("mistake, swap, message", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_a_programme_file_with_a_mistake_is_refused_naming_the_field(
    cli, programmes, mistake, swap, message
):
    old, new = swap
    assert old in GOOD
    path = cli.write("round.toml", GOOD.replace(old, new, 1))
    before = programmes()

    ran = cli("programme", "load", path)

    assert ran.code == 1, ran.out
    assert message in ran.err
    assert "round.toml" in ran.err
    assert programmes() == before


def test_every_mistake_in_a_file_is_named_at_once(cli, programmes):
    path = cli.write(
        "round.toml",
        GOOD.replace('fund = "5000000"', 'fund = "5m"')
        .replace("max_count = 20", "max_count = -1")
        .replace('kind = "bids"', 'kind = "grant"'),
    )

    ran = cli("programme", "load", path)

    assert ran.code == 1
    for field in ("fund: '5m'", "kind: 'grant'", "categories.shared_arrangement.max_count: -1"):
        assert field in ran.err


def test_a_good_file_adds_another_round_that_bids_can_be_ranked_in(cli, programmes):
    ran = cli.ok("programme", "load", cli.write("round.toml", GOOD))

    assert ran.out.strip() == "programme tca-2014 loaded"
    listed = cli.ok("programme", "list", "--json").json()
    assert [p for p in listed if p["code"] == "tca-2014"] == [
        {
            "code": "tca-2014",
            "name": "Transformation Challenge Award 2014",
            "kind": "bids",
            "fund": "5000000.00",
            "committed": "0.00",
            "remaining": "5000000.00",
            "sro": None,
            "paid": "0.00",
            "recovering": "0.00",
        }
    ]
    assert cli.ok("programme", "ranking", "tca-2014", "--json").json() == []


def test_a_mistaken_update_leaves_the_rules_in_force_as_they_were(cli):
    before = cli.ok("programme", "show", "tca-2013", "--json").json()
    broken = before["source"].replace("max_count = 4", 'max_count = "four"')

    ran = cli("programme", "load", cli.write("tca-2013.toml", broken))

    assert ran.code == 1
    assert "categories.single_operation.max_count: 'four' is not a whole number" in ran.err
    assert cli.ok("programme", "show", "tca-2013", "--json").json() == before


def test_init_keeps_a_programme_an_administrator_loaded_and_says_so(cli):
    """`init` is run again at every upgrade: it must not put the bundled rules back over a
    file an administrator loaded, even one saved under the bundled file's name."""
    source = cli.ok("programme", "show", "tca-2013", "--json").json()["source"]
    cli.ok(
        "programme",
        "load",
        cli.write("tca-2013.toml", source.replace('fund = "9000000"', 'fund = "9500000"')),
    )

    again = cli.ok("init")
    as_json = cli.ok("init", "--json").json()

    assert "programme tca-2013 kept as " in again.out
    assert "not replaced by the bundled tca-2013.toml" in again.out
    assert "programme pstn-2013 up to date (pstn-2013.toml)" in again.out
    kept = {p["code"]: p["kept"] for p in as_json["programmes"]}
    assert kept["pstn-2013"] is None and kept["tca-2013"]["actor"]
    assert cli.ok("programme", "show", "tca-2013", "--json").json()["fund"] == "9500000.00"


def test_init_takes_the_bundled_file_again_when_no_administrator_replaced_it(cli):
    before = cli.ok("programme", "show", "tca-2013", "--json").json()

    again = cli.ok("init")

    assert "programme tca-2013 up to date (tca-2013.toml)" in again.out
    assert cli.ok("programme", "show", "tca-2013", "--json").json() == before
