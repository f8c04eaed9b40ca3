"""A variation of an award (DESIGN.md section 8): `V1`, `V2`… of a case.

After acceptance, the lead council or the caseworker proposes a change to the
amount (the new total), the end date or the scope, with a reason; an approver
approves or rejects it. Its moves are rows of its case's history chain
carrying the variation (`V1`), as a return's carry `Q2`:

    (proposed by the council or the caseworker) -> awaiting_decision
    awaiting_decision -approve_variation-> approved   (the award as varied passes the
                                                       programme's band, fund and count
                                                       rules, as an offer does)
    awaiting_decision -reject_variation-> rejected    (with a reason)

Approval reserves an increase in the fund ledger or releases a decrease,
draws up the agreement's next version and re-plans the unpaid payments.
"""

from dataclasses import dataclass
from datetime import date

from states.dates import day
from states.definition import Definition, Notice, T
from states.money import pounds

# Who is told what (DESIGN.md section 3's audiences; `approvers` are the people with the
# role, leaving out whoever has just acted). A proposal is not a transition of its own (the
# variation starts in `awaiting_decision`), so its emails are declared here:
# the council, when a caseworker proposed a change to its award; the approvers, that one
# waits for their decision, or first for a second approver's countersignature.
PROPOSED_TO_COUNCIL = Notice("variation.proposed", ("council",), ("caseworker",))
AWAITING_DECISION = Notice("variation.awaiting_decision", ("approvers",), ("caseworker",))
TO_COUNTERSIGN = Notice("variation.to_countersign", ("approvers",), ("caseworker",))

VARIATION = Definition(
    kind="variation",
    label="Variation of an award",
    initial="awaiting_decision",
    final={"approved", "rejected"},
    transitions=[
        # The rules of an offer, weighed for the award as varied (its new total).
        T(
            "approve_variation",
            "awaiting_decision",
            "approved",
            roles={"approver"},
            guards=[
                "meets_category_rules",
                "within_fund",
                "within_category_count",
                "variation_countersigned",
            ],
            actor_rules=["did_not_countersign"],
            notice=Notice("variation.approved", ("council",), ("caseworker",)),
        ),
        # A second approver's signature on an increase to a total above the programme's
        # threshold (DESIGN.md section 9): a move that keeps the state.
        T(
            "countersign_variation",
            "awaiting_decision",
            "awaiting_decision",
            roles={"approver"},
            guards=["variation_needs_countersignature"],
            actor_rules=["may_countersign"],
            notice=Notice("variation.awaiting_decision", ("approvers",)),
        ),
        T(
            "reject_variation",
            "awaiting_decision",
            "rejected",
            roles={"approver"},
            needs_reason=True,
            notice=Notice("variation.rejected", ("council",), ("caseworker",)),
        ),
    ],
    state_words={
        "awaiting_decision": (
            "Awaiting a decision",
            "The change is proposed and waits for an approver's decision.",
        ),
        "approved": (
            "Approved",
            "An approver agreed the change: the award and its agreement are varied.",
        ),
        "rejected": ("Rejected", "An approver turned the change down; the award stays as it was."),
    },
    trigger_words={
        "approve_variation": (
            "Approve the variation",
            "Vary the award: the fund's rules are checked, its money reserved "
            "or released, and the agreement's next version drawn up.",
        ),
        "countersign_variation": (
            "Countersign the variation",
            "Sign as the second approver of a variation that raises "
            "the award above the programme's threshold.",
        ),
        "reject_variation": (
            "Reject the variation",
            "Turn the change down, saying why; the award stays as it was.",
        ),
    },
    groups={
        "undecided": ("awaiting_decision",),  # one at a time per case
        "decided": ("approved", "rejected"),
        "varied": ("approved",),
        # How a page colours the state (it always shows the name too).
        "going_well": ("approved",),
        "in_trouble": ("rejected",),
        "waiting": ("awaiting_decision",),
    },
)


@dataclass(frozen=True)
class Award:
    """What a proposal is weighed against: the award as it stands today."""

    amount_pence: int
    ends_on: date | None  # the latest agreement's end date (None: the agreement states none)
    today: date  # in England
    band: str = ""  # the category's name, for people
    least_pence: int | None = None  # the category's band
    most_pence: int | None = None


def ends_in_future(end_on: date, today: date) -> bool:
    """Whether `end_on` may be proposed as an award's new end date on `today`: after it (an
    award that ended cannot be extended; it has started, so this is after its start too)."""
    return end_on > today


def refusals(
    award: Award, *, reason: str | None, total_pence: int | None, end_on: date | None
) -> list[str]:
    """Why a well-formed proposal is no variation `award` can take, each in words; [] when it
    is one. A proposal changes the total, the end date, or (neither given) the scope its
    reason describes (DESIGN.md section 8), so it always needs a reason, and what it gives
    must differ from the award as it stands. A total outside the category's band could never
    be approved (the band is the programme file's, as the offer's rule reads it), so it is
    refused here rather than left to wait for an approver to refuse it."""
    out: list[str] = []
    if not (reason or "").strip():
        out.append("a variation needs a reason: say what changes and why")
    if total_pence == 0:
        out.append("£0 is not an award; to end the award, an approver terminates it")
    elif total_pence is not None and total_pence == award.amount_pence:
        out.append(f"the award is already {pounds(total_pence)}: give the new total")
    elif total_pence is not None:
        name = award.band or "This category's"
        if award.most_pence is not None and total_pence > award.most_pence:
            out.append(
                f"{name} awards are at most {pounds(award.most_pence)}: a total of "
                f"{pounds(total_pence)} is more than the programme allows"
            )
        if award.least_pence is not None and total_pence < award.least_pence:
            out.append(
                f"{name} awards are at least {pounds(award.least_pence)}: a total of "
                f"{pounds(total_pence)} is less than the programme allows"
            )
    if end_on is not None:
        if not ends_in_future(end_on, award.today):
            out.append(f"the end date {day(end_on)} is not after today ({day(award.today)})")
        elif end_on == award.ends_on:
            out.append(
                f"the award already ends on {day(end_on)}: give a new end date, or leave it out"
            )
    return out
