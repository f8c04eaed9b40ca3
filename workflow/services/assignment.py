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

import logging

from sqlalchemy import Engine

from states import DEFINITIONS
from workflow.services import messages, directory
from workflow.services.assessment import checked_text
from workflow.services.access import may_act
from workflow.services.lifecycle import case_json, load_case, refuse_stale
from workflow.services.engine import Actor
from workflow.errors import RuleViolation
from workflow.services.chain import Entry, change
from workflow.storage.records import CaseRecord
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.logs import event

log = logging.getLogger("casework.cases")

__all__ = ["assign"]


def assign(
    work: UnitOfWork | Engine,
    case: str | CaseRecord,
    to_name: str,
    actor: Actor | str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Make `to_name` the caseworker of `case` (a reference or the record read), as `actor`.

    The one way a case is handed over, for every face, in the caller's unit of
    work or one of its own; `expected_version` as for `lifecycle.advance`.
    """
    with unit(work) as uow:
        record = load_case(uow.conn, case) if isinstance(case, str) else case
        who = actor if isinstance(actor, Actor) else directory.actor(uow.conn, actor)
        refuse_stale(record, expected_version)
        shown = case_json(uow.conn, _hand_over(uow, record, to_name, who, reason=reason), who)
    event(log, "case.assigned", f"to {to_name}", case=record.ref, person=who.name)
    return shown


def _hand_over(
    uow: UnitOfWork, case: CaseRecord, to_name: str, actor: Actor, *, reason: str | None = None
) -> CaseRecord:
    """The case row with its new caseworker, its history row and the email, in `uow`."""
    conn, now = uow.conn, uow.now
    reason = checked_text("reason", reason)
    role = may_act(actor, "assign", case.lead, f"assign {case.ref} to a caseworker")
    target = directory.actor(conn, to_name)
    _check(case, target)
    after = change(
        conn,
        case,
        Entry(
            from_state=case.state,
            to_state=case.state,
            trigger="assign",
            actor=actor.name,
            role=role,
            reason=reason,
            at=now,
            payload={"caseworker": target.name, "previous": case.caseworker},
        ),
        values={"caseworker": target.name, "updated_at": now},
    )
    messages.queue(
        conn,
        key=f"{case.ref}:assign:{after.last_seq}",
        kind="case.assigned",
        case=after,
        spec=uow.spec(case.programme),
        to=("caseworker",),
        now=now,
        reason=reason,
        book=uow.book,
    )
    return after


def _check(case: CaseRecord, target: Actor) -> None:
    if "caseworker" not in target.roles:
        raise RuleViolation(
            f"{target.name} is not a caseworker, so {case.ref} cannot be assigned to them."
        )
    if case.caseworker == target.name:
        raise RuleViolation(f"{case.ref} is already assigned to {target.name}.")
    if DEFINITIONS[case.kind].is_final(case.state):
        state = DEFINITIONS[case.kind].state_phrase(case.state)
        raise RuleViolation(f"{case.ref} is {state}: a finished case keeps the caseworker it had.")
