"""Who may read what through the API, and who sees which cases.

Triggers and returns are the services' to allow or refuse (the same rules as
the command line and the web app). What is decided here is reading: which
role may read which collection, and that a council person sees only the
cases their organisation leads or is a partner in. Another council's case is
"not found", with no data, exactly as if it did not exist.
"""
from __future__ import annotations

from typing import Any, Mapping

from states.roles import ROLES
from workflow.services.engine import Actor
from workflow.errors import CaseNotFound, PermissionDenied

__all__ = ["READS", "require", "sees_every_case", "org_scope", "check_visible", "NO_CASES"]

PEOPLE_ROLES = frozenset(ROLES - {"system"})
STAFF = frozenset({"caseworker", "assessor", "approver", "auditor", "admin"})

# Each read the API offers: who may make it, and how a refusal names it.
READS: dict[str, tuple[frozenset[str], str]] = {
    "cases": (PEOPLE_ROLES, "read cases"),
    "returns": (PEOPLE_ROLES, "read monitoring returns"),
    "programmes": (PEOPLE_ROLES, "read programmes"),
    "360giving": (PEOPLE_ROLES, "read published awards"),
    "history": (frozenset({"caseworker", "auditor"}), "read a case's history"),
    "ranking": (STAFF, "read a programme's ranking"),
    "outbox": (frozenset({"caseworker"}), "read the outbox"),
    "audit_export": (frozenset({"auditor"}), "export the history"),
}

NO_CASES = "\x00no cases"       # the scope of a council person without an organisation


def require(actor: Actor, read: str) -> None:
    allowed, words = READS[read]
    if actor.roles & allowed:
        return
    roles = ", ".join(sorted(actor.roles)) or "no role"
    who = sorted(f"{r}s" for r in allowed)
    listed = ", ".join(who[:-1]) + f" and {who[-1]}" if len(who) > 1 else who[0]
    raise PermissionDenied(f"{actor.name} ({roles}) may not {words}: only {listed} may.",
                           person=actor.name)


def sees_every_case(actor: Actor) -> bool:
    """Everyone but a council person sees every case (auditors and admins read all)."""
    return bool(actor.roles - {"council"})


def org_scope(actor: Actor) -> str | None:
    """None for every case; else the organisation whose cases this person sees."""
    if sees_every_case(actor):
        return None
    return actor.org or NO_CASES


def check_visible(actor: Actor, case: Mapping[str, Any] | Any) -> None:
    """CaseNotFound unless `actor` may see `case` (a case_json dict or a case row)."""
    scope = org_scope(actor)
    if scope is None:
        return
    get = case.get if isinstance(case, Mapping) else (lambda k: getattr(case, k))
    if scope != get("lead") and scope not in list(get("partners") or []):
        raise CaseNotFound(get("ref"))
