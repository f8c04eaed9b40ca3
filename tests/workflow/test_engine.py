"""engine.plan asks the definition's transitions Machine, and tells its refusals in words.

A toy definition (with rules of its own) keeps these about the engine alone:
the programmes' rules and the real definitions are tested with the cases.
"""

from __future__ import annotations

import pytest

from states.definition import Definition, T
from states.facts import Facts
from workflow.errors import GuardFailed, InvalidTransition, PermissionDenied, ReasonRequired
from workflow.services.engine import Actor, allowed_triggers, plan

RULES = {
    "has_a_title": lambda facts: [] if facts.application else ["it has no title yet"],
    "is_costed": lambda facts: [] if facts.application else ["it names no amount"],
}
ACTOR_RULES = {"not_the_author": lambda facts: ["they wrote it"] if facts.actor == "ann" else []}
CASEWORKER = Actor("cas", frozenset({"caseworker"}))
COUNCIL = Actor("col", frozenset({"council"}), org="E1")


def toy() -> Definition:
    return Definition(
        kind="toy",
        initial="draft",
        final={"done", "dropped"},
        transitions=[
            T("send", "draft", "sent", roles={"council"}),
            T(
                "approve",
                "sent",
                "done",
                roles={"caseworker"},
                guards=["has_a_title", "is_costed"],
                actor_rules=["not_the_author"],
            ),
            T("drop", ("draft", "sent"), "dropped", roles={"caseworker"}, needs_reason=True),
        ],
    )


def facts(**given) -> Facts:
    return Facts(kind="toy", ref="TOY-1", programme=None, **{"actor": "cas", **given})


def planned(definition, state, trigger, actor=CASEWORKER, *, reason=None, facts=None):
    return plan(
        definition,
        "TOY-1",
        state,
        trigger,
        actor,
        lead="E1",
        reason=reason,
        facts=facts,
        rules=RULES,
        actor_rules=ACTOR_RULES,
    )


def test_a_declared_move_is_planned_to_its_destination_by_the_machine():
    definition = toy()

    move = planned(definition, "sent", "approve", facts=facts(application=object()))

    assert (move.source, move.dest, move.role) == ("sent", "done", "caseworker")
    assert move.transition is definition.transitions[1]


def test_a_move_the_machine_no_longer_holds_is_refused_though_the_data_declares_it():
    definition = toy()
    definition.machine.remove_transition("drop", source="sent")

    with pytest.raises(InvalidTransition) as refused:
        planned(definition, "sent", "drop", reason="duplicate")

    assert refused.value.allowed == ("approve",)
    assert str(refused.value) == ("TOY-1 is Sent, so it cannot be 'Drop'. Allowed now: Approve.")
    assert planned(definition, "draft", "drop", reason="duplicate").dest == "dropped"


def test_a_trigger_not_declared_from_the_state_is_refused_with_what_is_allowed():
    with pytest.raises(
        InvalidTransition, match="TOY-1 is Draft, so it cannot be 'Approve'. Allowed now: Drop."
    ):
        planned(toy(), "draft", "approve")


def test_a_person_without_the_role_is_refused_before_any_rule_is_weighed():
    with pytest.raises(
        PermissionDenied,
        match=r"col \(council\) may not do 'Approve' on TOY-1: "
        r"only a caseworker may\.",
    ):
        planned(toy(), "sent", "approve", COUNCIL, facts=facts())


def test_the_rules_about_the_person_are_a_permission_matter():
    with pytest.raises(PermissionDenied, match="they wrote it"):
        planned(toy(), "sent", "approve", facts=facts(actor="ann"))


def test_a_move_that_needs_a_reason_is_refused_without_one():
    with pytest.raises(ReasonRequired, match="'Drop' on TOY-1 needs a reason: say why."):
        planned(toy(), "sent", "drop", reason="  ")


def test_every_broken_rule_is_told_at_once_and_the_case_does_not_move():
    with pytest.raises(GuardFailed) as refused:
        planned(toy(), "sent", "approve", facts=facts(actor="cas"))

    assert refused.value.violations == ("it has no title yet", "it names no amount")
    assert str(refused.value) == (
        "TOY-1 cannot be 'Approve': it has no title yet; it names no amount."
    )


def test_without_facts_only_who_may_is_planned():
    assert planned(toy(), "sent", "approve").dest == "done"


def test_what_is_allowed_now_is_what_the_machine_holds_for_the_person():
    definition = toy()

    assert allowed_triggers(definition, "draft", COUNCIL, "E1") == ["send"]
    assert allowed_triggers(definition, "draft", CASEWORKER, "E1") == ["drop"]
    assert allowed_triggers(definition, "draft", None, None) == ["drop", "send"]
    assert allowed_triggers(definition, "done", None, None) == []
