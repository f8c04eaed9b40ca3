"""The actions a case page offers: each planned with the service's own rules, without writing.

For every trigger defined from the case's state that this person's role may
fire, the same facts are read and the same guards run as `cases.advance` would
(`engine.plan`), in a read-only connection. Those that would succeed are
offered; the others are listed with one line saying what is missing ("3
returns are still to be accepted or waived: Q2, Q3 and Q4"), so nobody
presses a button only to be refused. Actions that cannot be undone go to a
confirmation page, which asks for a reason (required where the definition says
so, `T.needs_reason`, as the command line and the API require it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection, Sequence

from sqlalchemy import Connection

from states import CHECKPOINT, DEFINITIONS
from states.diligence import checklist, not_passed
from states.rules import ACTOR_RULES, RULES, countersignatures_missing
from workflow import clock
from workflow.services import programme_files as programme_store
from workflow.services.engine import Actor, acting_role, plan
from workflow.errors import GuardFailed, PermissionDenied
from workflow.services.facts import facts_for, needs_of
from workflow.storage.records import CaseRecord
from workflow.web.labels import reason_label, trigger_label, without_field_codes

# Actions that cannot be undone each ask "are you sure?" on a page of their own, saying what
# their definition says they do (`T.confirm`); whether a reason is required is the
# definition's to say too (`T.needs_reason`), as on every face. These triggers take a
# reason where the rules do not require one (and so does every confirmed one: its
# confirmation page has a reason box).
REASON_WELCOME = frozenset({"ask_clarification", "answer", "reinstate"})
# Every case trigger a definition asks to confirm: a form posting one is checked further.
CONFIRMED = frozenset(
    t.trigger for kind in ("bid", "area") for t in DEFINITIONS[kind].transitions if t.confirm
)
# Guards that say a move is not needed at all on this case (not merely not yet possible):
# such a move is neither offered nor listed as "not possible yet". A countersignature is
# needed only above the programme's threshold or on a high fraud risk, and only once.
NEEDED_ONLY_WHEN: dict[str, Callable[[Any], bool]] = {
    "needs_countersignature": lambda facts: bool(countersignatures_missing(facts)),
}
# A placeholder reason while planning: the reason itself is asked for on the form.
_PLANNING_REASON = "(asked on the form)"


@dataclass(frozen=True)
class Action:
    trigger: str
    label: str
    reason: str  # required | optional | none
    consequence: str  # what it does that cannot be undone (T.confirm), or empty
    blocked: str = ""  # one line: what is missing before it can succeed

    @property
    def warning(self) -> bool:
        """Cannot be undone: goes to a confirmation page first."""
        return bool(self.consequence)

    @property
    def field(self) -> str:
        return f"reason-{self.trigger}"

    @property
    def reason_box(self) -> str:
        """The reason box's label, saying whether it must be filled."""
        return f"{reason_label(self.trigger, self.label)} ({self.reason})"

    @property
    def offered(self) -> bool:
        return not self.blocked


def plan_actions(
    conn: Connection,
    case: CaseRecord,
    actor: Actor | None,
    *,
    only: Collection[str] | None = None,
) -> list[Action]:
    """Every action `actor`'s roles may take on `case` now, each planned with its rules
    (`only` those triggers, where given: the approvers' inbox plans the offer alone)."""
    if actor is None:
        return []
    definition = DEFINITIONS[case.kind]
    spec = programme_store.spec_for(conn, case.programme)
    now = clock.now()
    out = []
    for t in definition.machine.transitions_from(case.state):
        if only is not None and t.trigger not in only:
            continue
        if acting_role(t, actor, case.lead) is None:
            continue
        facts = None
        if t.guards or t.actor_rules:
            facts = facts_for(
                conn,
                case,
                actor=actor.name,
                now=now,
                spec=spec,
                needs=needs_of((*t.guards, *t.actor_rules)),
            )
        if any(not needed(facts) for g, needed in NEEDED_ONLY_WHEN.items() if g in t.guards):
            continue
        blocked = ""
        try:
            plan(
                definition,
                case.ref,
                case.state,
                t.trigger,
                actor,
                lead=case.lead,
                reason=_PLANNING_REASON,
                facts=facts,
                rules=RULES,
                actor_rules=ACTOR_RULES,
            )
        except (GuardFailed, PermissionDenied):
            blocked = missing(t, facts)
        need = (
            "required"
            if t.needs_reason
            else "optional"
            if t.trigger in REASON_WELCOME or t.confirm
            else "none"
        )
        out.append(
            Action(
                t.trigger,
                trigger_label(case.kind, t.trigger),
                need,
                t.confirm,
                blocked,
            )
        )
    return sorted(out, key=lambda a: (a.warning, a.trigger))


def missing(t: Any, facts: Any) -> str:
    """One line for people: what stops `t` now, rule by rule, the first failing rule first."""
    lines = []
    for name in (*t.actor_rules, *t.guards):
        rule = ACTOR_RULES.get(name) or RULES[name]
        violations = rule(facts)
        if violations:
            lines.append(_SHORT.get(name, _first)(violations, facts))
    return _sentence(without_field_codes("; ".join(lines)))


def _first(violations: Sequence[str], _facts: Any) -> str:
    more = len(violations) - 1
    return violations[0] + (f" (and {more} more)" if more else "")


def _returns_left(violations: Sequence[str], facts: Any) -> str:
    left = [c.ref.rsplit("/", 1)[-1] for c in facts.checkpoints if not CHECKPOINT.is_final(c.state)]
    if not left:
        return violations[0]
    n = len(left)
    names = left[0] if n == 1 else ", ".join(left[:-1]) + " and " + left[-1]
    return f"{n} return{'s are' if n > 1 else ' is'} still to be accepted or waived: {names}"


def _checks_left(violations: Sequence[str], facts: Any) -> str:
    """The due-diligence checks not passed, named by their labels (the rule's own sentences
    give each code too, for the command line, where people type them)."""
    return _first(not_passed(checklist(facts), facts.ref, with_codes=False) or violations, facts)


_SHORT: dict[str, Callable[[Sequence[str], Any], str]] = {
    "all_checkpoints_accepted": _returns_left,
    "diligence_passed": _checks_left,
}


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return (text[:1].upper() + text[1:] + ".") if text else ""


def find(actions: Sequence[Action], trigger: str) -> Action | None:
    return next((a for a in actions if a.trigger == trigger), None)
