"""Who may see and act on what: one module for the command line, the web and the API.

- Seeing: staff see every case; a council person sees the cases their
  organisation leads or is a partner in, and another's case is "not found",
  with no data, exactly as if it did not exist (`may_see`, `check_visible`).
- Reading: which role may read which collection (`READS`, `require`).
- Acting: the role in which a person may take an action that is not a
  transition (`may_act`: open a case, declare, score, hand over...);
  transitions' roles are the definitions' (workflow.services.engine.plan).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from states import DEFINITIONS
from states.roles import ACTION_ROLES, ROLES
from states.words import one_of, role_people
from workflow.services.engine import Actor
from workflow.errors import CaseNotFound, PermissionDenied
from workflow.storage.records import CaseRecord

__all__ = [
    "STAFF",
    "READS",
    "require",
    "sees_every_case",
    "org_scope",
    "may_see",
    "check_visible",
    "may_act",
    "NO_CASES",
    "LEAD_ONLY",
]

STAFF = frozenset({"caseworker", "assessor", "approver", "auditor", "admin", "finance"})
PEOPLE_ROLES = frozenset(ROLES - {"system"})

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
    # The command line's `org list` and `user list --as NAME`: addresses of every council and
    # person, which the web shows only in its admin area.
    "directory": (frozenset({"admin"}), "list every organisation and person"),
}

# States in which only the lead organisation (and staff) see a case: a draft is the lead's own.
LEAD_ONLY = frozenset(s for d in DEFINITIONS.values() for s in d.groups.get("lead_only", ()))

NO_CASES = "\x00no cases"  # the scope of a council person without an organisation


def require(actor: Actor, read: str) -> None:
    allowed, words = READS[read]
    if actor.roles & allowed:
        return
    roles = ", ".join(sorted(actor.roles)) or "no role"
    who = sorted(role_people(r) for r in allowed)
    listed = ", ".join(who[:-1]) + f" and {who[-1]}" if len(who) > 1 else who[0]
    raise PermissionDenied(
        f"{actor.name} ({roles}) may not {words}: only {listed} may.", person=actor.name
    )


def sees_every_case(actor: Actor) -> bool:
    """Staff see every case (auditors and admins read all); anyone else, their organisation's."""
    return bool(actor.roles & STAFF)


def org_scope(actor: Actor) -> str | None:
    """None for every case; else the organisation whose cases this person sees."""
    if sees_every_case(actor):
        return None
    return actor.org or NO_CASES


def may_see(
    actor: Actor, lead: str, partners: Iterable[str] | None, state: str | None = None
) -> bool:
    """Whether `actor` may see a case led by `lead` with these partners, in `state`: while
    the case is in a state its definition keeps `lead_only` (a draft), its partners don't."""
    scope = org_scope(actor)
    if scope is None or scope == lead:
        return True
    return state not in LEAD_ONLY and scope in list(partners or ())


def check_visible(actor: Actor, case: Mapping[str, Any] | CaseRecord) -> None:
    """CaseNotFound unless `actor` may see `case` (a case_json dict or a case record):
    another organisation's case is "not found", never said to exist."""
    if isinstance(case, Mapping):
        ref, lead, partners, state = (
            case["ref"],
            case["lead"],
            case.get("partners"),
            case.get("state"),
        )
    else:
        ref, lead, partners, state = case.ref, case.lead, case.partners, case.state
    if not may_see(actor, lead, partners, state):
        raise CaseNotFound(ref)


def check_staff_read(actor: Actor, case: CaseRecord, what: str) -> None:
    """CaseNotFound unless `actor` may see `case`; PermissionDenied unless they are staff:
    `what` of a case (its due diligence, its annual reviews) is for those who run it."""
    check_visible(actor, case)
    if not sees_every_case(actor):
        raise PermissionDenied(
            f"{actor.name} may not read {case.ref}'s {what}: only staff may.", person=actor.name
        )


def may_act(actor: Actor, action: str, lead: str | None, what: str) -> str:
    """The role in which `actor` may take a non-transition `action`, or PermissionDenied."""
    allowed = ACTION_ROLES[action]
    for role in sorted(actor.roles & allowed):
        if role == "council" and actor.org != lead:
            continue
        return role
    if "council" in allowed and "council" in actor.roles:
        raise PermissionDenied(
            f"{actor.name} is not a person of {lead}, so they cannot {what}.", person=actor.name
        )
    raise PermissionDenied(
        f"{actor.name} may not {what}: only {one_of(allowed)} may.", person=actor.name
    )
