"""Network areas: recording the agreed contribution to the network's running costs.

An expression of interest proposes a contribution; the one agreed with the
area is recorded here by a caseworker (DESIGN.md section 1), and `activate`
is refused until it is. Recording changes no state: it sets the case's
contribution, moves its version on (so a screen showing the old figure is
stale) and writes a `record_contribution` history row, in one transaction.
A contribution can be recorded again while the area is still in the
programme (it was renegotiated); the history keeps every figure.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine

from states import AREA
from states.errors import DocumentError
from states.money import money_json, parse_money, pounds
from workflow.services import directory
from workflow.services.access import may_act
from workflow.services.lifecycle import case_json, load_case
from workflow.errors import RuleViolation, ValueRefused
from workflow.services.chain import Entry, change
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.logs import event

log = logging.getLogger("casework.cases")

__all__ = ["record_contribution", "CONTRIBUTION_STATES"]

# From the moment interest is expressed until the area leaves the programme.
CONTRIBUTION_STATES = AREA.group("contributing")


def record_contribution(
    work: UnitOfWork | Engine, ref: str, pounds_text: str, actor_name: str
) -> dict[str, Any]:
    """Record the contribution agreed with network area `ref`, in pounds (`"50000"`)."""
    try:
        pence = parse_money(pounds_text, "contribution")
    except DocumentError as err:
        raise ValueRefused("The contribution", err.problems) from None
    if pence == 0:
        raise ValueRefused(
            "The contribution",
            ["contribution: £0 is not a contribution to the network's running costs"],
        )
    began = time.perf_counter()
    with unit(work) as uow:
        conn = uow.conn
        case = load_case(conn, ref, hold=True)  # queue behind a concurrent change
        if case.kind != "area":
            raise RuleViolation(
                f"{case.ref} is a bid, not a network area: only areas "
                f"contribute to the network's running costs."
            )
        actor = directory.actor(conn, actor_name)
        role = may_act(
            actor, "record_contribution", case.lead, f"record the contribution of {case.ref}"
        )
        if case.state not in CONTRIBUTION_STATES:
            raise RuleViolation(
                f"{case.ref} is {AREA.state_phrase(case.state)}, so no contribution can be "
                f"recorded for it: that is done once interest is expressed and while the "
                f"area is in the programme."
            )
        proposed = case.document.get("contribution")
        payload: dict[str, Any] = {
            "contribution": money_json(pence),
            "proposed": proposed,
            "previous": (
                money_json(case.contribution_pence) if case.contribution_pence is not None else None
            ),
        }
        now = uow.now
        entry = Entry(
            from_state=case.state,
            to_state=case.state,
            trigger="record_contribution",
            actor=actor.name,
            role=role,
            at=now,
            payload=payload,
        )
        # The figure moves with the version read, so a concurrent change to the
        # case makes this refuse rather than overwrite.
        after = change(conn, case, entry, values={"contribution_pence": pence, "updated_at": now})
        out = case_json(conn, after, actor)
        out["recorded"] = f"{case.ref}'s contribution is {pounds(pence)}"
    # The figure stays out of the log (the history has it): a reference and who, not money.
    event(
        log,
        "contribution.recorded",
        "contribution recorded",
        case=case.ref,
        person=actor.name,
        seconds=time.perf_counter() - began,
        trigger="record_contribution",
    )
    return out
