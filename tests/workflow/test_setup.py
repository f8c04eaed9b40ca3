"""`casework init`: any older database brought to the current schema, safely twice."""
import pytest
from alembic import command
from sqlalchemy import text

from workflow import cases
from workflow.db import make_engine
from workflow.errors import SetupError
from workflow.schema import alembic_config, head_revisions, is_current
from workflow.setup import check_definitions, init


def test_init_on_an_empty_database_loads_both_programmes_and_is_safe_twice(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")

    first = init(engine)
    second = init(engine)

    assert {p["code"] for p in first["programmes"]} == {"tca-2013", "pstn-2013"}
    assert all(p["new"] for p in first["programmes"])
    assert not any(p["new"] for p in second["programmes"])
    assert is_current(engine)


def test_a_database_made_at_the_first_revision_upgrades_with_its_data(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(text("INSERT INTO organisations (code, name, email, kind) "
                          "VALUES ('E06000049', 'Cheshire East', 'r@ce.example', 'council')"))

    init(engine)

    assert is_current(engine) and head_revisions()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM organisations")).scalar() == "Cheshire East"


def test_a_case_in_a_state_its_definition_no_longer_has_stops_the_load(world):
    w = world.cast()
    ref = w.bid()
    with w.engine.begin() as conn:
        conn.execute(text("UPDATE cases SET state = 'shortlisted' WHERE ref = :r"), {"r": ref})

    with pytest.raises(SetupError, match=f"{ref} \\(shortlisted"):
        check_definitions(w.engine)


def test_a_database_that_cannot_be_opened_is_a_clear_refusal(tmp_path):
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(SetupError, match="cannot be opened"):
        init(engine)


def test_a_case_records_the_definition_version_it_was_opened_under(world):
    w = world.cast()
    ref = w.bid()
    assert cases.case_history(w.engine, ref)[0]["payload"] == {"definition_version": 1}


def test_the_organisations_a_case_involves_are_filled_in_for_cases_already_there(tmp_path):
    from tests.builders import World
    from workflow.cases import list_cases
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    init(engine)
    World(engine).cast()
    with engine.begin() as conn:   # a database from before the table, with a case in it
        command.downgrade(alembic_config(conn), "case_orgs@-1")
        conn.execute(text(
            "INSERT INTO cases (ref, kind, programme, state, version, definition_version, title, "
            "lead, partners, amount_pence, application, at_risk, last_seq, last_hash, created_at, updated_at) "
            "VALUES ('TCA-2013-0009', 'bid', 'tca-2013', 'draft', 1, 1, 't', 'E07000026', "
            "'[\"E07000028\"]', 10000000, '{}', 0, 0, '', '2013-04-01', '2013-04-01')"))

    init(engine)

    assert [c["ref"] for c in list_cases(engine, org="E07000028")] == ["TCA-2013-0009"]
    assert [c["ref"] for c in list_cases(engine, org="E07000026")] == ["TCA-2013-0009"]
    assert list_cases(engine, org="E07000029") == []


def test_a_new_bid_is_found_by_its_lead_and_its_partners_but_no_one_else(world):
    from workflow.cases import list_cases
    w = world.cast()
    ref = w.bid(partners=["E07000028"])

    assert [c["ref"] for c in list_cases(w.engine, org="E07000026")] == [ref]
    assert [c["ref"] for c in list_cases(w.engine, org="E07000028")] == [ref]
    assert list_cases(w.engine, org="E07000029") == []
