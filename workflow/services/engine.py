"""The pure planning of a move: may this person fire this trigger on this case now?

`plan` answers "may this person fire this trigger on this case now, and where
does it lead?" without touching the database: InvalidTransition,
PermissionDenied, ReasonRequired or GuardFailed, or a `Move`.

The definition's `transitions` Machine decides (`definition.machine`, built
once per definition from its data, states.machine): `plan` binds the case to
it for this one move (a `_Bound` carrying its state, the person, the reason
and the facts) and fires the trigger. The machine refuses a trigger that no
transition defines from the state; its transition's conditions, judged here
by the bound case, refuse the person, a missing reason or a broken rule, and
the refusal is told in a caseworker's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, cast

from states import Definition, T
from states.roles import ROLE_PREFERENCE
from states.words import one_of

if TYPE_CHECKING:
    from transitions import EventData

    from states.facts import Facts
    from states.machine import DeclaredTransition
    from states.rules import Rule
from workflow.errors import (
    CaseworkError,
    GuardFailed,
    InvalidTransition,
    PermissionDenied,
    ReasonRequired,
)


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[str]
    org: str | None = None

    @classmethod
    def system(cls) -> "Actor":
        return cls("system", frozenset({"system"}))


@dataclass(frozen=True)
class Move:
    trigger: str
    source: str
    dest: str
    role: str
    transition: T


def acting_role(t: T, actor: Actor, lead: str | None) -> str | None:
    """The capacity in which `actor` may fire `t` on a case led by `lead`, if any."""
    for role in ROLE_PREFERENCE:
        if role not in t.roles or role not in actor.roles:
            continue
        if role == "council" and t.lead_only and (actor.org is None or actor.org != lead):
            continue
        return role
    return None


def allowed_triggers(
    definition: Definition, state: str, actor: Actor | None, lead: str | None
) -> list[str]:
    """Triggers defined from `state` that `actor` may fire (guards are not run)."""
    out = []
    for t in definition.machine.transitions_from(state):
        if actor is None or acting_role(t, actor, lead):
            out.append(t.trigger)
    return sorted(set(out))


def _refuse_role(
    definition: Definition, ref: str, t: T, actor: Actor, lead: str | None
) -> PermissionDenied:
    what = definition.trigger_label(t.trigger)
    if "council" in t.roles and "council" in actor.roles:
        return PermissionDenied(
            f"{actor.name} is not a person of {lead}, the lead organisation of {ref}, "
            f"so they cannot do '{what}' on it.",
            person=actor.name,
            trigger=t.trigger,
        )
    roles = ", ".join(sorted(actor.roles)) or "no role"
    return PermissionDenied(
        f"{actor.name} ({roles}) may not do '{what}' on {ref}: only {one_of(t.roles)} may.",
        person=actor.name,
        trigger=t.trigger,
    )


class _Bound:
    """A case bound to its definition's machine for one move: its `state` (which the
    machine moves), and what the transition's conditions are judged by. A condition
    that refuses leaves the refusal; `may_act`, always the first, the role and the
    transition taken."""

    __slots__ = (
        "state",
        "definition",
        "ref",
        "actor",
        "lead",
        "reason",
        "facts",
        "rules",
        "actor_rules",
        "role",
        "transition",
        "refusal",
    )

    def __init__(
        self,
        definition: Definition,
        ref: str,
        state: str,
        actor: Actor,
        lead: str | None,
        reason: str | None,
        facts: Facts | None,
        rules: Mapping[str, Rule],
        actor_rules: Mapping[str, Rule],
    ) -> None:
        self.state, self.definition, self.ref, self.actor, self.lead = (
            state,
            definition,
            ref,
            actor,
            lead,
        )
        self.reason, self.facts, self.rules, self.actor_rules = reason, facts, rules, actor_rules
        self.role: str | None = None
        self.transition: T | None = None
        self.refusal: CaseworkError | None = None

    def may_act(self, event: EventData) -> bool:
        t = self.transition = cast("DeclaredTransition", event.transition).declared
        self.role = acting_role(t, self.actor, self.lead)
        if self.role is None:
            self.refusal = _refuse_role(self.definition, self.ref, t, self.actor, self.lead)
        return self.role is not None

    def meets_actor_rules(self, event: EventData) -> bool:
        if self.facts is None:  # planning without facts: who may, not whether now
            return True
        t = cast("DeclaredTransition", event.transition).declared
        faults = [v for name in t.actor_rules for v in self.actor_rules[name](self.facts)]
        if faults:
            # Who was refused what, then each rule's reason: "april may not do 'Offer the
            # award' on TCA-2013-0004: you countersigned its offer, ...".
            what = self.definition.trigger_label(t.trigger)
            said = "; ".join(faults)
            self.refusal = PermissionDenied(
                f"{self.actor.name} may not do '{what}' on {self.ref}: {said}"
                + ("" if said.endswith(".") else "."),
                person=self.actor.name,
                trigger=t.trigger,
            )
        return not faults

    def has_reason(self, event: EventData) -> bool:
        if (self.reason or "").strip():
            return True
        self.refusal = ReasonRequired(self.ref, event.event.name, definition=self.definition)
        return False

    def meets_rules(self, event: EventData) -> bool:
        if self.facts is None:
            return True
        t = cast("DeclaredTransition", event.transition).declared
        violations = [v for name in t.guards for v in self.rules[name](self.facts)]
        if violations:
            self.refusal = GuardFailed(self.ref, t.trigger, violations, definition=self.definition)
        return not violations


def plan(
    definition: Definition,
    ref: str,
    state: str,
    trigger: str,
    actor: Actor,
    *,
    lead: str | None,
    reason: str | None,
    facts: Facts | None,
    rules: Mapping[str, Rule],
    actor_rules: Mapping[str, Rule],
) -> Move:
    bound = _Bound(definition, ref, state, actor, lead, reason, facts, rules, actor_rules)
    moved = definition.machine.fire(trigger, bound)
    if moved is None:
        raise InvalidTransition(
            ref,
            state,
            trigger,
            allowed_triggers(definition, state, actor, lead),
            definition=definition,
        )
    if not moved:
        assert bound.refusal is not None, "a condition refused without saying why"
        raise bound.refusal
    assert bound.role is not None and bound.transition is not None
    return Move(
        trigger=trigger,
        source=state,
        dest=bound.state,
        role=bound.role,
        transition=bound.transition,
    )
