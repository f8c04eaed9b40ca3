"""The message kinds, as data.

A kind is `<kind>.<event>`: the outbox `kind`, the template folder and name
(`templates/email/<kind>/<event>.<part>.<ext>`) and, for the checkpoint
ladder, the step all use the same word.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

KINDS: Mapping[str, str] = MappingProxyType({
    "checkpoint.opened": "a monitoring return is open: what is asked and by when",
    "checkpoint.reminder": "a monitoring return is due in a few working days",
    "checkpoint.overdue": "a monitoring return has passed its due date",
    "checkpoint.escalated_1": "an overdue return is raised with the council's chief executive or s151 officer",
    "checkpoint.escalated_2": "an overdue return is raised with the programme director; the case is at risk",
    "checkpoint.queried": "a caseworker has a question about a return; the council corrects and resends it",
    "case.suspended": "a case is suspended: payments held or work paused",
    "case.reinstated": "a suspended case is back in monitoring",
    "case.assigned": "a caseworker is handed a case: it is now theirs to look after",
    "bid.conflict_declared": "an assessor who scored a bid declared a conflict since: their score is set aside and another assessor is needed",
    "bid.award_offered": "an award is offered and waits for the council to accept or decline it",
    "bid.rejected": "a bid is not funded",
    "bid.declined": "the council declined an award; the reserved funds are released",
    "bid.ineligible": "a bid is found ineligible",
    "area.selected": "an area is selected to work with the network",
    "area.not_selected": "an expression of interest is not taken forward",
})

# Each kind has exactly these three templates.
PARTS: tuple[str, ...] = ("subject.txt", "body.txt", "body.html")


def template_name(kind: str, part: str) -> str:
    """`checkpoint.opened`, `body.html` -> `email/checkpoint/opened.body.html`."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}; known kinds: {', '.join(KINDS)}")
    folder, event = kind.split(".", 1)
    return f"email/{folder}/{event}.{part}"
