"""Each definition's transitions Machine holds exactly what the definition declares.

The definition is the one declaration; its Machine (states/machine.py) is the
one decision of which trigger may fire from which state. These tests hold the
two in agreement, and hold the machine to being built once and shared.
"""

from __future__ import annotations

import threading

import pytest
from transitions import MachineError

import states.machine
from states import DEFINITIONS
from states.definition import Definition, T

ALL = list(DEFINITIONS.values())


class Passes:
    """A case bound for one move whose every check passes."""

    def __init__(self, state: str) -> None:
        self.state = state

    def may_act(self, event) -> bool:
        return True

    meets_actor_rules = has_reason = meets_rules = may_act


class RulesBroken(Passes):
    def meets_rules(self, event) -> bool:
        return False


def declared_moves(definition: Definition) -> dict[tuple[str, str], T]:
    moves: dict[tuple[str, str], T] = {}
    for t in definition.transitions:
        for s in t.sources:
            moves.setdefault((t.trigger, s), t)
    return moves


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_the_machine_has_the_definitions_states_and_no_helpers_of_its_own(definition):
    machine = definition.machine

    assert list(machine.states) == list(definition.states)
    assert {s for s, state in machine.states.items() if state.final} == set(definition.final)
    assert machine.initial == definition.initial
    assert machine.models == []  # shared: no case is ever added
    assert not [e for e in machine.events if e.startswith("to_")]  # auto_transitions=False
    assert list(machine.events) == list(definition.triggers)


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_every_declared_transition_fires_through_the_machine(definition):
    for (trigger, source), t in declared_moves(definition).items():
        bound = Passes(source)

        assert definition.machine.transition_for(trigger, source) is t
        assert definition.machine.fire(trigger, bound) is True, (trigger, source)
        assert bound.state == t.dest


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_the_machine_holds_no_transition_the_definition_does_not_declare(definition):
    declared = declared_moves(definition)
    held = [
        (trigger, t.source, t.dest)
        for trigger, event in definition.machine.events.items()
        for ts in event.transitions.values()
        for t in ts
    ]

    assert sorted((trigger, source) for trigger, source, _ in held) == sorted(declared)
    assert all(dest == declared[(trigger, source)].dest for trigger, source, dest in held)


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_a_trigger_not_declared_from_a_state_is_refused_by_the_machine(definition):
    declared = declared_moves(definition)
    for state in definition.states:
        for trigger in definition.triggers:
            if (trigger, state) in declared:
                continue
            bound = Passes(state)

            assert definition.machine.transition_for(trigger, state) is None
            assert definition.machine.fire(trigger, bound) is None
            with pytest.raises(MachineError):
                definition.machine.events[trigger].trigger(bound)
            assert bound.state == state


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_an_unknown_trigger_or_state_is_refused_by_the_machine(definition):
    assert definition.machine.fire("fly_to_the_moon", Passes(definition.initial)) is None
    assert definition.machine.transition_for("fly_to_the_moon", definition.initial) is None
    assert definition.machine.fire(definition.triggers[0], Passes("no_such_state")) is None


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_each_state_offers_what_the_definition_declares_from_it(definition):
    for state in definition.states:
        expected = [t for t in definition.transitions if state in t.sources]

        assert definition.machine.transitions_from(state) == expected


def test_a_refusing_condition_leaves_the_case_where_it_was():
    bid = DEFINITIONS["bid"]
    bound = RulesBroken("recommended")

    assert bid.machine.fire("offer", bound) is False
    assert bound.state == "recommended"


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_each_transitions_conditions_are_the_checks_it_declares(definition):
    for trigger, event in definition.machine.events.items():
        for held in (t for ts in event.transitions.values() for t in ts):
            t = held.declared
            expected = [
                "may_act",
                *(["meets_actor_rules"] if t.actor_rules else []),
                *(["has_reason"] if t.needs_reason else []),
                *(["meets_rules"] if t.guards else []),
            ]

            assert t.trigger == trigger and held.source in t.sources and held.dest == t.dest
            assert [c.func for c in held.conditions] == expected, trigger


def test_an_offer_is_judged_by_the_approvers_rules_and_the_programmes():
    [offer] = DEFINITIONS["bid"].machine.get_transitions("offer", source="recommended")

    assert [c.func for c in offer.conditions] == ["may_act", "meets_actor_rules", "meets_rules"]
    assert "within_fund" in offer.declared.guards


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.kind)
def test_the_machine_is_built_once_per_definition(definition):
    assert definition.machine is definition.machine
    assert len({id(d.machine) for d in ALL}) == len(ALL)


def test_two_threads_asking_for_a_new_definitions_machine_build_it_once(monkeypatch):
    built = []

    class Counted(states.machine.DefinitionMachine):
        def __init__(self, definition):
            built.append(definition.kind)
            super().__init__(definition)

    monkeypatch.setattr(states.machine, "DefinitionMachine", Counted)
    toy = Definition(
        kind="toy", initial="a", final={"z"}, transitions=[T("go", "a", "z", roles={"caseworker"})]
    )
    start = threading.Barrier(8)
    seen = []

    def ask():
        start.wait()
        seen.append(toy.machine)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert built == ["toy"]
    assert len({id(m) for m in seen}) == 1
    assert toy.machine is seen[0]


def test_a_definition_builds_no_machine_until_one_is_asked_for():
    toy = Definition(
        kind="toy", initial="a", final={"z"}, transitions=[T("go", "a", "z", roles={"caseworker"})]
    )

    assert toy._machine is None
    assert toy.machine.transition_for("go", "a") is toy.transitions[0]
    assert toy._machine is toy.machine
