"""A state machine declared as data, checked, and drawn from the same data."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Mapping

from states.words import EVENT_WORDS, Words, WordsLike, humanise, missing_words, words_table

if TYPE_CHECKING:
    from states.machine import DefinitionMachine

_BUILDING = threading.Lock()  # so each definition's machine is built once, even by two threads


@dataclass(frozen=True)
class Notice:
    """The email a transition sends: its outbox kind and audiences (DESIGN.md section 3)."""

    kind: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class T:
    """One transition: `trigger` moves a case from any of `sources` to `dest`.

    `guards` name pure rules (states.rules.RULES) that must return no
    violations; `actor_rules` name rules about the person acting (a refusal is
    a permission matter, not a rule of the programme).

    What the move does besides changing state is declared here too: `effects`
    names what the engine runs after it (workflow's effects table, checked by
    `problems`), `notice` the email it sends, `moves_funds` whether it writes
    the fund ledger (the engine then holds the programme row from the start),
    and `records` what the history row notes of the case (`amount`).

    `confirm`, for a move that cannot be undone (or stops a case's work), is
    what a person is told before doing it, on a page (or a question) of its
    own (DESIGN.md section 12); empty for a move done at once.
    """

    trigger: str
    source: str | tuple[str, ...]
    dest: str
    roles: frozenset[str] = frozenset()
    guards: tuple[str, ...] = ()
    actor_rules: tuple[str, ...] = ()
    needs_reason: bool = False
    lead_only: bool = True  # a council person must belong to the lead organisation
    effects: tuple[str, ...] = ()
    notice: Notice | None = None
    moves_funds: bool = False
    records: tuple[str, ...] = ()
    confirm: str = ""

    def __init__(
        self,
        trigger: str,
        source: str | Iterable[str],
        dest: str,
        *,
        roles: Iterable[str] = (),
        guards: Iterable[str] = (),
        actor_rules: Iterable[str] = (),
        needs_reason: bool = False,
        lead_only: bool = True,
        effects: Iterable[str] = (),
        notice: Notice | None = None,
        moves_funds: bool = False,
        records: Iterable[str] = (),
        confirm: str = "",
    ) -> None:
        object.__setattr__(self, "trigger", trigger)
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "dest", dest)
        object.__setattr__(self, "roles", frozenset(roles))
        object.__setattr__(self, "guards", tuple(guards))
        object.__setattr__(self, "actor_rules", tuple(actor_rules))
        object.__setattr__(self, "needs_reason", needs_reason)
        object.__setattr__(self, "lead_only", lead_only)
        object.__setattr__(self, "effects", tuple(effects))
        object.__setattr__(self, "notice", notice)
        object.__setattr__(self, "moves_funds", moves_funds)
        object.__setattr__(self, "records", tuple(records))
        object.__setattr__(self, "confirm", confirm)

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else tuple(self.source)


@dataclass(frozen=True)
class Definition:
    """A whole state machine. `version` is recorded on every case opened under it.

    `groups` name sets of states the rest of the system asks about
    (`BID.is_in(state, "holding_funds")`, `BID.group("deciding")`), so no
    other module spells a state's name; each keeps the order it is declared in.

    Which trigger may fire from which state is the `transitions` Machine's to
    say (`machine`, built from this data on first use, states.machine): the
    definition declares, the machine decides.
    """

    kind: str
    initial: str
    final: frozenset[str]
    transitions: tuple[T, ...]
    version: int = 1
    label: str = ""
    states_order: tuple[str, ...] = field(default=())
    # Words for people (DESIGN.md section 12): {"code": ("Label", "Sentence.")}.
    state_words: Mapping[str, Words] = field(default_factory=dict)
    trigger_words: Mapping[str, Words] = field(default_factory=dict)
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Built by __init__ (the groups as sets) and on first use (the machine): not compared, not shown.
    _machine: DefinitionMachine | None = field(default=None, init=False, repr=False, compare=False)
    _group_sets: Mapping[str, frozenset[str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __init__(
        self,
        kind: str,
        initial: str,
        final: Iterable[str],
        transitions: Iterable[T],
        version: int = 1,
        label: str = "",
        *,
        state_words: Mapping[str, WordsLike] | None = None,
        trigger_words: Mapping[str, WordsLike] | None = None,
        groups: Mapping[str, Iterable[str]] | None = None,
    ):
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "initial", initial)
        object.__setattr__(self, "final", frozenset(final))
        object.__setattr__(self, "transitions", tuple(transitions))
        object.__setattr__(self, "version", version)
        object.__setattr__(self, "label", label or kind)
        object.__setattr__(self, "state_words", words_table(state_words))
        object.__setattr__(self, "trigger_words", words_table(trigger_words))
        order: list[str] = [initial]
        for t in self.transitions:
            for s in (*t.sources, t.dest):
                if s not in order:
                    order.append(s)
        for s in sorted(self.final):
            if s not in order:
                order.append(s)
        object.__setattr__(self, "states_order", tuple(order))
        object.__setattr__(
            self, "groups", {name: tuple(members) for name, members in (groups or {}).items()}
        )
        object.__setattr__(
            self, "_group_sets", {name: frozenset(members) for name, members in self.groups.items()}
        )
        object.__setattr__(self, "_machine", None)

    @property
    def states(self) -> tuple[str, ...]:
        return self.states_order

    @property
    def triggers(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for t in self.transitions:
            seen.setdefault(t.trigger, None)
        return tuple(seen)

    @property
    def machine(self) -> DefinitionMachine:
        """This definition's `transitions` Machine, built from it on first use and kept: the
        one answer to which trigger may fire from which state (`machine.transition_for`,
        `machine.transitions_from`, and `workflow.services.engine.plan`, which fires it)."""
        built = self._machine
        if built is None:
            with _BUILDING:
                built = self._machine
                if built is None:
                    from states.machine import DefinitionMachine  # the library, on first move

                    built = DefinitionMachine(self)
                    object.__setattr__(self, "_machine", built)
        return built

    def is_final(self, state: str) -> bool:
        return state in self.final

    def confirmation(self, trigger: str) -> str:
        """What a person is told before `trigger`, which asks "are you sure?" first
        (T.confirm); empty for a move done at once."""
        t = self.transition(trigger)
        return t.confirm if t is not None else ""

    # --- words for people ---------------------------------------------------
    def state_label(self, state: str) -> str:
        """ "Under assessment" for `under_assessment`."""
        words = self.state_words.get(state)
        return words.label if words else humanise(state)

    def state_phrase(self, state: str) -> str:
        """The label as it reads inside a sentence: "is under assessment"."""
        label = self.state_label(state)
        return label if label[:2].isupper() else label[:1].lower() + label[1:]

    def trigger_label(self, trigger: str) -> str:
        """ "Ask the council a question" for `ask_clarification`; a history-only
        trigger (`score`, `remind`, `held`) by its words in states.words."""
        words = self.trigger_words.get(trigger) or EVENT_WORDS.get(trigger)
        return words.label if words else humanise(trigger)

    def state_sentence(self, state: str) -> str:
        words = self.state_words.get(state)
        return words.sentence if words else ""

    def trigger_sentence(self, trigger: str) -> str:
        words = self.trigger_words.get(trigger) or EVENT_WORDS.get(trigger)
        return words.sentence if words else ""

    def words_problems(self) -> list[str]:
        """Every state and trigger without a label or sentence, and words for unknown codes."""
        out = missing_words(self.kind, "state", self.states, self.state_words) + missing_words(
            self.kind, "trigger", self.triggers, self.trigger_words
        )
        for code in self.state_words:
            if code not in self.states:
                out.append(f"{self.kind}: words are given for unknown state '{code}'")
        for code in self.trigger_words:
            if code not in self.triggers:
                out.append(f"{self.kind}: words are given for unknown trigger '{code}'")
        return out

    def group(self, name: str) -> tuple[str, ...]:
        """The states of group `name`, in declared order (KeyError for an unknown group)."""
        return self.groups[name]

    def is_in(self, state: str, group: str) -> bool:
        return state in self._group_sets[group]

    def transition(self, trigger: str) -> T | None:
        """The first transition `trigger` names, wherever it starts."""
        return next((t for t in self.transitions if t.trigger == trigger), None)

    # --- self-checks -------------------------------------------------------
    def problems(
        self,
        known_guards: Iterable[str] = (),
        known_roles: Iterable[str] = (),
        known_effects: Iterable[str] = (),
        known_records: Iterable[str] = (),
        known_notices: Iterable[str] = (),
    ) -> list[str]:
        """Every fault in the definition at once, as sentences."""
        guards, roles = set(known_guards), set(known_roles)
        effects, records, notices = set(known_effects), set(known_records), set(known_notices)
        out: list[str] = []
        for name, members in self.groups.items():
            if name in self.states:
                out.append(f"{self.kind}: group '{name}' has the name of a state")
            for s in members:
                if s not in self.states:
                    out.append(f"{self.kind}: group '{name}' names unknown state '{s}'")
            if not members:
                out.append(f"{self.kind}: group '{name}' is empty")
        for t in self.transitions:
            for e in t.effects:
                if effects and e not in effects:
                    out.append(f"{self.kind}: effect '{e}' of '{t.trigger}' is not a known effect")
            for r in t.records:
                if records and r not in records:
                    out.append(f"{self.kind}: '{t.trigger}' records '{r}', which is not known")
            if t.notice is not None and notices and t.notice.kind not in notices:
                out.append(
                    f"{self.kind}: '{t.trigger}' sends '{t.notice.kind}', which is not "
                    f"a known message kind"
                )
            for g in (*t.guards, *t.actor_rules):
                if guards and g not in guards:
                    out.append(f"{self.kind}: guard '{g}' is not a known rule")
            for r in t.roles:
                if roles and r not in roles:
                    out.append(f"{self.kind}: role '{r}' on '{t.trigger}' is not a known role")
            if not t.roles:
                out.append(f"{self.kind}: '{t.trigger}' names no role that may fire it")
            for s in t.sources:
                if s in self.final:
                    out.append(f"{self.kind}: '{t.trigger}' leaves final state '{s}'")
        seen: dict[tuple[str, str], str] = {}
        for t in self.transitions:
            for s in t.sources:
                if (t.trigger, s) in seen:
                    out.append(f"{self.kind}: '{t.trigger}' is defined twice from '{s}'")
                seen[(t.trigger, s)] = t.dest
        out.extend(self.words_problems())
        reachable = self._reachable_from(self.initial)
        for s in self.states:
            if s not in reachable:
                out.append(f"{self.kind}: '{s}' cannot be reached from '{self.initial}'")
            elif not (self._reachable_from(s) & self.final):
                out.append(f"{self.kind}: '{s}' cannot reach a final state")
        return out

    def _reachable_from(self, start: str) -> set[str]:
        """The states the declared arrows lead to from `start` (a check of the data itself)."""
        seen, todo = {start}, [start]
        while todo:
            s = todo.pop()
            for t in self.transitions:
                if s in t.sources and t.dest not in seen:
                    seen.add(t.dest)
                    todo.append(t.dest)
        return seen

    # --- drawings ----------------------------------------------------------
    def mermaid(self) -> str:
        """A Mermaid `stateDiagram-v2`, each arrow labelled with trigger, roles and guards."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.initial}"]
        for t in self.transitions:
            label = t.trigger
            extras = []
            if t.guards:
                extras.append("if " + ", ".join(t.guards))
            extras.append("by " + ", ".join(sorted(t.roles)))
            label += " (" + "; ".join(extras) + ")"
            for s in t.sources:
                lines.append(f"    {s} --> {t.dest}: {label}")
        for s in sorted(self.final):
            lines.append(f"    {s} --> [*]")
        return "\n".join(lines) + "\n"

    def dot(self) -> str:
        """Graphviz DOT text of the same machine, for offline SVG rendering."""
        lines = [
            f'digraph "{self.kind}" {{',
            "  rankdir=LR;",
            '  node [shape=box, style="rounded", fontname="Helvetica", fontsize=10];',
            '  edge [fontname="Helvetica", fontsize=9];',
            '  "__start" [shape=point, label=""];',
            f'  "__start" -> "{self.initial}";',
        ]
        for s in self.states:
            shape = ", peripheries=2" if s in self.final else ""
            lines.append(f'  "{s}" [label="{self.state_label(s)}"{shape}];')
        for t in self.transitions:
            for s in t.sources:
                lines.append(f'  "{s}" -> "{t.dest}" [label="{self.trigger_label(t.trigger)}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"
