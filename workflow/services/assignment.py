"""Handing a case to another caseworker.

A case's caseworker is the one who opened it, or the first caseworker to act
on a case a council opened, until a caseworker hands it on here (DESIGN.md
section 2: "the assigned caseworker ... unless reassigned"). The caseworker
is who the engine copies into a case's emails, so a hand-over is recorded
like any other change: the case row with its version check, one history row
(trigger `assign`, the state unchanged) and an email telling the new
caseworker, in one transaction.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, bindparam, update

from states import DEFINITIONS
from workflow import clock
from workflow.services import messages, directory
from workflow.services import programme_files as programme_store
from workflow.services.assessment import checked_text
from workflow.services.lifecycle import case_json, load_case, may_act, refuse_stale
from workflow.services.engine import Actor
from workflow.errors import ConflictError, RuleViolation
from workflow.services.chain import Entry, Head, append
from workflow.storage.tables import cases
from workflow.storage.prepared import Prepared

__all__ = ["assign", "hand_over"]

_HAND_OVER = Prepared(
    update(cases)
    .where(cases.c.id == bindparam("_id"), cases.c.version == bindparam("_version"))
    .values(caseworker=bindparam("caseworker"), version=bindparam("_version") + 1,
            updated_at=bindparam("updated_at")))


def assign(engine: Engine, ref: str, to_name: str, actor_name: str, *,
           reason: str | None = None, expected_version: int | None = None) -> dict:
    """Make `to_name` the caseworker of case `ref`, as caseworker `actor_name`."""
    with engine.begin() as conn:
        case = load_case(conn, ref)
        actor = directory.actor(conn, actor_name)
        refuse_stale(case, expected_version)
        return case_json(conn, hand_over(conn, case, to_name, actor, reason=reason), actor)


def hand_over(conn: Connection, case: Any, to_name: str, actor: Actor, *,
              reason: str | None = None) -> Any:
    """Reassign `case` inside the caller's transaction; the case row as it is after."""
    reason = checked_text("reason", reason)
    role = may_act(actor, "assign", case.lead, f"assign {case.ref} to a caseworker")
    target = directory.actor(conn, to_name)
    _check(case, target)
    now = clock.now()
    moved = _HAND_OVER.rowcount(conn, {"_id": case.id, "_version": case.version,
                                       "caseworker": target.name, "updated_at": now})
    if moved != 1:
        raise ConflictError(case.ref)
    append(conn, Head.of(case), Entry(
        from_state=case.state, to_state=case.state, trigger="assign", actor=actor.name,
        role=role, reason=reason, at=now,
        payload={"caseworker": target.name, "previous": case.caseworker}))
    after = load_case(conn, case.ref)
    spec = programme_store.spec_for(conn, case.programme)
    messages.queue(conn, key=f"{case.ref}:assign:{after.last_seq}", kind="case.assigned",
                   case=after, spec=spec, to=("caseworker",), now=now, reason=reason)
    return after


def _check(case: Any, target: Actor) -> None:
    if "caseworker" not in target.roles:
        raise RuleViolation(f"{target.name} is not a caseworker, so {case.ref} cannot be "
                            f"assigned to them.")
    if case.caseworker == target.name:
        raise RuleViolation(f"{case.ref} is already assigned to {target.name}.")
    if DEFINITIONS[case.kind].is_final(case.state):
        raise RuleViolation(f"{case.ref} is {case.state.replace('_', ' ')}: a finished case "
                            f"keeps the caseworker it had.")
