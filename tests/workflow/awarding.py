"""Driving bids through assessment to an award, through the real services.

Shared by the assessment, award, ranking and concurrency tests: each step is
the service a caseworker, assessor or approver would call.
"""

from __future__ import annotations

from sqlalchemy import func, select

from workflow.services import assessment, lifecycle
from workflow.services import programme_files as programme_store
from workflow.services.facts import LIVE_OFFER_STATES
from workflow.storage.tables import cases as cases_t, ledger

ASSESSORS = ("ash", "asha")
PARTNERS = {"E07000026": ["E07000028", "E07000029"]}


def small_programme(
    code: str,
    *,
    fund: str = "1000000",
    max_count: int = 30,
    weights: tuple[int, int, int] = (1, 1, 1),
    tolerance: int = 2,
) -> str:
    """TOML for a round with one shared_arrangement category (£50,000 to £500,000)."""
    innovation, costs, savings = weights
    return f"""
code = "{code}"
name = "Test round {code}"
kind = "bids"
fund = "{fund}"
score_tolerance = {tolerance}
[criteria]
innovation = {innovation}
costs = {costs}
savings = {savings}
[categories.shared_arrangement]
min = "50000"
max = "500000"
max_count = {max_count}
"""


def load_programme(world, text: str) -> str:
    with world.engine.begin() as conn:
        spec, _ = programme_store.load(conn, text, "test.toml")
    return spec.code


def document(
    world, category: str = "shared_arrangement", amount: str = "250000", **overrides
) -> dict:
    """A well-formed application in `category` that meets its rules unless overridden."""
    if category == "single_operation":
        base = dict(category=category, arrangement=None, amount=amount)
    elif category == "esg_top_up":
        base = dict(
            category=category,
            arrangement=None,
            innovation=None,
            partners=[],
            further_and_faster="Two years sooner than planned.",
            amount=amount,
        )
    else:
        base = dict(category=category, amount=amount)
    return world.bid_document(**{**base, **overrides})


def open_bid(
    world, category: str = "shared_arrangement", amount: str = "250000", **overrides
) -> str:
    doc = document(world, category, amount, **overrides)
    return lifecycle.open_case(world.engine, "bid", doc, "carol")["ref"]


def under_assessment(
    world, category: str = "shared_arrangement", amount: str = "250000", **overrides
) -> str:
    ref = open_bid(world, category, amount, **overrides)
    world.advance(ref, "submit", "check", "start_assessment")
    return ref


def scored(world, ref: str, marks=((4, 4, 4), (4, 4, 4)), assessors=ASSESSORS) -> str:
    for who, (innovation, costs, savings) in zip(assessors, marks):
        assessment.declare(world.engine, ref, who, conflict=False)
        assessment.score(
            world.engine, ref, who, innovation=innovation, costs=costs, savings=savings
        )
    return ref


def recommended(
    world,
    category: str = "shared_arrangement",
    amount: str = "250000",
    marks=((4, 4, 4), (4, 4, 4)),
    **overrides,
) -> str:
    """A bid scored by two assessors, moderated and recommended: ready for an offer."""
    ref = scored(world, under_assessment(world, category, amount, **overrides), marks)
    world.advance(ref, "moderate", "recommend")
    return ref


def offer(world, ref: str, by: str = "april") -> dict:
    """The offer, countersigned first by the other approver where the amount needs it."""
    world.countersign(ref, offering=by)
    return lifecycle.advance(world.engine, ref, "offer", by)


def ledger_pence(engine, programme: str) -> int:
    """Reserved minus released, added up row by row."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.entry, ledger.c.amount_pence).where(ledger.c.programme == programme)
        ).all()
    return sum(a if e == "reserve" else -a for e, a in rows)


def offers_pence(engine, programme: str) -> int:
    """The amounts of every bid that holds an offer now."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.coalesce(func.sum(cases_t.c.amount_pence), 0)).where(
                    cases_t.c.programme == programme, cases_t.c.state.in_(LIVE_OFFER_STATES)
                )
            ).scalar()
        )
