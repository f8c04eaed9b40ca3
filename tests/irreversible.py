"""The moves that cannot be undone (DESIGN.md section 12), each with a case ready for it.

Every face refuses them without a reason (the definitions say `needs_reason`,
the engine's `has_reason` judges it): the service, command line, API and web
tests take their cases from here, reached through the real services.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.builders import World
from workflow.services import areas, assessment, lifecycle


@dataclass(frozen=True)
class Move:
    kind: str
    trigger: str
    by: str  # who may fire it
    reason: str  # a reason as a person would give it
    words: str  # the trigger's label, as a refusal names it
    email: str | None = None  # the outbox kind that shows the reason, where one is sent

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.trigger}"


MOVES = (
    Move(
        "bid",
        "withdraw",
        "cllr",
        "Council asked to withdraw: partnership dissolved",
        "Withdraw",
        "case.withdrawn",
    ),
    Move(
        "bid",
        "reject",
        "carol",
        "Scored 11 of 15 but ranked below the funding line",
        "Reject the bid",
        "bid.rejected",
    ),
    Move(
        "bid",
        "suspend",
        "carol",
        "Fraud investigation opened by the council's internal auditors",
        "Suspend",
        "case.suspended",
    ),
    Move(
        "bid",
        "terminate",
        "aaron",
        "The audit found the grant was spent on work outside the agreement",
        "Terminate the award",
        "bid.terminated",
    ),
    Move(
        "bid",
        "declare_ineligible",
        "carol",
        "The lead council is not in England",
        "Declare ineligible",
        "bid.ineligible",
    ),
    Move(
        "area",
        "withdraw",
        "cllr",
        "The county's partners have pulled out of the network",
        "Withdraw",
        "case.withdrawn",
    ),
    Move(
        "area",
        "suspend",
        "carol",
        "The partnership board has not met for six months",
        "Suspend",
        "case.suspended",
    ),
)

AREA_DOCUMENT = {
    "programme": "pstn-2013",
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


def ready(world: World, move: Move) -> str:
    """A case of `move.kind` in a state `move.trigger` fires from; its ref."""
    if move.kind == "area":
        ref = lifecycle.open_case(world.engine, "area", dict(AREA_DOCUMENT), "carol")["ref"]
        world.advance(ref, "submit", "start_assessment")
        if move.trigger == "suspend":
            world.advance(ref, "select", by="april")
            world.advance(ref, "onboard")
            areas.record_contribution(world.engine, ref, "50000", "carol")
            world.advance(ref, "activate")
        return ref
    ref = world.bid()
    world.advance(ref, "submit")
    if move.trigger in ("withdraw", "declare_ineligible"):
        return ref
    world.advance(ref, "check", "start_assessment")
    for name in ("ash", "asha"):
        assessment.declare(world.engine, ref, name, conflict=False)
        assessment.score(world.engine, ref, name, innovation=4, costs=3, savings=4)
    world.advance(ref, "moderate")
    if move.trigger == "reject":
        return ref
    world.advance(ref, "recommend")
    world.advance(ref, "offer", by="april")
    world.advance(ref, "accept", by="cllr")
    if move.trigger == "terminate":
        world.advance(ref, "suspend", reason="Second quarter's return not received")
    return ref
