"""A monitoring return (DESIGN.md section 1, "Checkpoint").

Its transitions are rows of its case's history chain, carrying the checkpoint
(`Q2`), so an auditor reads a case and its returns in one place.
"""
from states.definition import Definition, T

UNFINISHED = ("scheduled", "open", "overdue", "escalated", "queried", "submitted")

CHECKPOINT = Definition(
    kind="checkpoint",
    label="Monitoring return",
    initial="scheduled",
    final={"accepted", "waived"},
    transitions=[
        T("open", "scheduled", "open", roles={"system"}),
        T("submit", ("open", "overdue", "escalated", "queried"), "submitted",
          roles={"council", "caseworker"}, guards=["return_complete"]),
        T("accept", "submitted", "accepted", roles={"caseworker"}),
        T("query", "submitted", "queried", roles={"caseworker"}, needs_reason=True),
        T("mark_overdue", "open", "overdue", roles={"system"}),
        T("escalate", ("overdue", "escalated"), "escalated", roles={"system"}),
        T("waive", UNFINISHED, "waived", roles={"caseworker"}, needs_reason=True),
    ],
)
