"""A definition's `transitions` Machine: the one answer to "may this trigger fire from here?".

Each definition builds its Machine once, on first use (`Definition.machine`),
from its own data: its states (the final ones marked final) and each of its
transitions, with their sources, destination and conditions. The data stays
the one declaration (diagrams, words and `problems()` read it); the Machine is
what every move asks. Cases share it: a case is bound to it only for the move
it makes, as a plain object whose `state` is the case's, and the event is
fired on that object (LIBRARY-NOTES section 1: no `add_model`, so no case is
kept by the machine or decorated by it).

Each transition's conditions are the checks of a move, in the order a refusal
is told; the engine's bound object (workflow.services.engine) says how each is
judged, with the person, the reason and the case's facts:

    may_act            the person may fire it, in some role (T.roles, T.lead_only)
    meets_actor_rules  the rules about the person acting hold (T.actor_rules)
    has_reason         a reason is given (T.needs_reason)
    meets_rules        the programme's rules hold (T.guards; every violation is told)

`states/__init__` does not import this module, so a command that moves no case
(`casework --help`, `case list`) never loads the library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from transitions import Machine, MachineError, Transition

if TYPE_CHECKING:
    from transitions.core import CallbackList

    from states.definition import Definition, T

CONDITIONS = ("may_act", "meets_actor_rules", "has_reason", "meets_rules")


def conditions_of(t: T) -> CallbackList:
    """The checks `t` asks of a move, in the order a refusal is told."""
    out: CallbackList = ["may_act"]  # always first: it names the transition the move takes
    if t.actor_rules:
        out.append("meets_actor_rules")
    if t.needs_reason:
        out.append("has_reason")
    if t.guards:
        out.append("meets_rules")
    return out


class DeclaredTransition(Transition):
    """One of the machine's transitions, carrying the definition's `T` it was built from
    (its roles, rules, effects and email) and that T's place in the definition."""

    def __init__(
        self,
        source: str,
        dest: str,
        conditions: Any = None,
        unless: Any = None,
        before: Any = None,
        after: Any = None,
        prepare: Any = None,
        *,
        declared: T,
        order: int,
    ) -> None:
        super().__init__(source, dest, conditions, unless, before, after, prepare)
        self.declared = declared
        self.order = order


class DefinitionMachine(Machine):
    """A definition's Machine, shared by every case of its kind."""

    transition_cls = DeclaredTransition
    # What leaves each state, worked out once: a list of cases asks it for every row.
    _leaving: dict[str, tuple[T, ...]]

    def __init__(self, definition: Definition) -> None:
        self._leaving = {}
        super().__init__(
            model=None,  # shared: a case is bound for one move, never added
            states=[{"name": s, "final": s in definition.final} for s in definition.states],
            initial=definition.initial,
            auto_transitions=False,  # to_<state>() would skip guards and roles
            ignore_invalid_triggers=False,  # a trigger not defined from the state is a refusal
            send_event=True,  # a condition reads the transition it judges
            model_attribute="state",
            name=definition.kind,
        )
        self.kind = definition.kind
        for order, t in enumerate(definition.transitions):
            self.add_transition(
                t.trigger,
                list(t.sources),
                t.dest,
                conditions=conditions_of(t),
                declared=t,
                order=order,
            )

    def add_transition(self, *args: Any, **kwargs: Any) -> None:
        self._leaving = {}  # (the index is rebuilt on the next question)
        super().add_transition(*args, **kwargs)

    def remove_transition(self, *args: Any, **kwargs: Any) -> None:
        self._leaving = {}
        super().remove_transition(*args, **kwargs)

    def transition_for(self, trigger: str, state: str) -> T | None:
        """The transition `trigger` fires from `state` (guards not run); None if it has none."""
        event = self.events.get(trigger)
        found = event.transitions.get(state) if event is not None else None
        return cast(DeclaredTransition, found[0]).declared if found else None

    def transitions_from(self, state: str) -> list[T]:
        """Every transition the machine may fire from `state`, in the definition's order."""
        leaving = self._leaving.get(state)
        if leaving is None:
            found = [
                cast(DeclaredTransition, tr)
                for event in self.events.values()
                for tr in event.transitions.get(state, ())
            ]
            leaving = tuple(tr.declared for tr in sorted(found, key=lambda tr: tr.order))
            self._leaving[state] = leaving
        return list(leaving)

    def fire(self, trigger: str, bound: Any) -> bool | None:
        """Fire `trigger` on `bound` (an object whose `state` is the case's and which judges
        the conditions): True when it moved (`bound.state` is now the destination),
        False when a condition refused, None when no such move leaves that state."""
        event = self.events.get(trigger)
        if event is None or bound.state not in self.states:
            return None
        try:
            return event.trigger(bound)
        except MachineError:  # "Can't trigger event … from state …"
            return None
