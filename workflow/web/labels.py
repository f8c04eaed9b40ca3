"""Words for people on the web's pages: codes by their labels (DESIGN.md section 12).

The one place the pages turn a code (`under_assessment`, `declare_ineligible`,
`checkpoint.escalated_1`, `esg_top_up`, `tca-2013`) into what people read;
forms, links and the API keep the codes. States, triggers and history rows
are labelled by their definitions, message kinds by notifications.kinds,
categories and ladder steps by the programme's file.
"""

from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import Engine, select

from notifications.kinds import kind_label
from states import DEFINITIONS
from states.diligence import label_of

# Re-exported for the pages (apply.py, actions.py): one pattern for the rules' field codes.
from states.questions import FIELD_NAMED as FIELD_NAMED
from states.questions import without_field_codes as without_field_codes
from states.words import event_label, humanise
from workflow.services import programme_files as programme_store
from workflow.storage.db import reading
from workflow.storage.tables import programmes

# The outbox's own states, as the messages pages show them.
_MESSAGE_STATES = {"queued": "Waiting to send", "sent": "Sent", "dead": "Not delivered"}
_KINDS = ("bid", "area", "checkpoint")


def trigger_label(kind: str, trigger: str) -> str:
    """ "Declare ineligible" for `declare_ineligible` on a bid; "Do not select" on an area."""
    return DEFINITIONS[kind].trigger_label(trigger)


# What the reason box holds where it is not a reason: asking the council a question, the
# reason is the question itself (the email sends it), and answering, it is the answer.
_REASON_WORDS = {
    "ask_clarification": "Your question for the council",
    "answer": "The council's answer",
}


def reason_label(trigger: str, action: str) -> str:
    """The reason box's label: "Your question for the council" for `ask_clarification`,
    else "Suspend: your reason"."""
    return _REASON_WORDS.get(trigger, f"{action}: your reason")


def reason_missing(trigger: str, action: str, ref: str) -> str:
    """The error summary's line for a reason left out: "Enter your question for the
    council" where the box is not a reason, else "Give a reason: ..."."""
    words = _REASON_WORDS.get(trigger)
    if words is None:
        return f"Give a reason: '{action}' on {ref} needs one."
    return f"Enter {words[:1].lower()}{words[1:]} ({ref})."


def state_label(state: str | None, kind: str | None = None) -> str:
    """ "Under assessment" for `under_assessment` (of `kind`, or whichever definition has it)."""
    if not state:
        return ""
    if state in _MESSAGE_STATES:
        return _MESSAGE_STATES[state]
    for k in (kind,) if kind else _KINDS:
        if state in DEFINITIONS[k].states:
            return DEFINITIONS[k].state_label(state)
    return humanise(state)


def event(row: Any, kind: str, checks: Mapping[str, str] | None = None) -> str:
    """What a history row did, for people: its trigger's label (a return's by the return's);
    a due-diligence row says which check and how it came out ("Due diligence recorded: Fraud
    risk, passed", as the command line's history says), the check by its label in `checks`
    (the case's programme's, by code) or else by casework's own words for it."""
    trigger = _get(row, "trigger")
    definition = DEFINITIONS[_of(row, kind)]
    if trigger in definition.triggers:
        return definition.trigger_label(trigger)
    payload = _get(row, "payload") or {}
    if trigger == "diligence" and payload.get("check"):
        code = str(payload["check"])
        found = (checks or {}).get(code) or label_of({}, code)
        result = _RESULTS.get(payload.get("result"), payload.get("result") or "")
        return f"{event_label(trigger)}: {found}, {result}"
    return event_label(trigger)


_RESULTS = {"pass": "passed", "fail": "failed"}


def part(row: Any) -> str:
    """What of its case a history row is about, when not the case itself: its return (`Q2`),
    its payment (`P1`) or its variation (`V1`); "" for the case's own rows. A case's history
    holds several of each, so a row says which (as the chain carries it)."""
    for name in ("checkpoint", "payment"):
        if value := _get(row, name):
            return str(value)
    payload = _get(row, "payload")
    return str(payload.get("variation") or "") if isinstance(payload, dict) else ""


def change(row: Any, kind: str) -> str:
    """ "Submitted to Eligible", or "" for a row that changed no state."""
    before, after = _get(row, "from_state"), _get(row, "to_state")
    if before == after:
        return ""
    of = _of(row, kind)
    return f"{state_label(before, of) if before else 'New'} to {state_label(after, of)}"


def _of(row: Any, kind: str) -> str:
    """Whose words a history row speaks in: its return's, its payment's, or its case's."""
    if _get(row, "checkpoint"):
        return "checkpoint"
    return "payment" if _get(row, "payment") else kind


def _get(row: Any, name: str) -> Any:
    return row.get(name) if isinstance(row, dict) else getattr(row, name, None)


class Vocabulary:
    """The programmes' own words (names, categories, ladder steps), read on first use."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._specs: dict[str, Any] | None = None
        self._names: dict[str, str] = {}

    def _load(self) -> dict[str, Any]:
        if self._specs is None:
            with reading(self._engine) as conn:
                rows = list(conn.execute(select(programmes.c.code, programmes.c.name)))
                # spec_for's parse is cached by the file's text: one query a programme
                self._specs = {r.code: programme_store.spec_for(conn, r.code) for r in rows}
            self._names = {r.code: r.name for r in rows}
        return self._specs

    def programme(self, code: str | None) -> str:
        """ "Transformation Challenge Award 2013" for `tca-2013`."""
        if not code:
            return ""
        self._load()
        return self._names.get(code) or code

    def programmes(self) -> list[tuple[str, str]]:
        """(code, name) of every programme, by code, for the filters' lists."""
        self._load()
        return sorted(self._names.items())

    def category(self, code: str | None, programme: str | None = None) -> str:
        if not code:
            return ""
        specs = self._load()
        for spec in [specs[programme]] if programme in specs else specs.values():
            if code in spec.categories:
                return spec.category_label(code)
        return humanise(code)

    def step(self, name: str, programme: str) -> str:
        spec = self._load().get(programme)
        return spec.step_label(name) if spec else humanise(name)

    def field(self, name: str, programme: str) -> str:
        spec = self._load().get(programme)
        return spec.field_label(name) if spec else humanise(name)


__all__ = [
    "trigger_label",
    "state_label",
    "event",
    "part",
    "change",
    "kind_label",
    "Vocabulary",
]
