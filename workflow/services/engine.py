"""The pure planning of a move: may this person fire this trigger on this case now?

`plan` answers "may this person fire this trigger on this case now, and where
does it lead?" without touching the database: InvalidTransition,
PermissionDenied, ReasonRequired or GuardFailed, or a `Move`.

Whether a trigger can fire from a state is decided by the definition alone
(`Definition.find`, an index built once per definition): it is the one object
that also knows the transition's roles, guards and effects, so a second
machine answering the same question could only ever repeat it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from states import Definition, T
from states.roles import ROLE_PREFERENCE
if TYPE_CHECKING:
    from states.facts import Facts
    from states.rules import Rule
from workflow.errors import GuardFailed, InvalidTransition, PermissionDenied, ReasonRequired


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


def allowed_triggers(definition: Definition, state: str, actor: Actor | None,
                     lead: str | None) -> list[str]:
    """Triggers defined from `state` that `actor` may fire (guards are not run)."""
    out = []
    for t in definition.defined_from(state):
        if actor is None or acting_role(t, actor, lead):
            out.append(t.trigger)
    return sorted(set(out))


def _refuse_role(definition: Definition, ref: str, t: T, actor: Actor,
                 lead: str | None) -> PermissionDenied:
    what = definition.trigger_label(t.trigger)
    if "council" in t.roles and "council" in actor.roles:
        return PermissionDenied(
            f"{actor.name} is not a person of {lead}, the lead organisation of {ref}, "
            f"so they cannot do '{what}' on it.", person=actor.name, trigger=t.trigger)
    roles = ", ".join(sorted(actor.roles)) or "no role"
    may = " or ".join(sorted(t.roles))
    article = "an" if may[0] in "aeiou" else "a"
    return PermissionDenied(
        f"{actor.name} ({roles}) may not do '{what}' on {ref}: only {article} {may} may.",
        person=actor.name, trigger=t.trigger)


def plan(definition: Definition, ref: str, state: str, trigger: str, actor: Actor, *,
         lead: str | None, reason: str | None, facts: Facts | None,
         rules: Mapping[str, Rule], actor_rules: Mapping[str, Rule]) -> Move:
    t = definition.find(trigger, state)
    if t is None:
        raise InvalidTransition(ref, state, trigger,
                                allowed_triggers(definition, state, actor, lead),
                                definition=definition)
    role = acting_role(t, actor, lead)
    if role is None:
        raise _refuse_role(definition, ref, t, actor, lead)
    if t.actor_rules and facts is not None:
        faults = [v for name in t.actor_rules for v in actor_rules[name](facts)]
        if faults:
            raise PermissionDenied(" ".join(faults), person=actor.name, trigger=trigger)
    if t.needs_reason and not (reason or "").strip():
        raise ReasonRequired(ref, trigger, definition=definition)
    if t.guards and facts is not None:
        violations = [v for name in t.guards for v in rules[name](facts)]
        if violations:
            raise GuardFailed(ref, trigger, violations, definition=definition)
    return Move(trigger=trigger, source=state, dest=t.dest, role=role, transition=t)
