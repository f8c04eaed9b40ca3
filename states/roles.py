"""The roles a person can hold (DESIGN.md section 1)."""

ROLES: frozenset[str] = frozenset(
    {"caseworker", "assessor", "approver", "auditor", "admin", "council", "system"}
)

# Roles that may fire some case trigger; admins and auditors fire none.
CASE_ROLES: frozenset[str] = frozenset(
    {"caseworker", "assessor", "approver", "council", "system"}
)

# When a person holds several roles allowed for one trigger, history records
# the first of these that fits, so the row names the capacity they acted in.
ROLE_PREFERENCE: tuple[str, ...] = (
    "council", "caseworker", "assessor", "approver", "system", "admin", "auditor",
)
