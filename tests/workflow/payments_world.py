"""Awards with payments, built through the real services, for the payment tests."""

from __future__ import annotations

from datetime import datetime, timezone

from freezegun import freeze_time
from sqlalchemy import func, select, update

from tests.builders import World
from tests.workflow.monitoring_world import bid_in_monitoring
from workflow.services import monitoring
from workflow.storage.tables import checkpoints, history, outbox, payments, recoveries
from workflow.storage.tables import cases as cases_t
from workflow.storage.tables import ledger

ACCEPTED = datetime(2013, 9, 2, 10, tzinfo=timezone.utc)
FIGURES = {"spend_to_date": "1000", "progress": "Under way."}


def award(world: World, **document) -> str:
    """A bid accepted on 2 September 2013 (P1 due), with finance people in the cast."""
    ref = bid_in_monitoring(world, ACCEPTED, **document)
    for name in ("fiona", "felix"):
        try:
            world.person(name, "finance")
        except Exception:  # already there (a second award in the same world)
            pass
    return ref


def open_returns(world: World, ref: str) -> None:
    """Open every scheduled return of `ref` at once (as the sweep would when each opens)."""
    with world.engine.begin() as conn:
        case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == ref)).scalar()
        scheduled = monitoring.CHECKPOINT.initial
        conn.execute(
            update(checkpoints)
            .where(checkpoints.c.case_id == case_id, checkpoints.c.state == scheduled)
            .values(state=monitoring.CHECKPOINT.machine.transition_for("open", scheduled).dest)
        )


def accept_return(world: World, ref: str, label: str, *, at: datetime | None = None) -> None:
    with freeze_time(at or ACCEPTED):
        monitoring.submit_return(world.engine, f"{ref}/{label}", "cllr", figures=FIGURES)
        monitoring.decide_return(world.engine, f"{ref}/{label}", "accept", "carol")


def snapshot(world: World) -> dict:
    """Every row a payment's move could write: a refusal must leave all of them as they were."""
    with world.engine.connect() as conn:
        return {
            "payments": [tuple(r) for r in conn.execute(select(payments).order_by(payments.c.id))],
            "recoveries": [tuple(r) for r in conn.execute(select(recoveries))],
            "cases": [
                tuple(r)
                for r in conn.execute(
                    select(
                        cases_t.c.ref,
                        cases_t.c.state,
                        cases_t.c.version,
                        cases_t.c.last_seq,
                        cases_t.c.last_hash,
                    ).order_by(cases_t.c.id)
                )
            ],
            "history": conn.execute(select(func.count()).select_from(history)).scalar(),
            "outbox": conn.execute(select(func.count()).select_from(outbox)).scalar(),
            "ledger": conn.execute(select(func.count()).select_from(ledger)).scalar(),
        }
