"""A Public Service Transformation Network area (DESIGN.md section 1, "Network area")."""
from states.definition import Definition, T

COUNCIL_OR_CASEWORKER = {"council", "caseworker"}
CASEWORKER = {"caseworker"}

AREA = Definition(
    kind="area",
    label="Public Service Transformation Network area",
    initial="draft",
    final={"not_selected", "completed", "withdrawn"},
    transitions=[
        T("submit", "draft", "expression_of_interest", roles=COUNCIL_OR_CASEWORKER,
          guards=["eoi_complete"]),
        T("start_assessment", "expression_of_interest", "under_assessment", roles=CASEWORKER),
        T("select", "under_assessment", "selected", roles={"approver"}),
        T("decline", "under_assessment", "not_selected", roles={"approver"}),
        T("onboard", "selected", "onboarding", roles=CASEWORKER),
        T("activate", "onboarding", "active", roles=CASEWORKER, guards=["contribution_agreed"]),
        T("suspend", "active", "suspended", roles={"caseworker", "system"}),
        T("reinstate", "suspended", "active", roles=CASEWORKER),
        T("complete", "active", "completed", roles=CASEWORKER),
        T("withdraw", ("draft", "expression_of_interest", "under_assessment"), "withdrawn",
          roles=COUNCIL_OR_CASEWORKER),
    ],
)
