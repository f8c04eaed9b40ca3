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

from states.definition import Definition, Notice, T

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
