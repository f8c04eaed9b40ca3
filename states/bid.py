"""A Transformation Challenge Award bid (DESIGN.md section 1, "Bid")."""
from states.definition import Definition, T

COUNCIL_OR_CASEWORKER = {"council", "caseworker"}
CASEWORKER = {"caseworker"}

# Unfinished states before an award is offered: a bid can be withdrawn from any.
BEFORE_OFFER = ("draft", "submitted", "eligible", "under_assessment",
                "clarification_requested", "moderated", "recommended")

BID = Definition(
    kind="bid",
    label="Transformation Challenge Award bid",
    initial="draft",
    final={"ineligible", "rejected", "declined", "withdrawn", "terminated", "closed"},
    transitions=[
        T("submit", "draft", "submitted", roles=COUNCIL_OR_CASEWORKER,
          guards=["meets_category_rules"]),
        T("check", "submitted", "eligible", roles=CASEWORKER, guards=["meets_category_rules"]),
        T("declare_ineligible", "submitted", "ineligible", roles=CASEWORKER, needs_reason=True),
        T("start_assessment", "eligible", "under_assessment", roles=CASEWORKER),
        T("ask_clarification", "under_assessment", "clarification_requested",
          roles={"caseworker", "assessor"}),
        T("answer", "clarification_requested", "under_assessment", roles=COUNCIL_OR_CASEWORKER),
        T("moderate", "under_assessment", "moderated", roles=CASEWORKER,
          guards=["has_two_scores", "no_conflicted_assessor", "scores_agree"]),
        T("recommend", "moderated", "recommended", roles=CASEWORKER),
        T("reject", "moderated", "rejected", roles=CASEWORKER),
        T("offer", "recommended", "award_offered", roles={"approver"},
          guards=["meets_category_rules", "within_fund", "within_category_count"],
          actor_rules=["did_not_assess"]),
        T("accept", "award_offered", "in_monitoring", roles=COUNCIL_OR_CASEWORKER),
        T("decline", "award_offered", "declined", roles=COUNCIL_OR_CASEWORKER),
        T("complete", "in_monitoring", "closed", roles=CASEWORKER,
          guards=["all_checkpoints_accepted"]),
        T("suspend", "in_monitoring", "suspended", roles={"caseworker", "system"}),
        T("reinstate", "suspended", "in_monitoring", roles=CASEWORKER),
        T("terminate", "suspended", "terminated", roles={"approver"},
          actor_rules=["did_not_assess"]),
        T("withdraw", BEFORE_OFFER, "withdrawn", roles=COUNCIL_OR_CASEWORKER),
    ],
)
