"""What a move does besides changing state, declared as data.

Each effect runs inside the move's transaction, after its history row, and may
write rows of its own (ledger entries, checkpoints and their history rows).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Connection

from workflow.services import awards, monitoring
from workflow.services.engine import Actor, Move


@dataclass(frozen=True)
class MoveDone:
    conn: Connection
    case: Any            # the case row as it was read, before the move
    move: Move
    actor: Actor
    now: datetime
    spec: Any            # the programme
    seq: int             # the history row the move wrote
    payload: dict


Effect = Callable[[MoveDone], None]

EFFECTS: dict[tuple[str, str], tuple[Effect, ...]] = {
    ("bid", "offer"): (awards.reserve,),
    ("bid", "decline"): (awards.release,),
    ("bid", "terminate"): (awards.release,),
    # Monitoring starts: the case's returns are scheduled from the programme's cadence.
    ("bid", "accept"): (monitoring.schedule_checkpoints,),
    ("area", "activate"): (monitoring.schedule_checkpoints,),
    # Back in monitoring: no longer at risk unless a return is still overdue.
    ("bid", "reinstate"): (monitoring.lift_risk,),
    ("area", "reinstate"): (monitoring.lift_risk,),
}


# Effects that write the fund ledger: their move holds the programme row from
# its start (awards.lock_fund), so on PostgreSQL every such move takes the
# programme row before the case row, in one order, and two cannot deadlock.
MOVES_FUNDS = frozenset({awards.reserve, awards.release})


def moves_funds(kind: str, trigger: str) -> bool:
    return any(effect in MOVES_FUNDS for effect in EFFECTS.get((kind, trigger), ()))


# Effects that write to the case row itself (its chain head, its "at risk" flag):
# after them the mover reads the case again rather than trust its own copy.
CHANGES_CASE = frozenset({monitoring.schedule_checkpoints, monitoring.lift_risk})


def run_effects(done: MoveDone) -> bool:
    """Run the move's effects; True when one of them wrote to the case row."""
    effects = EFFECTS.get((done.case.kind, done.move.trigger), ())
    for effect in effects:
        effect(done)
    return any(effect in CHANGES_CASE for effect in effects)
