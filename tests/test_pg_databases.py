"""A PostgreSQL database a test has used is handed to the next one exactly as the template is, or
not at all (tests/pg_databases.py): the suite's isolation on PostgreSQL rests on it."""

from __future__ import annotations

import threading

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tests.builders import World
from tests.conftest import pg_url_for
from workflow.storage.db import make_engine

pytestmark = pytest.mark.postgres


def contents(pg_databases, name: str) -> dict[str, bytes | tuple]:
    """Every table's rows as COPY writes them, in order, and every sequence's position."""
    url = pg_url_for(name).replace("postgresql+psycopg://", "postgresql://", 1)
    seen: dict[str, bytes | tuple] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in pg_databases.tables:
            with conn.cursor().copy(f"COPY (SELECT * FROM {table} ORDER BY 1) TO STDOUT") as copy:
                seen[table] = b"".join(bytes(block) for block in copy)
        for seq in pg_databases.sequence_names:
            seen[seq] = conn.execute(f"SELECT last_value, is_called FROM {seq}").fetchone()
    return seen


def test_a_database_a_test_filled_is_handed_on_holding_the_templates_rows_alone(pg_databases):
    template = contents(pg_databases, pg_databases.template)
    name = pg_databases.take()
    engine = make_engine(pg_url_for(name))
    world = World(engine).cast()
    ref = world.bid()
    world.advance(ref, "submit", by="cllr")
    left_open = engine.connect()  # a connection the test forgot, mid-transaction
    left_open.execute(text("SELECT 1"))
    assert contents(pg_databases, name) != template
    pg_databases.give_back(name)

    again = pg_databases.take()
    assert again == name, pg_databases.not_reset  # reused, not cloned again
    assert contents(pg_databases, again) == template
    with pytest.raises(OperationalError, match="terminat"):  # the forgotten connection was ended
        left_open.execute(text("SELECT 1"))
    engine.dispose()
    pg_databases.give_back(again)


def test_a_database_whose_schema_a_test_changed_is_dropped_not_handed_on(pg_databases):
    name = pg_databases.take()
    engine = make_engine(pg_url_for(name))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE history DISABLE TRIGGER history_no_update"))
    engine.dispose()
    pg_databases.give_back(name)

    again = pg_databases.take()
    assert again != name
    engine = make_engine(pg_url_for(again))
    with engine.connect() as conn:
        enabled = conn.execute(
            text("SELECT tgenabled FROM pg_trigger WHERE tgname = 'history_no_update'")
        ).scalar()
        gone = conn.execute(
            text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
    assert (enabled, gone) == ("O", 0)
    engine.dispose()
    pg_databases.give_back(again)


def test_a_session_still_writing_when_the_test_ends_is_ended_before_the_next_test(pg_databases):
    name = pg_databases.take()
    engine = make_engine(pg_url_for(name))
    World(engine).cast()
    writing, stop = threading.Event(), threading.Event()

    def stray() -> None:  # a thread the test did not stop, holding its own connection
        with engine.connect() as conn:
            writing.set()
            while not stop.wait(0.01):
                try:
                    conn.execute(text("UPDATE people SET email = 'x@y.z'"))
                    conn.commit()
                except Exception:
                    return

    thread = threading.Thread(target=stray, daemon=True)
    thread.start()
    writing.wait(10)
    pg_databases.give_back(name)
    again = pg_databases.take()
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM people")).scalar() == 0
    finally:
        stop.set()
        thread.join(10)
        engine.dispose()
        pg_databases.give_back(again)


def test_a_scene_built_once_is_put_in_a_later_tests_database_without_building_it_again(
    pg_databases, built_once
):
    built = []

    def build(engine) -> str:
        world = World(engine).cast()
        built.append(world.bid())
        return built[-1]

    first = pg_databases.take()
    engine = make_engine(pg_url_for(first))
    engine.test_databases, engine.test_database = pg_databases, first
    assert built_once.into(engine, "pg-databases-scene", build) == "TCA-2013-0001"
    engine.dispose()
    scene = contents(pg_databases, first)
    pg_databases.give_back(first)

    later = pg_databases.take()
    engine = make_engine(pg_url_for(later))
    engine.test_databases, engine.test_database = pg_databases, later
    World(engine).person("someone")  # what the test's own fixtures wrote before
    assert built_once.into(engine, "pg-databases-scene", build) == "TCA-2013-0001"
    assert (built, contents(pg_databases, later)) == (["TCA-2013-0001"], scene)
    engine.dispose()
    pg_databases.give_back(later)
