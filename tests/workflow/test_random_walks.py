"""Any sequence of triggers and hand-overs, by anyone, leaves state and history consistent."""

import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from states import BID
from workflow.services import assignment, lifecycle
from workflow.storage.db import make_engine
from workflow.errors import CaseworkError
from workflow.services.chain import verify

PEOPLE = ["carol", "ash", "april", "audrey", "cllr"]


@pytest.fixture(scope="module")
def seeded(sqlite_template, tmp_path_factory):
    """A template with the cast in it, copied fresh for every example."""
    from tests.builders import World

    path = tmp_path_factory.mktemp("walks") / "cast.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    World(engine).cast().person("cath", "caseworker")
    engine.dispose()
    return path


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from([*BID.triggers, "assign", "diligence"]), st.sampled_from(PEOPLE)),
        max_size=25,
    )
)
def test_any_walk_keeps_state_history_and_chain_consistent(seeded, tmp_path_factory, steps):
    path = tmp_path_factory.mktemp("walk") / "w.db"
    shutil.copy(seeded, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        from tests.builders import World

        world = World(engine)
        ref = world.bid()
        state, moves, caseworker = "draft", 0, "carol"
        for trigger, person in steps:
            if trigger == "diligence":  # due diligence recorded: rows, never a state
                world.pass_diligence(ref, by=person)
                assert lifecycle.show(engine, ref)["state"] == state
                continue
            if trigger == "assign":  # a hand-over changes the caseworker, never the state
                to = "cath" if caseworker == "carol" else "carol"
                try:
                    caseworker = assignment.assign(engine, ref, to, person)["caseworker"]
                    moves += 1
                except CaseworkError:
                    pass
                assert lifecycle.show(engine, ref)["state"] == state
                continue
            try:
                after = lifecycle.advance(engine, ref, trigger, person, reason="because")
            except CaseworkError:
                assert lifecycle.show(engine, ref)["state"] == state  # refused: nothing moved
                continue
            t = BID.machine.transition_for(trigger, state)
            assert t is not None and after["state"] == t.dest
            state, moves = after["state"], moves + 1

        rows = lifecycle.case_history(engine, ref)
        assert len([r for r in rows if r["trigger"] != "diligence"]) == moves + 1
        assert rows[-1]["to_state"] == state
        assert all(b["from_state"] == a["to_state"] for a, b in zip(rows, rows[1:]))
        assert lifecycle.show(engine, ref)["version"] == moves + 1
        assert lifecycle.show(engine, ref)["caseworker"] == caseworker
        with engine.connect() as conn:
            assert verify(conn).ok
    finally:
        engine.dispose()
