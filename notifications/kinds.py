"""The message kinds, as data.

A kind is `<kind>.<event>`: the outbox `kind`, the template folder and name
(`templates/email/<kind>/<event>.<part>.<ext>`) and, for the checkpoint
ladder, the step all use the same word.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

from states.words import Words, humanise, words_table

# Each kind's words for people (DESIGN.md section 12): a label for tables and
# filters ("First escalation") and one sentence saying when it is sent.
KIND_WORDS: Mapping[str, Words] = words_table(
    {
        "checkpoint.opened": (
            "Return open",
            "a monitoring return is open: what is asked and by when",
        ),
        "checkpoint.reminder": (
            "Return reminder",
            "a monitoring return is due in a few working days",
        ),
        "checkpoint.overdue": ("Overdue notice", "a monitoring return has passed its due date"),
        "checkpoint.escalated_1": (
            "First escalation",
            "an overdue return is raised with the council's chief executive or s151 officer",
        ),
        "checkpoint.escalated_2": (
            "Second escalation",
            "an overdue return is raised with the programme director; the case is at risk",
        ),
        "checkpoint.queried": (
            "Return queried",
            "a caseworker has a question about a return; the council corrects and resends it",
        ),
        "case.clarification_requested": (
            "Question about the application",
            "a caseworker or assessor asks the lead council a question about its application; assessment waits for the answer",
        ),
        "case.suspended": ("Case suspended", "a case is suspended: payments held or work paused"),
        "case.reinstated": ("Case reinstated", "a suspended case is back in monitoring"),
        "case.withdrawn": (
            "Case withdrawn",
            "a bid or expression of interest is withdrawn, with the reason given: it goes no further",
        ),
        "case.submitted": (
            "Application received",
            "the lead council's receipt for a bid or expression of interest it has submitted: what was sent",
        ),
        "case.assigned": (
            "Case handed over",
            "a caseworker is handed a case: it is now theirs to look after",
        ),
        "bid.conflict_declared": (
            "Conflict declared",
            "an assessor who scored a bid declared a conflict since: their score is set aside and another assessor is needed",
        ),
        "bid.award_offered": (
            "Award offered",
            "an award is offered and waits for the council to accept or decline it",
        ),
        "bid.rejected": ("Bid rejected", "a bid is not funded"),
        "bid.declined": (
            "Award declined",
            "the council declined an award; the reserved funds are released",
        ),
        "bid.ineligible": ("Bid ineligible", "a bid is found ineligible"),
        "bid.terminated": (
            "Award terminated",
            "a suspended award is terminated: no further payments, the unpaid part released, any overpayment to be assessed",
        ),
        "payment.paid": (
            "Payment made",
            "a payment of an award was made to the lead council, with its remittance reference",
        ),
        "payment.released_to_fund": (
            "Unpaid part of the award released",
            "an award is complete and part of it will never be paid (a tranche whose return was waived): that part is released back to the fund, and the lead council is told how much and why",
        ),
        "variation.proposed": (
            "Change to the award proposed",
            "a caseworker proposed a change to the lead council's award (its amount, end date or scope); an approver decides it",
        ),
        "variation.awaiting_decision": (
            "Variation to decide",
            "a proposed change to an award waits for an approver to approve or reject it",
        ),
        "variation.to_countersign": (
            "Variation to countersign",
            "a proposed change raises an award above the programme's countersignature threshold: a second approver countersigns it before another approves it",
        ),
        "variation.approved": (
            "Change to the award approved",
            "an approver approved a change to the award: the award and its agreement are varied",
        ),
        "variation.rejected": (
            "Change to the award rejected",
            "an approver turned down a proposed change to the award, saying why; the award stays as it was",
        ),
        "review.due": (
            "Annual review due",
            "an award's annual review falls due: the caseworker records whether it continues, is amended or stops",
        ),
        "review.overdue": (
            "Annual review overdue",
            "an annual review is still not recorded ten working days after it fell due: the senior responsible owner is told",
        ),
        "area.selected": ("Area selected", "an area is selected to work with the network"),
        "area.not_selected": (
            "Area not selected",
            "an expression of interest is not taken forward",
        ),
    }
)

# The sentence of each kind, by kind (what the outbox and its checks read).
KINDS: Mapping[str, str] = MappingProxyType({k: w.sentence for k, w in KIND_WORDS.items()})


def kind_label(kind: str) -> str:
    """ "First escalation" for `checkpoint.escalated_1`; an unknown kind made readable."""
    words = KIND_WORDS.get(kind)
    return words.label if words else humanise(kind.split(".", 1)[-1])


# Each kind has exactly these three templates.
PARTS: tuple[str, ...] = ("subject.txt", "body.txt", "body.html")


def template_name(kind: str, part: str) -> str:
    """`checkpoint.opened`, `body.html` -> `email/checkpoint/opened.body.html`."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}; known kinds: {', '.join(KINDS)}")
    folder, event = kind.split(".", 1)
    return f"email/{folder}/{event}.{part}"
