"""A payment of an award: one tranche of the schedule (DESIGN.md section 8).

A tranche becomes a payment (`P1`, `P2`…) when its event happens (the
agreement accepted, a return accepted). Its moves are rows of its case's
history chain carrying the payment (`P2`), as a return's carry `Q2`:

    due -approve-> approved -pay-> paid
    due|approved -(case suspended)-> held -(case reinstated)-> due
    due|approved|held -(case terminated or declined)-> cancelled

`hold` and `release` are also a caseworker's, by hand, with a reason. A
variation of the award re-plans the payments not yet paid (`replan`): an
approved one goes back to be approved again at its new amount.
"""

from decimal import ROUND_FLOOR, Decimal

from states.definition import Definition, Notice, T

PAYMENT = Definition(
    kind="payment",
    label="Payment",
    initial="due",
    final={"paid", "cancelled"},
    transitions=[
        T("approve", "due", "approved", roles={"approver"}, actor_rules=["not_the_caseworker"]),
        # The lead council hears of every payment made; its caseworker is copied in.
        T(
            "pay",
            "approved",
            "paid",
            roles={"finance"},
            notice=Notice("payment.paid", ("council",), ("caseworker",)),
        ),
        T("hold", ("due", "approved"), "held", roles={"caseworker", "system"}, needs_reason=True),
        T("release", "held", "due", roles={"caseworker", "system"}),
        T("cancel", ("due", "approved", "held"), "cancelled", roles={"system"}),
        T("replan", "approved", "due", roles={"system", "approver", "caseworker"}),
        T("replan", "due", "due", roles={"system", "approver", "caseworker"}),
        T("replan", "held", "held", roles={"system", "approver", "caseworker"}),
    ],
    state_words={
        "due": ("Due", "The tranche's event has happened; an approver approves the payment."),
        "approved": ("Approved", "An approver approved the payment; finance pays it."),
        "paid": (
            "Paid",
            "Finance paid the money to the lead council, with a remittance reference.",
        ),
        "held": (
            "Held",
            "The payment is held (the case is suspended, or a caseworker held "
            "it) and cannot be paid until it is released.",
        ),
        "cancelled": (
            "Cancelled",
            "The payment will not be made: the award was terminated or declined.",
        ),
    },
    trigger_words={
        "approve": (
            "Approve the payment",
            "Agree that the payment may be made; an approver "
            "who is not the case's caseworker does this.",
        ),
        "pay": (
            "Record the payment",
            "Finance records the money paid, with the remittance reference.",
        ),
        "hold": ("Hold the payment", "Stop the payment being made until it is released."),
        "release": (
            "Release the payment",
            "Let a held payment go ahead: it is due again and needs approving.",
        ),
        "cancel": ("Cancel the payment", "The payment will not be made because the award ended."),
        "replan": (
            "Re-plan the payment",
            "The award changed, so the payment's amount was worked out again.",
        ),
    },
    groups={
        "unpaid": ("due", "approved", "held"),  # a re-plan may change these
        "payable": ("approved",),  # finance's inbox
        "to_approve": ("due",),  # an approver's inbox
        "holdable": ("due", "approved"),  # the case's suspension holds these
        "on_hold": ("held",),
        "settled": ("paid",),  # money that left the fund
        "live": ("due", "approved", "held", "paid"),  # counted against the award
        "as_listed": ("due", "approved", "held", "paid", "cancelled"),
        # How a page colours the state (it always shows the name too).
        "going_well": ("paid", "approved"),
        "in_trouble": ("held",),
        "waiting": ("due",),
        "at_rest": ("cancelled",),
    },
)

# An award completed with tranches whose events never came (a return waived): what they would
# have paid goes back to the fund (the bid's `complete`, effect `release_unscheduled`), and the
# lead council hears how much and why, in the same transaction; its caseworker is copied in.
RELEASED_TO_FUND = Notice("payment.released_to_fund", ("council",), ("caseworker",))


def tranche_amounts(
    award_pence: int,
    shares: "list[Decimal] | tuple[Decimal, ...]",
    fixed: "dict[int, int] | None" = None,
) -> list[int]:
    """Each tranche's amount in pence, for an award of `award_pence`.

    `shares` are the schedule's percentages (adding up to 100); `fixed` gives
    the amounts of tranches (by index) already paid, which never change. The
    others take their share, rounded down to the penny, and the last tranche
    not fixed takes what is left, so the amounts add up to the award exactly.
    Should the paid tranches already hold more than their shares of the new
    award, the tranches after them get what is left in order, never below 0.
    """
    fixed = dict(fixed or {})
    paid = sum(fixed.values())
    if paid > award_pence:
        raise ValueError(f"{paid} pence are already paid, more than an award of {award_pence}")
    open_ = [i for i in range(len(shares)) if i not in fixed]
    left = award_pence - paid
    out = [fixed.get(i, 0) for i in range(len(shares))]
    for i in open_[:-1]:
        share = (Decimal(award_pence) * Decimal(shares[i]) / 100).to_integral_value(ROUND_FLOOR)
        out[i] = min(int(share), left)
        left -= out[i]
    if open_:
        out[open_[-1]] = left
    return out
