"""Bringing cases into monitoring through the real services, for the monitoring tests.

A bid goes the whole way: submitted, checked, assessed by two assessors,
moderated, recommended, offered by an approver and accepted by the council,
which schedules its checkpoints. An area is selected, onboarded and activated.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

from freezegun import freeze_time
from sqlalchemy import select, update

from tests.builders import World
from workflow.services import lifecycle
from workflow.services import programme_files as programme_store
from workflow.services.chain import GENESIS
from workflow.storage.tables import cases as cases_t
from workflow.storage.tables import case_orgs, checkpoints, history, organisations, outbox, people
from workflow.services.monitoring import ladder_moments

ASSESSORS = ("ash", "asha")


def _score(world: World, ref: str) -> None:
    try:
        from workflow.services import assessment
    except ImportError:  # before the assessment service: the rows it would write
        assessment = None
    for name in ASSESSORS:
        if assessment is not None:
            assessment.declare(world.engine, ref, name, conflict=False)
            assessment.score(world.engine, ref, name, innovation=4, costs=3, savings=4)
        else:
            from workflow.clock import now
            from workflow.storage.tables import scores

            with world.engine.begin() as conn:
                case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == ref)).scalar()
                conn.execute(
                    scores.insert().values(
                        case_id=case_id,
                        assessor=name,
                        innovation=4,
                        costs=3,
                        savings=4,
                        agreed=False,
                        at=now(),
                    )
                )


def bid_in_monitoring(
    world: World, accepted_at: datetime, *, programme: str = "tca-2013", **document: Any
) -> str:
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
    doc = {
        "programme": programme,
        "title": "Troubled families, one front door",
        "lead": "E07000026",
        "service_areas": ["troubled families"],
        "how_to_succeed": "One team across the county.",
        "partners": [
            {"name": "County police", "evidence": "Signed letter"},
            {"name": "NHS trust", "evidence": "Board minute"},
        ],
        "contribution": "50000",
    }
    with freeze_time(activated_at - timedelta(hours=1)):
        ref = lifecycle.open_case(world.engine, "area", doc, "carol")["ref"]
        world.advance(ref, "submit", "start_assessment")
        world.advance(ref, "select", by="april")
        world.advance(ref, "onboard")
        _record_contribution(world, ref)
    with freeze_time(activated_at):
        world.advance(ref, "activate")
    return ref


def _record_contribution(world: World, ref: str) -> None:
    try:
        from workflow.services import areas
    except ImportError:
        areas = None
    if areas is not None and hasattr(areas, "record_contribution"):
        areas.record_contribution(world.engine, ref, "50000", "carol")
        return
    with world.engine.begin() as conn:  # before the areas service: the column it sets
        conn.execute(
            update(cases_t).where(cases_t.c.ref == ref).values(contribution_pence=5_000_000)
        )


def _people(world: World) -> set[str]:
    from workflow.storage.tables import people

    with world.engine.connect() as conn:
        return set(conn.execute(select(people.c.name)).scalars())


# --- reading what happened -----------------------------------------------------
def checkpoint_rows(world: World, ref: str) -> list[Any]:
    with world.engine.connect() as conn:
        case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == ref)).scalar()
        return list(
            conn.execute(
                select(checkpoints)
                .where(checkpoints.c.case_id == case_id)
                .order_by(checkpoints.c.n)
            )
        )


def ladder_history(world: World, ref: str) -> list[Any]:
    """The case's history rows written by the system's ladder, oldest first (not the
    due-diligence checks the engine runs at submission and check)."""
    with world.engine.connect() as conn:
        case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == ref)).scalar()
        return list(
            conn.execute(
                select(history)
                .where(
                    history.c.case_id == case_id,
                    history.c.actor == "system",
                    history.c.trigger != "diligence",
                )
                .order_by(history.c.seq)
            )
        )


def outbox_rows(world: World, *, like: str = "%") -> list[Any]:
    with world.engine.connect() as conn:
        return list(
            conn.execute(select(outbox).where(outbox.c.key.like(like)).order_by(outbox.c.id))
        )


# --- many cases at once ------------------------------------------------------------
BULK_ORGS = 50


def bulk_bids(
    engine,
    n_cases: int,
    due_of: Callable[[int, int], date],
    *,
    scheduled_at: datetime = datetime(2013, 10, 1, 9, tzinfo=timezone.utc),
    chunk: int = 10_000,
) -> None:
    """`n_cases` bids in monitoring, written in bulk, with four scheduled returns each.

    They are what the services leave behind when an award is accepted (a
    case whose history chain is still empty), made in seconds instead of
    hours: `due_of(case_number, n)` gives the due date of return n (1-4).
    The database must be initialised; organisations and caseworker are added.
    """
    from states.documents import parse_bid

    with engine.begin() as conn:
        spec = programme_store.spec_for(conn, "tca-2013")
        conn.execute(
            organisations.insert(),
            [
                {
                    "code": f"E0700{i:04d}",
                    "name": f"Council {i}",
                    "email": f"returns{i}@example.gov.uk",
                    "escalation_email": f"ceo{i}@example.gov.uk",
                    "kind": "council",
                }
                for i in range(BULK_ORGS)
            ],
        )
        conn.execute(
            people.insert().values(
                name="carol", roles=["caseworker"], email="carol@casework.example.gov.uk"
            )
        )
        app = parse_bid(
            {
                "programme": "tca-2013",
                "category": "shared_arrangement",
                "title": "Joint procurement",
                "lead": "E07000000",
                "amount": "250000",
                "transitional_costs": "120000",
                "annual_savings": "400000",
                "arrangement": "joint_procurement",
                "innovation": "One team.",
            },
            programme=spec,
            organisations={"E07000000"},
        ).to_json()
        conn.execute(
            programme_store.programmes.update()
            .where(programme_store.programmes.c.code == "tca-2013")
            .values(last_number=n_cases)
        )
    for start in range(0, n_cases, chunk):
        ids = range(start + 1, min(n_cases, start + chunk) + 1)
        with engine.begin() as conn:
            conn.execute(
                cases_t.insert(),
                [
                    {
                        "id": i,
                        "ref": f"TCA-2013-{i:06d}",
                        "kind": "bid",
                        "programme": "tca-2013",
                        "state": "in_monitoring",
                        "version": 10,
                        "definition_version": 1,
                        "title": f"Shared services {i}",
                        "category": "shared_arrangement",
                        "lead": f"E0700{i % BULK_ORGS:04d}",
                        "partners": [],
                        "amount_pence": 25_000_000,
                        "application": app,
                        "caseworker": "carol",
                        "at_risk": False,
                        "last_seq": 0,
                        "last_hash": GENESIS,
                        "created_at": scheduled_at,
                        "updated_at": scheduled_at,
                    }
                    for i in ids
                ],
            )
            conn.execute(
                case_orgs.insert(),
                [{"org": f"E0700{i % BULK_ORGS:04d}", "case_id": i, "role": "lead"} for i in ids],
            )
            conn.execute(
                checkpoints.insert(),
                [
                    {
                        "ref": f"TCA-2013-{i:06d}/Q{n}",
                        "case_id": i,
                        "n": n,
                        "state": "scheduled",
                        "version": 1,
                        "due": due_of(i, n),
                        "level": 0,
                        "next_step_at": ladder_moments(spec.ladder, due_of(i, n))[0][1],
                        "steps_done": [],
                        "scheduled_at": scheduled_at,
                    }
                    for i in ids
                    for n in range(1, 5)
                ],
            )


def exactly_once(engine) -> dict:
    """Every ladder step recorded once, with one history row and (at most) one message each."""
    from sqlalchemy import func

    with engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).select_from(history).where(history.c.actor == "system")
        ).scalar()
        messages, keys = conn.execute(
            select(func.count(), func.count(outbox.c.key.distinct())).where(
                outbox.c.checkpoint_ref.is_not(None)
            )
        ).one()
        done = conn.execute(select(checkpoints.c.steps_done)).scalars().all()
    steps = sum(len(s) for s in done)
    repeated = sum(len(s) - len(set(s)) for s in done)
    return {
        "history_rows": rows,
        "steps_recorded": steps,
        "repeated_steps": repeated,
        "messages": messages,
        "distinct_keys": keys,
        "ok": rows == steps and repeated == 0 and messages == keys,
    }
