"""The state machines are data: sound, complete, and drawn from themselves."""

import pytest

from states import DEFINITIONS
from states.roles import CASE_ROLES, ROLES
from states.rules import ACTOR_RULES, RULES
from workflow.services.effects import EFFECTS, RECORDS, WRITE_LEDGER
from notifications.kinds import KINDS

ALL = list(DEFINITIONS.values())


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_definition_is_sound(definition):
    assert (
        definition.problems(
            known_guards=set(RULES) | set(ACTOR_RULES),
            known_roles=ROLES,
            known_effects=EFFECTS,
            known_records=RECORDS,
            known_notices=KINDS,
        )
        == []
    )


def test_a_definition_with_faults_names_every_one():
    from states.definition import Definition, T

    broken = Definition(
        kind="toy",
        initial="a",
        final={"z"},
        transitions=[
            T("go", "a", "b", roles={"caseworker"}, guards=["has_2_scores"]),
            T("stop", "z", "a", roles={"wizard"}),
        ],
    )
    problems = broken.problems(known_guards=RULES, known_roles=ROLES)
    assert "toy: guard 'has_2_scores' is not a known rule" in problems
    assert "toy: role 'wizard' on 'stop' is not a known role" in problems
    assert "toy: 'stop' leaves final state 'z'" in problems
    assert "toy: 'b' cannot reach a final state" in problems


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_only_case_roles_fire_triggers(definition):
    for t in definition.transitions:
        assert t.roles <= CASE_ROLES, t.trigger


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_the_machine_answers_every_move_from_the_definitions_transitions(definition):
    # The one decision of "may this trigger fire from this state" is the definition's
    # transitions Machine (states/machine.py; workflow.services.engine.plan fires it).
    for state in definition.states:
        for trigger in definition.triggers:
            defined = [
                t for t in definition.transitions if t.trigger == trigger and state in t.sources
            ]
            assert definition.machine.transition_for(trigger, state) == (
                defined[0] if defined else None
            )


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_only_a_move_that_says_it_moves_funds_writes_the_ledger(definition):
    for t in definition.transitions:
        assert t.moves_funds == bool(WRITE_LEDGER & set(t.effects)), t.trigger


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_the_diagram_shows_every_transition_with_its_roles(definition):
    diagram = definition.mermaid()
    assert diagram.startswith("stateDiagram-v2")
    for t in definition.transitions:
        for s in t.sources:
            assert f"{s} --> {t.dest}: {t.trigger}" in diagram
    for s in definition.final:
        assert f"{s} --> [*]" in diagram


def test_bids_cannot_be_withdrawn_once_ineligible_or_rejected():
    bid = DEFINITIONS["bid"]
    assert bid.machine.transition_for("withdraw", "ineligible") is None
    assert bid.machine.transition_for("withdraw", "rejected") is None
    assert bid.machine.transition_for("withdraw", "recommended") is not None
