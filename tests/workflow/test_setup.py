"""`casework init`: any older database brought to the current schema, safely twice."""

import pytest
from alembic import command
from sqlalchemy import text

from workflow.services import lifecycle
from workflow.storage.db import make_engine
from workflow.errors import SetupError
from workflow.storage.schema import alembic_config, head_revisions, is_current
from workflow.services.setup import check_definitions, init


def back_to_before(conn, branch: str) -> None:
    """The schema as it was before `branch`'s revision, the other branches left applied."""
    command.downgrade(alembic_config(conn), "0009")  # undo 0010, the join, and any revision since
    command.downgrade(alembic_config(conn), f"{branch}@-1")


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
        conn.execute(
            text(
                "INSERT INTO organisations (code, name, email, kind) "
                "VALUES ('E06000049', 'Cheshire East', 'r@ce.example', 'council')"
            )
        )

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
    with pytest.raises(SetupError, match="cannot be reached .*Connection refused"):
        init(engine)


def test_a_case_records_the_definition_version_it_was_opened_under(world):
    w = world.cast()
    ref = w.bid()
    assert lifecycle.case_history(w.engine, ref)[0]["payload"] == {"definition_version": 1}


def test_the_organisations_a_case_involves_are_filled_in_for_cases_already_there(tmp_path):
    from tests.builders import World
    from workflow.services.lifecycle import list_cases

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    init(engine)
    World(engine).cast()
    with engine.begin() as conn:  # a database from before the table, with a case in it
        back_to_before(conn, "case_orgs")
        conn.execute(
            text(
                "INSERT INTO cases (ref, kind, programme, state, version, definition_version, title, "
                "lead, partners, amount_pence, application, at_risk, last_seq, last_hash, created_at, updated_at) "
                "VALUES ('TCA-2013-0009', 'bid', 'tca-2013', 'submitted', 1, 1, 't', 'E07000026', "
                "'[\"E07000028\"]', 10000000, '{}', 0, 0, '', '2013-04-01', '2013-04-01')"
            )
        )

    init(engine)

    assert [c["ref"] for c in list_cases(engine, org="E07000028")] == ["TCA-2013-0009"]
    assert [c["ref"] for c in list_cases(engine, org="E07000026")] == ["TCA-2013-0009"]
    assert list_cases(engine, org="E07000029") == []


def test_a_new_bid_is_found_by_its_lead_and_once_submitted_by_its_partners_but_no_one_else(world):
    from workflow.services.lifecycle import list_cases

    w = world.cast()
    ref = w.bid(partners=["E07000028"])
    assert list_cases(w.engine, org="E07000028") == []  # a draft is the lead council's alone

    w.advance(ref, "submit")

    assert [c["ref"] for c in list_cases(w.engine, org="E07000026")] == [ref]
    assert [c["ref"] for c in list_cases(w.engine, org="E07000028")] == [ref]
    assert list_cases(w.engine, org="E07000029") == []


def test_ledger_rows_from_before_the_running_balance_get_theirs_in_the_order_written(any_db):
    from tests.builders import World
    from tests.workflow.awarding import load_programme, offer, recommended, small_programme
    from workflow.services import programme_files

    w = World(any_db).cast()
    code = load_programme(w, small_programme("old-1", fund="2000000"))
    first, third = (recommended(w, amount=a, programme=code) for a in ("300000", "500000"))
    other = recommended(w, amount="200000")  # tca-2013: two programmes' rows
    for ref in (first, other, third):
        offer(w, ref)
    w.advance(first, "decline", by="cllr")
    with any_db.begin() as conn:  # a database from before the column, with those rows in it
        back_to_before(conn, "ledger_balance")
        third_id = conn.execute(text("SELECT id FROM cases WHERE ref = :r"), {"r": third}).scalar()

    init(any_db)

    with any_db.connect() as conn:
        assert conn.execute(
            text("SELECT programme, entry, balance_pence FROM ledger ORDER BY id")
        ).all() == [
            (code, "reserve", 30_000_000),
            ("tca-2013", "reserve", 20_000_000),
            (code, "reserve", 80_000_000),
            (code, "release", 50_000_000),
        ]
        assert programme_files.committed_pence(conn, code) == 50_000_000
        assert programme_files.committed_pence(conn, code, leave_out_case=third_id) == 0
    offer(w, recommended(w, amount="100000", programme=code))  # the next row carries on
    with any_db.connect() as conn:
        assert programme_files.committed_pence(conn, code) == 60_000_000


def test_the_tables_the_models_declare_are_the_tables_the_migrations_make(any_db):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from workflow.storage.tables import metadata  # every table, declared together

    with any_db.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), metadata
        )

    assert differences == []


def test_the_quick_schema_check_reads_what_alembic_reads(tmp_path):
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from workflow.storage.schema import current_revisions

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")

    def alembic_current():
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())

    assert head_revisions() == set(ScriptDirectory.from_config(alembic_config()).get_heads())
    assert current_revisions(engine) == alembic_current() == set()
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    assert current_revisions(engine) == alembic_current() == {"0001"}
    assert not is_current(engine)
    init(engine)
    assert current_revisions(engine) == alembic_current() == head_revisions()


def test_scores_from_before_setting_aside_keep_counting_and_stay_one_per_assessor(any_db):
    from sqlalchemy.exc import IntegrityError

    from tests.builders import World
    from tests.workflow.awarding import scored, under_assessment
    from workflow.services import assessment

    w = World(any_db).cast()
    ref = scored(w, under_assessment(w), marks=((5, 5, 5), (3, 3, 3)))
    with any_db.begin() as conn:  # a database from before the column, with those scores
        back_to_before(conn, "scores_set_aside")

    init(any_db)

    shown = assessment.assessment_of(any_db, ref)
    assert [(s["assessor"], s["counts"], s["set_aside_at"]) for s in shown["scores"]] == [
        ("ash", True, None),
        ("asha", True, None),
    ]
    assert shown["combined"] == "12.00"
    with pytest.raises(IntegrityError), any_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO scores (case_id, assessor, innovation, costs, savings, "
                "agreed, at) SELECT case_id, assessor, 1, 1, 1, agreed, at FROM scores "
                "WHERE assessor = 'ash'"
            )
        )
