"""A Public Service Transformation Network area (DESIGN.md section 1, "Network area")."""

from states.definition import Definition, Notice, T

COUNCIL_OR_CASEWORKER = {"council", "caseworker"}
CASEWORKER = {"caseworker"}

AREA = Definition(
    kind="area",
    label="Public Service Transformation Network area",
    initial="draft",
    final={"not_selected", "completed", "withdrawn"},
    transitions=[
        # Due diligence: the automatic checks run at submission and again when the
        # assessment starts, which is refused until every check has passed.
        T(
            "submit",
            "draft",
            "expression_of_interest",
            roles=COUNCIL_OR_CASEWORKER,
            guards=["eoi_complete"],
            notice=Notice("case.submitted", ("council",)),
            effects=["run_diligence"],
        ),
        T(
            "start_assessment",
            "expression_of_interest",
            "under_assessment",
            roles=CASEWORKER,
            guards=["diligence_passed"],
            effects=["run_diligence"],
        ),
        # As for a bid: the question is the reason, and the lead council is emailed it.
        T(
            "ask_clarification",
            "under_assessment",
            "clarification_requested",
            roles={"caseworker", "assessor"},
            needs_reason=True,
            notice=Notice("case.clarification_requested", ("council",), ("caseworker",)),
        ),
        # The council may have amended its expression of interest: the rules of `submit` again.
        T(
            "answer",
            "clarification_requested",
            "under_assessment",
            roles=COUNCIL_OR_CASEWORKER,
            guards=["eoi_complete"],
        ),
        T(
            "select",
            "under_assessment",
            "selected",
            roles={"approver"},
            notice=Notice("area.selected", ("council",), ("lead",)),
        ),
        T(
            "decline",
            "under_assessment",
            "not_selected",
            roles={"approver"},
            confirm=(
                "The expression of interest goes no further and the council is told by "
                "email. This cannot be undone."
            ),
            notice=Notice("area.not_selected", ("council",), ("lead",)),
        ),
        T("onboard", "selected", "onboarding", roles=CASEWORKER),
        # Monitoring starts: the area's returns are scheduled from the programme's cadence.
        T(
            "activate",
            "onboarding",
            "active",
            roles=CASEWORKER,
            guards=["contribution_agreed"],
            effects=["schedule_checkpoints"],
        ),
        T(
            "suspend",
            "active",
            "suspended",
            roles={"caseworker", "system"},
            needs_reason=True,
            confirm=(
                "The area's work with the network is paused and the council is told by "
                "email. A caseworker can reinstate it later; the suspension stays in its history."
            ),
            notice=Notice("case.suspended", ("council",), ("escalation", "caseworker")),
        ),
        # Back in monitoring: no longer at risk unless a return is still overdue.
        T(
            "reinstate",
            "suspended",
            "active",
            roles=CASEWORKER,
            effects=["lift_risk"],
            notice=Notice("case.reinstated", ("council",), ("caseworker",)),
        ),
        T("complete", "active", "completed", roles=CASEWORKER),
        T(
            "withdraw",
            ("draft", "expression_of_interest", "under_assessment", "clarification_requested"),
            "withdrawn",
            roles=COUNCIL_OR_CASEWORKER,
            needs_reason=True,
            confirm=(
                "The case stops here for good and the council is told by email. "
                "This cannot be undone."
            ),
            notice=Notice("case.withdrawn", ("council",), ("caseworker",)),
        ),
    ],
    state_words={
        "draft": ("Draft", "The area is still writing its expression of interest."),
        "expression_of_interest": (
            "Expression of interest",
            "The area has sent its expression of interest; a caseworker starts the assessment.",
        ),
        "under_assessment": (
            "Under assessment",
            "The expression of interest is being assessed; an approver selects or declines it.",
        ),
        "clarification_requested": (
            "Waiting for the council's answer",
            "The council has been asked a question about the "
            "expression of interest and assessment waits for its "
            "answer.",
        ),
        "selected": ("Selected", "The area is chosen to work with the network."),
        "onboarding": (
            "Onboarding",
            "The area is joining the network; its contribution to running costs is agreed.",
        ),
        "active": ("Active", "The area works with the network and sends monitoring returns."),
        "suspended": ("Suspended", "The area's work with the network is paused."),
        "not_selected": ("Not selected", "The expression of interest is not taken forward."),
        "completed": ("Completed", "The area's work with the network is finished."),
        "withdrawn": ("Withdrawn", "The area withdrew before it was selected."),
    },
    trigger_words={
        "submit": (
            "Submit the expression of interest",
            "Send the expression of interest to the network.",
        ),
        "start_assessment": ("Start assessment", "Begin assessing the expression of interest."),
        "ask_clarification": (
            "Ask the council a question",
            "Pause the assessment until the council answers a question.",
        ),
        "answer": ("Answer the question", "Send the council's answer and resume assessment."),
        "select": ("Select the area", "Choose the area to work with the network."),
        "decline": ("Do not select", "Decide not to take the expression of interest forward."),
        "onboard": ("Start onboarding", "Begin bringing the area into the network."),
        "activate": ("Activate", "Start the area's work once its contribution is agreed."),
        "suspend": ("Suspend", "Pause the area's work with the network."),
        "reinstate": ("Reinstate", "Lift the suspension; the area is active again."),
        "complete": ("Mark as complete", "Finish the area's work with the network."),
        "withdraw": ("Withdraw", "Take the area out before it is selected."),
    },
    groups={
        "deciding": ("expression_of_interest", "under_assessment", "clarification_requested"),
        "clarifying": ("clarification_requested",),
        # From the moment interest is expressed until the area leaves the programme.
        "contributing": (
            "expression_of_interest",
            "under_assessment",
            "clarification_requested",
            "selected",
            "onboarding",
            "active",
            "suspended",
        ),
        # The network's income: contributions of areas in the programme or that completed it.
        "contribution_counted": (
            "expression_of_interest",
            "under_assessment",
            "clarification_requested",
            "selected",
            "onboarding",
            "active",
            "suspended",
            "completed",
        ),
        # An area whose expression of interest makes a later one of its lead a duplicate.
        "standing": (
            "expression_of_interest",
            "under_assessment",
            "clarification_requested",
            "selected",
            "onboarding",
            "active",
            "suspended",
            "completed",
        ),
        "monitored": ("active", "suspended"),  # returns are collected
        "held": ("suspended",),
        # Work queues: whose move it is.
        "to_check": ("expression_of_interest",),
        "to_select": ("under_assessment",),
        "to_onboard": ("selected", "onboarding"),
        "council_to_act": ("draft", "clarification_requested"),
        # The expression of interest may be changed (amended) only here.
        "amendable": ("draft", "clarification_requested"),
        # Seen by the lead organisation alone (and staff): partners see it once submitted.
        "lead_only": ("draft",),
        # How a page colours the state (it always shows the name too).
        "going_well": ("selected", "active", "completed"),
        "in_trouble": ("not_selected", "suspended"),
        "waiting": ("expression_of_interest", "clarification_requested"),
        "at_rest": ("draft", "withdrawn"),
    },
)
