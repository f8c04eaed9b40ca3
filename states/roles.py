"""The roles a person can hold (DESIGN.md section 1)."""

ROLES: frozenset[str] = frozenset(
    {"caseworker", "assessor", "approver", "auditor", "admin", "council", "system", "finance"}
)

# Roles that may fire some case trigger; admins and auditors fire none.
CASE_ROLES: frozenset[str] = frozenset(
    {"caseworker", "assessor", "approver", "council", "system", "finance"}
)

# When a person holds several roles allowed for one trigger, history records
# the first of these that fits, so the row names the capacity they acted in.
ROLE_PREFERENCE: tuple[str, ...] = (
    "council",
    "caseworker",
    "assessor",
    "approver",
    "finance",
    "system",
    "admin",
    "auditor",
)

# Actions that are not transitions but still change a case, and who may take
# them (DESIGN.md section 1's role table).
ACTION_ROLES: dict[str, frozenset[str]] = {
    "open": frozenset({"council", "caseworker"}),
    "declare": frozenset({"assessor"}),
    "score": frozenset({"assessor"}),
    "agree_score": frozenset({"caseworker"}),
    "record_contribution": frozenset({"caseworker"}),
    "outbox_retry": frozenset({"caseworker"}),
    "assign": frozenset({"caseworker"}),
    # Changing an application's document (a draft, or answering a question).
    "amend": frozenset({"council", "caseworker"}),
    # Recording the eligible spend of a terminated award that had payments.
    "recover": frozenset({"caseworker"}),
    # A variation of an award is proposed by the lead council or the caseworker;
    # an approver decides it (states.variation's transitions).
    "propose_variation": frozenset({"council", "caseworker"}),
    "record_diligence": frozenset({"caseworker"}),
    "review": frozenset({"caseworker"}),  # record an annual review's decision
}
