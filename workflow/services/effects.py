"""What a move does besides changing state: the effects a definition's transitions name.

A transition declares its effects by name (`T(..., effects=["reserve_funds"])`
in states/); this table says what each name runs. Each effect runs inside the
move's transaction, after its history row, and may write rows of its own
(ledger entries, checkpoints and their history rows). A transition that
writes the ledger says so (`moves_funds=True`): its move holds the programme
row from its start (awards.lock_fund), so on PostgreSQL every such move takes
the programme row before the case row, in one order, and two cannot deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Connection

from states.facts import Facts
from states.money import money_json
from states.programme import ProgrammeSpec
from workflow.services import agreements, awards, diligence, monitoring, payments, reviews
from workflow.services.agreements import Recording
from workflow.services.engine import Actor, Move
from workflow.services.reads import load_case
from workflow.storage.records import CaseRecord, CheckpointRecord


@dataclass(frozen=True)
class MoveDone:
    conn: Connection
    case: CaseRecord  # the case as it was read, before the move
    after: CaseRecord  # the case after the move, before any effect
    move: Move
    actor: Actor
    now: datetime
    spec: ProgrammeSpec
    seq: int  # the history row the move wrote
    payload: dict[str, Any]
    checkpoint: CheckpointRecord | None = None  # the return a return's move moved
    # The facts the move's rules were planned with, and their groups (facts.facts_for's
    # `needs`), for an effect that reads the same facts again (run_diligence).
    facts: Facts | None = None
    fetched: frozenset[str] = frozenset()


# An effect that writes to the case row (CHANGE_CASE) may return the case as it leaves it
# (`done.after` when it wrote nothing after all); see `run_effects`.
Effect = Callable[[MoveDone], CaseRecord | None]

EFFECTS: dict[str, Effect] = {
    "reserve_funds": awards.reserve,
    "release_funds": awards.release,
    "release_unscheduled": awards.release_unscheduled,
    "schedule_checkpoints": monitoring.schedule_checkpoints,
    "lift_risk": monitoring.lift_risk,
    # Payments (issue 19): tranches fall due, are held, released and cancelled with the case.
    "open_tranches": payments.open_tranches,
    "return_tranches": payments.return_tranches,
    "hold_payments": payments.hold_payments,
    "release_payments": payments.release_payments,
    "cancel_payments": payments.cancel_payments,
    "run_diligence": diligence.run,
    "schedule_review": reviews.schedule_review,
}

# Effects that write the fund ledger: only a transition declaring `moves_funds` may name them
# (tests/workflow/test_definitions.py holds the definitions to it).
WRITE_LEDGER = frozenset({"reserve_funds", "release_funds", "release_unscheduled"})

# Effects that write to the case row itself (its chain head, its "at risk" flag): after
# them the mover takes the case as the effect returns it, or reads it again (run_effects).
CHANGE_CASE = frozenset(
    {
        "schedule_checkpoints",
        "lift_risk",
        "open_tranches",
        "return_tranches",
        "hold_payments",
        "release_payments",
        "cancel_payments",
        "run_diligence",
    }
)

# What a history row may note of the case beside the move (`T(records=[...])`), worked
# out in the move's transaction before its row is written. `agreement` draws up the
# offer's grant agreement (kept, and its SHA-256 noted); `agreement_accepted` notes
# the version the council accepts. A record that is None is left out of the row.
RECORDS: dict[str, Callable[[Recording], object]] = {
    "amount": lambda rec: money_json(rec.case.pence),
    "agreement": agreements.record_offer,
    "agreement_accepted": agreements.record_accepted,
}


def run_effects(done: MoveDone) -> CaseRecord | None:
    """Run the move's effects; the case as they leave it when one may have written to the
    case row (None when none may have: `done.after` stands).

    A move with one such effect takes the record that effect returns (it started from
    `done.after`, which only these effects change); with two or more, or one that
    returns nothing, the case is read again.
    """
    names = done.move.transition.effects
    changers, left = 0, None
    for name in names:
        result = EFFECTS[name](done)
        if name in CHANGE_CASE:
            changers, left = changers + 1, result
    if changers == 0:
        return None
    if changers == 1 and left is not None:
        return left
    return load_case(done.conn, done.case.ref)
