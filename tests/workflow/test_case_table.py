"""`case list`'s table read from a SQLite file without SQLAlchemy (services.case_table) gives
the rows `reads.list_cases` gives, filter by filter; anything else is left to list_cases."""

from __future__ import annotations

import os
import sqlite3
import subprocess

import pytest

from tests.builders import World
from tests.cli.conftest import CASEWORK

from workflow.cli.case import LIST_COLUMNS
from workflow.errors import Malformed
from workflow.services import directory, lifecycle, reads
from workflow.services.case_table import table_rows
from workflow.storage.db import reading

# The fields of list_cases' rows that the command line's table shows (an area's money is its
# contribution).
SHOWN = (*LIST_COLUMNS, "contribution")
AREA_LEAD = "E08000003"


@pytest.fixture
def cases(world):
    return some_cases(world)


def some_cases(world):
    """Two bids (one submitted), a council's draft and a network area."""
    world.cast()
    world.org(AREA_LEAD, name="Manchester City Council")
    world.advance(world.bid(), "submit")
    world.bid(title="Shared legal services", amount="99000.50")
    # A council's draft, its title and amount not said yet.
    lifecycle.open_case(
        world.engine,
        "bid",
        {"programme": "tca-2013", "lead": "E07000026", "category": "shared_arrangement"},
        "cllr",
        draft=True,
    )
    area = {
        "programme": "pstn-2013",
        "title": "Greater Manchester public service reform",
        "lead": AREA_LEAD,
        "service_areas": ["troubled families"],
        "how_to_succeed": "A combined authority already pools budgets.",
        "partners": [{"name": "NHS Manchester", "evidence": "Board minute 12/3"}],
        "contribution": "50000",
    }
    lifecycle.open_case(world.engine, "area", area, "carol")
    return world


def expected(engine, **filters):
    rows = [{k: r[k] for k in SHOWN if k in r} for r in reads.list_cases(engine, **filters)]
    with reading(engine) as conn:
        names = {o["code"]: o["name"] for o in directory.list_orgs(conn)}
    return rows, names


FILTERS = [
    {},
    {"state": "draft"},
    {"state": "submitted", "kind": "bid"},
    {"kind": "area"},
    {"programme": "TCA-2013"},
    {"programme": "pstn-2013", "state": "draft"},
    {"programme": ""},
]


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_the_table_reads_what_the_list_of_cases_gives(cases, filters):
    rows, names = table_rows(str(cases.engine.url), **filters)

    assert (rows, names) == expected(cases.engine, **filters)
    assert rows


def test_a_file_with_no_log_is_read_as_it_stands_and_nothing_is_created(cases, tmp_path):
    want = expected(cases.engine)
    url = str(cases.engine.url)
    cases.engine.dispose()  # the log folded back in and removed
    before = sorted(p.name for p in tmp_path.iterdir())

    assert table_rows(url) == want
    assert sorted(p.name for p in tmp_path.iterdir()) == before == ["casework.db"]


def test_a_filter_naming_no_state_or_kind_is_refused_as_the_list_refuses_it(cases):
    url = str(cases.engine.url)
    for filters in ({"state": "sumbitted"}, {"kind": "bids"}, {"kind": "area", "state": "offered"}):
        with pytest.raises(Malformed) as listed:
            reads.list_cases(cases.engine, **filters)

        with pytest.raises(Malformed) as tabled:
            table_rows(url, **filters)

        assert str(tabled.value) == str(listed.value)


def test_an_empty_list_by_programme_is_left_to_the_list_of_cases_which_checks_the_code(cases):
    # (list_cases' caller then says whether the programme exists.)
    url = str(cases.engine.url)

    assert table_rows(url, programme="tca") is None
    assert table_rows(url, programme="tca-2013", state="closed") is None
    assert table_rows(url, state="closed") == expected(cases.engine, state="closed")
    assert table_rows(url, state="closed")[0] == []


def test_a_database_not_at_the_current_schema_is_left_to_the_usual_check(cases, tmp_path):
    with cases.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0009'")

    assert table_rows(str(cases.engine.url)) is None


def test_a_file_that_is_not_a_database_is_left_to_the_usual_read_which_explains_it(tmp_path):
    path = tmp_path / "casework.db"
    path.write_bytes(b"not a database at all, " * 100)

    assert table_rows(f"sqlite:///{path}") is None
    with pytest.raises(sqlite3.DatabaseError):  # what the usual read then meets, and says
        sqlite3.connect(path).execute("SELECT 1 FROM sqlite_master").fetchall()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://casework@127.0.0.1/casework",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:casework.db?mode=ro&uri=true",
        "sqlite:///no-such-folder/casework.db",
    ],
)
def test_any_other_database_is_read_through_the_list_of_cases(url):
    assert table_rows(url) is None


@pytest.mark.postgres
def test_the_table_printed_from_postgresql_is_the_one_printed_from_sqlite(sqlite_db, pg_db):
    # On PostgreSQL the command reads through list_cases (SQLAlchemy); on SQLite, without it.
    printed = []
    for engine in (sqlite_db, pg_db):
        some_cases(World(engine))
        url = engine.url.render_as_string(hide_password=False)
        ran = subprocess.run(
            [CASEWORK, "case", "list"],
            env={**os.environ, "CASEWORK_DB": url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert ran.returncode == 0, ran.stderr
        printed.append(ran.stdout)

    assert printed[0] == printed[1]
    assert "Network area" in printed[0] and "£99,000.50" in printed[0]
