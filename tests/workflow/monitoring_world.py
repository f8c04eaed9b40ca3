"""Bringing cases into monitoring through the real services, for the monitoring tests.

A bid goes the whole way: submitted, checked, assessed by two assessors,
moderated, recommended, offered by an approver and accepted by the council,
which schedules its checkpoints. An area is selected, onboarded and activated.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from freezegun import freeze_time
from sqlalchemy import select, update

from tests.builders import World
from workflow import cases
from workflow.models import cases as cases_t
from workflow.models import checkpoints, history, outbox

ASSESSORS = ("ash", "asha")


def _score(world: World, ref: str) -> None:
    try:
        from workflow import assessment
    except ImportError:          # before the assessment service: the rows it would write
        assessment = None
    for name in ASSESSORS:
        if assessment is not None:
            assessment.declare(world.engine, ref, name, conflict=False)
            assessment.score(world.engine, ref, name, innovation=4, costs=3, savings=4)
        else:
            from workflow.clock import now
            from workflow.models import scores
            with world.engine.begin() as conn:
                case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == ref)).scalar()
                conn.execute(scores.insert().values(case_id=case_id, assessor=name, innovation=4,
                                                    costs=3, savings=4, agreed=False, at=now()))


def bid_in_monitoring(world: World, accepted_at: datetime, *, programme: str = "tca-2013",
                      **document: Any) -> str:
    """A bid whose award is accepted (by the council) at `accepted_at`; returns its ref."""
    if "carol" not in _people(world):
        world.cast()
    with freeze_time(accepted_at - timedelta(hours=1)):
        ref = world.bid(programme=programme, **document)
        world.advance(ref, "submit", "check", "start_assessment")
        _score(world, ref)
        world.advance(ref, "moderate", "recommend")
        world.advance(ref, "offer", by="april")
    with freeze_time(accepted_at):
        world.advance(ref, "accept", by="cllr")
    return ref


def area_active(world: World, activated_at: datetime, *, programme: str = "pstn-2013") -> str:
    """A network area activated at `activated_at`; returns its ref."""
    if "carol" not in _people(world):
        world.cast()
    doc = {"programme": programme, "title": "Troubled families, one front door",
           "lead": "E07000026", "service_areas": ["troubled families"],
           "how_to_succeed": "One team across the county.",
           "partners": [{"name": "County police", "evidence": "Signed letter"},
                        {"name": "NHS trust", "evidence": "Board minute"}],
           "contribution": "50000"}
    with freeze_time(activated_at - timedelta(hours=1)):
        ref = cases.open_case(world.engine, "area", doc, "carol")["ref"]
        world.advance(ref, "submit", "start_assessment")
        world.advance(ref, "select", by="april")
        world.advance(ref, "onboard")
        _record_contribution(world, ref)
    with freeze_time(activated_at):
        world.advance(ref, "activate")
    return ref


def _record_contribution(world: World, ref: str) -> None:
    try:
        from workflow import areas
    except ImportError:
        areas = None
    if areas is not None and hasattr(areas, "record_contribution"):
        areas.record_contribution(world.engine, ref, "50000", "carol")
        return
    with world.engine.begin() as conn:     # before the areas service: the column it sets
        conn.execute(update(cases_t).where(cases_t.c.ref == ref).values(contribution_pence=5_000_000))


def _people(world: World) -> set[str]:
    from workflow.models import people
    with world.engine.connect() as conn:
        return set(conn.execute(select(people.c.name)).scalars())


# --- reading what happened -----------------------------------------------------
def checkpoint_rows(world: World, ref: str) -> list[Any]:
    with world.engine.connect() as conn:
        case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == ref)).scalar()
        return list(conn.execute(select(checkpoints).where(checkpoints.c.case_id == case_id)
                                 .order_by(checkpoints.c.n)))


def ladder_history(world: World, ref: str) -> list[Any]:
    """The case's history rows written by the system (the ladder), oldest first."""
    with world.engine.connect() as conn:
        case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == ref)).scalar()
        return list(conn.execute(select(history).where(history.c.case_id == case_id,
                                                        history.c.actor == "system")
                                 .order_by(history.c.seq)))


def outbox_rows(world: World, *, like: str = "%") -> list[Any]:
    with world.engine.connect() as conn:
        return list(conn.execute(select(outbox).where(outbox.c.key.like(like))
                                 .order_by(outbox.c.id)))
