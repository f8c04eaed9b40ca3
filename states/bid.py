"""A Transformation Challenge Award bid (DESIGN.md section 1, "Bid")."""

from states.definition import Definition, Notice, T

COUNCIL_OR_CASEWORKER = {"council", "caseworker"}
CASEWORKER = {"caseworker"}

# Unfinished states before an award is offered: a bid can be withdrawn from any.
BEFORE_OFFER = (
    "draft",
    "submitted",
    "eligible",
    "under_assessment",
    "clarification_requested",
    "moderated",
    "recommended",
)

# The council hears of a decision on its bid; the caseworker is copied in.
_TO_COUNCIL = (("council",), ("caseworker",))

BID = Definition(
    kind="bid",
    label="Transformation Challenge Award bid",
    initial="draft",
    final={"ineligible", "rejected", "declined", "withdrawn", "terminated", "closed"},
    transitions=[
        # Due diligence: the automatic checks run (and are recorded) at submission and
        # again at the check, which is refused until every check has passed (and when the
        # bid is declared ineligible instead).
        T(
            "submit",
            "draft",
            "submitted",
            roles=COUNCIL_OR_CASEWORKER,
            guards=["meets_category_rules"],
            notice=Notice("case.submitted", ("council",)),
            effects=["run_diligence"],
        ),
        T(
            "check",
            "submitted",
            "eligible",
            roles=CASEWORKER,
            guards=["meets_category_rules", "diligence_passed"],
            effects=["run_diligence"],
        ),
        # The automatic checks run again as the bid is declared ineligible, so its history
        # holds the results the decision rests on (a duplicate found since submission).
        T(
            "declare_ineligible",
            "submitted",
            "ineligible",
            roles=CASEWORKER,
            needs_reason=True,
            effects=["run_diligence"],
            confirm=(
                "The bid goes no further and the council is told by email. This cannot be undone."
            ),
            notice=Notice("bid.ineligible", *_TO_COUNCIL),
        ),
        T("start_assessment", "eligible", "under_assessment", roles=CASEWORKER),
        # The question is the reason; the lead council is emailed it, with a link to answer.
        T(
            "ask_clarification",
            "under_assessment",
            "clarification_requested",
            roles={"caseworker", "assessor"},
            needs_reason=True,
            notice=Notice("case.clarification_requested", ("council",), ("caseworker",)),
        ),
        # The council may have amended its application: the rules of `submit` run again.
        T(
            "answer",
            "clarification_requested",
            "under_assessment",
            roles=COUNCIL_OR_CASEWORKER,
            guards=["meets_category_rules"],
        ),
        T(
            "moderate",
            "under_assessment",
            "moderated",
            roles=CASEWORKER,
            guards=["has_two_scores", "no_conflicted_assessor", "scores_agree"],
        ),
        T("recommend", "moderated", "recommended", roles=CASEWORKER),
        T(
            "reject",
            "moderated",
            "rejected",
            roles=CASEWORKER,
            needs_reason=True,
            confirm=(
                "The bid is turned down and the council is told by email. This cannot be undone."
            ),
            notice=Notice("bid.rejected", *_TO_COUNCIL),
        ),
        # A second approver's signature (DESIGN.md section 9): a move that keeps the state.
        T(
            "countersign",
            "recommended",
            "recommended",
            roles={"approver"},
            guards=["needs_countersignature"],
            actor_rules=["may_countersign"],
            records=["amount"],
        ),
        T(
            "offer",
            "recommended",
            "award_offered",
            roles={"approver"},
            guards=[
                "meets_category_rules",
                "within_fund",
                "within_category_count",
                "countersigned",
            ],
            actor_rules=["did_not_assess", "did_not_countersign"],
            effects=["reserve_funds"],
            moves_funds=True,
            records=["amount", "agreement"],
            notice=Notice("bid.award_offered", *_TO_COUNCIL),
        ),
        # Monitoring starts: the bid's returns are scheduled from the programme's cadence,
        # and the first annual review falls due twelve months on (DESIGN.md section 9).
        # The council accepts the agreement's latest version: its row notes which, and its hash;
        # the tranches paid on acceptance fall due (states/payment.py).
        T(
            "accept",
            "award_offered",
            "in_monitoring",
            roles=COUNCIL_OR_CASEWORKER,
            effects=["schedule_checkpoints", "open_tranches", "schedule_review"],
            records=["agreement_accepted"],
        ),
        T(
            "decline",
            "award_offered",
            "declined",
            roles=COUNCIL_OR_CASEWORKER,
            effects=["release_funds", "cancel_payments"],
            moves_funds=True,
            confirm=(
                "The offer is declined for good: its money goes back to the fund, its "
                "payments are cancelled and the council is told by email. This cannot be undone."
            ),
            notice=Notice("bid.declined", *_TO_COUNCIL),
        ),
        # What no tranche will pay (a last return waived, so its tranche never fell due)
        # goes back to the fund; what is paid or due stays committed.
        T(
            "complete",
            "in_monitoring",
            "closed",
            roles=CASEWORKER,
            guards=["all_checkpoints_accepted"],
            effects=["release_unscheduled"],
            moves_funds=True,
        ),
        T(
            "suspend",
            "in_monitoring",
            "suspended",
            roles={"caseworker", "system"},
            needs_reason=True,
            confirm=(
                "Payments are held and the council is told by email. A caseworker can "
                "reinstate the case later; the suspension stays in its history."
            ),
            effects=["hold_payments"],
            notice=Notice("case.suspended", ("council",), ("escalation", "caseworker")),
        ),
        # Back in monitoring: no longer at risk unless a return is still overdue.
        T(
            "reinstate",
            "suspended",
            "in_monitoring",
            roles=CASEWORKER,
            effects=["lift_risk", "release_payments"],
            notice=Notice("case.reinstated", *_TO_COUNCIL),
        ),
        T(
            "terminate",
            "suspended",
            "terminated",
            roles={"approver"},
            actor_rules=["did_not_assess"],
            needs_reason=True,
            confirm=(
                "The award ends for good, its unpaid funds go back to the fund and the "
                "council is told by email. This cannot be undone."
            ),
            effects=["release_funds", "cancel_payments"],
            moves_funds=True,
            notice=Notice("bid.terminated", ("council",), ("escalation", "caseworker")),
        ),
        T(
            "withdraw",
            BEFORE_OFFER,
            "withdrawn",
            roles=COUNCIL_OR_CASEWORKER,
            needs_reason=True,
            confirm=(
                "The case stops here for good and the council is told by email. "
                "This cannot be undone."
            ),
            notice=Notice("case.withdrawn", *_TO_COUNCIL),
        ),
    ],
    state_words={
        "draft": ("Draft", "The council is still writing the bid; nobody else has seen it."),
        "submitted": (
            "Submitted",
            "The council has sent the bid; a caseworker checks it against its category's rules.",
        ),
        "eligible": ("Eligible", "The bid meets its category's rules and waits for assessment."),
        "under_assessment": ("Under assessment", "Assessors are scoring the bid."),
        "clarification_requested": (
            "Waiting for the council's answer",
            "The council has been asked a question about the bid "
            "and assessment waits for its answer.",
        ),
        "moderated": (
            "Moderated",
            "The scores are agreed; a caseworker recommends or rejects the bid.",
        ),
        "recommended": (
            "Recommended",
            "The bid is recommended for an award; an approver decides whether to offer it.",
        ),
        "award_offered": (
            "Award offered",
            "An award is offered and its money reserved; the council accepts or declines it.",
        ),
        "in_monitoring": (
            "In monitoring",
            "The award is accepted; the council sends monitoring returns.",
        ),
        "suspended": (
            "Suspended",
            "Payments are held until a caseworker reinstates the award "
            "or an approver terminates it.",
        ),
        "ineligible": ("Ineligible", "The bid was found ineligible and goes no further."),
        "rejected": ("Rejected", "The bid was assessed and is not funded."),
        "declined": ("Declined", "The council declined the award; its money was released."),
        "withdrawn": ("Withdrawn", "The bid was withdrawn before any award was offered."),
        "terminated": ("Terminated", "The award was ended; its unpaid money was released."),
        "closed": ("Closed", "Every return was accepted and the award is complete."),
    },
    trigger_words={
        "submit": ("Submit the bid", "Send the bid to the programme to be checked."),
        "check": ("Check eligibility", "Confirm the bid meets its category's rules."),
        "declare_ineligible": (
            "Declare ineligible",
            "End the bid as ineligible, giving the reason (due diligence, fraud risk).",
        ),
        "start_assessment": ("Start assessment", "Let assessors score the bid."),
        "ask_clarification": (
            "Ask the council a question",
            "Pause the assessment until the council answers a question.",
        ),
        "answer": ("Answer the question", "Send the council's answer and resume assessment."),
        "moderate": (
            "Moderate the scores",
            "Agree the assessors' scores so a decision can be made.",
        ),
        "recommend": ("Recommend for award", "Put the bid to an approver for an award."),
        "reject": ("Reject the bid", "End the bid as not funded."),
        "countersign": (
            "Countersign the offer",
            "Sign as the second approver of an offer above the programme's "
            "threshold, or as the senior responsible owner of a high-risk one.",
        ),
        "offer": (
            "Offer the award",
            "Offer the council the award, reserve its money and draw up the grant agreement.",
        ),
        "accept": (
            "Accept the award",
            "Accept the grant agreement and take up the award; monitoring returns start.",
        ),
        "decline": ("Decline the award", "Turn the award down; its money is released."),
        "complete": ("Mark as complete", "Close the award once every return is accepted."),
        "suspend": ("Suspend", "Hold the award's payments."),
        "reinstate": ("Reinstate", "Lift the suspension; monitoring carries on."),
        "terminate": ("Terminate the award", "End the award; its unpaid money is released."),
        "withdraw": ("Withdraw", "Take the bid out of the programme."),
    },
    groups={
        # Where a bid stands, as the rest of casework asks it.
        "deciding": (
            "submitted",
            "eligible",
            "under_assessment",
            "clarification_requested",
            "moderated",
            "recommended",
        ),
        "declaring": ("eligible", "under_assessment", "clarification_requested"),
        "scoring": ("under_assessment",),
        "clarifying": ("clarification_requested",),
        "ranked": ("moderated", "recommended"),
        # An offer made and not given back (closed bids kept theirs).
        "offer_standing": ("award_offered", "in_monitoring", "suspended", "closed"),
        "holding_funds": ("award_offered", "in_monitoring", "suspended"),
        # Every bid an offer was ever made to (published as a grant).
        "offered": (
            "award_offered",
            "in_monitoring",
            "suspended",
            "closed",
            "declined",
            "terminated",
        ),
        "offer_given_back": ("declined",),
        # A bid that makes a later one of the same lead and category a duplicate.
        "standing": (
            "submitted",
            "eligible",
            "under_assessment",
            "clarification_requested",
            "moderated",
            "recommended",
            "award_offered",
            "in_monitoring",
            "suspended",
            "ineligible",
            "declined",
            "terminated",
            "closed",
        ),
        "monitored": ("in_monitoring", "suspended"),  # returns are collected
        "open_to_variation": ("in_monitoring",),  # a variation may be proposed, approved
        "held": ("suspended",),  # payments are held
        "recoverable": ("terminated",),  # paid money may be owed back
        # Found eligible at some point: has an assessment to show.
        "assessed": (
            "eligible",
            "under_assessment",
            "clarification_requested",
            "moderated",
            "recommended",
            "rejected",
            "award_offered",
            "in_monitoring",
            "suspended",
            "declined",
            "terminated",
            "closed",
            "withdrawn",
        ),
        # Work queues: whose move it is.
        "to_check": ("submitted",),
        "to_assess": ("eligible",),
        "to_recommend": ("moderated",),
        "to_offer": ("recommended",),
        "council_to_act": ("draft", "clarification_requested", "award_offered"),
        # The application's document may be changed (amended) only here.
        "amendable": ("draft", "clarification_requested"),
        # Seen by the lead organisation alone (and staff): partners see it once submitted.
        "lead_only": ("draft",),
        # How a page colours the state (it always shows the name too).
        "going_well": ("eligible", "award_offered", "in_monitoring", "closed"),
        "in_trouble": ("ineligible", "rejected", "suspended", "terminated"),
        "waiting": ("submitted", "clarification_requested", "recommended", "moderated"),
        "at_rest": ("draft", "withdrawn", "declined"),
    },
)
