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
