"""The state machines are data: sound, complete, and drawn from themselves."""
import pytest

from states import DEFINITIONS
from states.roles import CASE_ROLES, ROLES
from states.rules import ACTOR_RULES, RULES
from workflow.services.engine import MACHINES, destination

ALL = list(DEFINITIONS.values())


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_definition_is_sound(definition):
    assert definition.problems(known_guards=set(RULES) | set(ACTOR_RULES),
                               known_roles=ROLES) == []


def test_a_definition_with_faults_names_every_one():
    from states.definition import Definition, T
    broken = Definition(kind="toy", initial="a", final={"z"}, transitions=[
        T("go", "a", "b", roles={"caseworker"}, guards=["has_2_scores"]),
        T("stop", "z", "a", roles={"wizard"}),
    ])
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
def test_the_shared_machine_agrees_with_the_definition_everywhere(definition):
    for state in definition.states:
        for trigger in definition.triggers:
            t = definition.find(trigger, state)
            assert destination(definition.kind, state, trigger) == (t.dest if t else None)


def test_one_machine_per_definition_is_built_once():
    assert set(MACHINES) == set(DEFINITIONS)
    assert all(not m.models for m in MACHINES.values())   # no case stays bound


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
    assert bid.find("withdraw", "ineligible") is None
    assert bid.find("withdraw", "rejected") is None
    assert bid.find("withdraw", "recommended") is not None
