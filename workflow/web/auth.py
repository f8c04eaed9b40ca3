"""Who is asking: the signed-in person, their roles, and what they may see.

What a person may *do* is decided by the services (the same refusals as the
command line). What they may *see* is decided here: a council person sees
only the cases their organisation leads or is a partner in, and anything else
is "not found", exactly as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, bindparam, func, select
from starlette.requests import Request

from workflow.services import access
from workflow.storage.db import reading
from workflow.services.engine import Actor
from workflow.errors import CaseNotFound
from workflow.storage.tables import organisations, people
from workflow.web.lockout import attempts
from workflow.web.session import SCOPE_KEY, Session, fingerprint

AUDIT_ROLES = frozenset({"auditor", "caseworker"})

_LAST_SIGN_OUT = (
    select(func.max(attempts.c.at))
    .where(attempts.c.name == people.c.name, attempts.c.outcome == "signout")
    .scalar_subquery()
)
_PERSON = (
    select(
        people.c.name,
        people.c.roles,
        people.c.org,
        people.c.email,
        people.c.password_hash,
        people.c.disabled_at,
        organisations.c.name.label("org_name"),
        _LAST_SIGN_OUT.label("signed_out"),
    )
    .select_from(people.outerjoin(organisations, organisations.c.code == people.c.org))
    .where(people.c.name == bindparam("name"))
)


class SignInNeeded(Exception):
    """The page needs a signed-in person; they are sent to /sign-in and brought back."""


class Forbidden(Exception):
    """Signed in, but this page is not for their role."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Viewer:
    name: str
    roles: frozenset[str]
    org: str | None
    org_name: str | None
    email: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.name, self.roles, self.org)

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def council_only(self) -> bool:
        """Sees only their own organisation's cases (no staff role: workflow.services.access)."""
        return not access.sees_every_case(self.actor)

    def landing(self) -> str:
        """Where sign-in takes them (DESIGN.md section 6)."""
        if self.has("caseworker", "assessor", "approver"):
            return "/inbox"
        if "council" in self.roles:
            return "/returns"
        if self.roles == {"admin"}:
            return "/admin"
        if "finance" in self.roles:  # their work: approved payments to pay
            return "/payments"
        return "/cases"

    def may_see(self, lead: str, partners: Any, state: str | None = None) -> bool:
        return access.may_see(self.actor, lead, partners, state)

    def check_sees(self, ref: str, lead: str, partners: Any, state: str | None = None) -> None:
        """Refuse as "not found" a case this person may not see; never say that it exists."""
        if not self.may_see(lead, partners, state):
            raise CaseNotFound(ref)


def session_of(request: Request) -> Session:
    # Absent only when a failure happened before the session was read (a 500 page).
    return request.scope.setdefault(SCOPE_KEY, Session())


def load_viewer(engine: Engine, session: Session) -> Viewer | None:
    """The signed-in person, or None: no session, or the person was removed, disabled,
    changed their password or signed out (anywhere) since this session began."""
    if not session.name:
        return None
    with reading(engine) as conn:
        row = conn.execute(_PERSON, {"name": session.name}).first()
    if (
        row is None
        or not row.password_hash
        or fingerprint(row.password_hash) != session.password
        or (row.signed_out is not None and row.signed_out.timestamp() > session.signed_in_at)
    ):
        session.sign_out("Your session has ended. Sign in again to carry on.")
        return None
    if row.disabled_at is not None:  # disabled by an admin: this session ends now
        session.sign_out("Your session has ended: your account has been disabled.")
        return None
    return Viewer(row.name, frozenset(row.roles), row.org, row.org_name, row.email)


def viewer(request: Request) -> Viewer:
    """The signed-in person, loaded once per request; SignInNeeded when there is none."""
    found = getattr(request.state, "viewer", None)
    if found is None:
        found = load_viewer(request.app.state.engine, session_of(request))
        if found is None:
            raise SignInNeeded()
        request.state.viewer = found
    return found


def require(request: Request, *roles: str, doing: str) -> Viewer:
    """The signed-in person, who must hold one of `roles` to see this page."""
    who = viewer(request)
    if not who.has(*roles):
        listed = " or ".join(("an " if r[0] in "aeiou" else "a ") + r for r in sorted(roles))
        raise Forbidden(
            f"Only {listed} can {doing}. You are signed in as {who.name} "
            f"({', '.join(sorted(who.roles))})."
        )
    return who
