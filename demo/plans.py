"""Which bids and expressions of interest the demo plays, drawn from its seed.

Pure: the size and a seeded `random.Random` in, plans out. A plan is the
application document a council sends plus what the story knows and the
system does not: how good the bid really is (the assessors' scores follow it)
and any twist (a bid over its band, an assessor with a conflict of interest).
All of it is SAMPLE DATA.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from demo.sample import ESG_COUNCILS, OTHER_BODIES, OTHER_COUNCILS, PAIRS, PILOTS, Body
from demo.story import Size

# Twists the story plays on a bid (None: a plain bid).
OVER_BAND = "over_band"  # asks more than its category's band; refused at submit
UNDER_BAND = "under_band"  # asks less than its band; refused at submit, then withdrawn
ESG_OVER = "esg_over"  # asks more than 25% of the council's ESG allocation
CONFLICT = "conflict"  # an assessor declares a conflict of interest
LATE_CONFLICT = "late_conflict"  # an assessor scores, then finds a conflict: score set aside
DISAGREE = "disagree"  # the assessors' scores are too far apart: moderator agrees one
CLARIFY = "clarify"  # an assessor asks the council a question first
WITHDRAW = "withdraw"  # the council withdraws during assessment
INELIGIBLE = "ineligible"  # a second bid of a council in one category: a duplicate
LOW = "low"  # a weak bid, rejected after moderation
INCOMPLETE = "incomplete"  # an expression of interest without enough partners

ARRANGEMENT_TITLES = {
    "linked_it": "Linked IT: one case-management system for {places}",
    "joint_procurement": "Joint procurement hub for {places}",
    "joint_contracting": "Joint waste and highways contract for {places}",
    "other": "Shared legal, HR and audit service for {places}",
}
ARRANGEMENT_INNOVATION = {
    "linked_it": "One record per resident across {n} councils, so a change of address or "
    "circumstance is told once and reaches every service.",
    "joint_procurement": "A single buying team and catalogue for {n} councils, with "
    "spend data shared openly between them.",
    "joint_contracting": "One outcome-based contract let jointly by {n} councils, "
    "with payment tied to street-cleanliness results.",
    "other": "One team under a joint committee serving {n} councils, each keeping its "
    "own members and identity.",
}
SERVICE_AREAS = (
    "troubled families",
    "health and social care",
    "work and skills",
    "reducing reoffending",
    "early years",
    "domestic abuse",
    "public health",
)


@dataclass
class BidPlan:
    label: str
    lead: Body
    partners: tuple[Body, ...]
    category: str
    amount: int  # pounds, as first asked
    quality: float  # 0-5: how good the bid really is
    twist: str | None = None
    corrected_amount: int | None = None  # refused at submit, then sent again asking this
    arrangement: str | None = None

    def document(self, amount: int | None = None) -> dict[str, Any]:
        asked = self.amount if amount is None else amount
        places = _places(self.lead, self.partners)
        doc: dict[str, Any] = {
            "programme": "tca-2013",
            "category": self.category,
            "lead": self.lead.code,
            "partners": [p.code for p in self.partners],
            "amount": str(asked),
            "transitional_costs": str(_round(asked * 6 // 10, 1000)),
            "annual_savings": str(_round(asked * (45 + int(self.quality * 10)) // 100, 1000)),
        }
        if self.category == "single_operation":
            doc["title"] = f"One council operation for {places}"
            doc["innovation"] = (
                "A single officer structure and one set of systems, front "
                "line and back office, under two councils that keep their "
                "own identity and elected members."
            )
        elif self.category == "shared_arrangement":
            doc["title"] = ARRANGEMENT_TITLES[self.arrangement or "other"].format(places=places)
            doc["arrangement"] = self.arrangement
            doc["innovation"] = ARRANGEMENT_INNOVATION[self.arrangement or "other"].format(
                n=1 + len(self.partners)
            )
        else:
            doc["title"] = f"Going further and faster: {self.lead.short} integrated front door"
            doc["further_and_faster"] = (
                f"{self.lead.short} brings forward its single front "
                f"door for adult care and benefits by eighteen months "
                f"and closes two offices a year early."
            )
        return doc


@dataclass
class AreaPlan:
    label: str
    lead: Body
    quality: float
    contribution: int  # pounds proposed
    pilot: bool = False
    twist: str | None = None
    partner_names: tuple[str, ...] = field(default_factory=tuple)

    def document(self) -> dict[str, Any]:
        areas = list(dict.fromkeys(self.service_areas))
        partners = [
            {"name": name, "evidence": f"Letter of commitment from {name}, March 2013"}
            for name in self.partner_names
        ]
        return {
            "programme": "pstn-2013",
            "lead": self.lead.code,
            "title": f"{PILOT_TITLES.get(self.lead.code, self.lead.short)} "
            f"public service transformation",
            "service_areas": areas,
            "how_to_succeed": (
                f"{'As a whole-place Community Budget pilot, ' if self.pilot else ''}"
                f"{self.lead.short} pools budgets across partners, shares data "
                f"under one agreement and funds early intervention from the "
                f"savings it makes."
            ),
            "partners": partners,
            "contribution": str(self.contribution),
        }

    @property
    def service_areas(self) -> tuple[str, ...]:
        start = sum(ord(c) for c in self.lead.code) % len(SERVICE_AREAS)
        return tuple(SERVICE_AREAS[(start + i) % len(SERVICE_AREAS)] for i in range(3))


def _round(pounds: int, to: int) -> int:
    return max(to, (pounds + to // 2) // to * to)


def _places(lead: Body, partners: tuple[Body, ...]) -> str:
    names = [lead.short, *(p.short for p in partners)]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- the TCA round ------------------------------------------------------------
def plan_bids(size: Size, rng: random.Random) -> list[BidPlan]:
    return _single_operation(size, rng) + _esg(size, rng) + _shared(size, rng)


def _single_operation(size: Size, rng: random.Random) -> list[BidPlan]:
    # The strongest bids of the round: they rank first (equal scores keep the order
    # they were opened in), so four are offered and the fifth meets the category's
    # count, not the fund; when one of the four is declined, the fifth is offered.
    amounts = (1_950_000, 1_800_000, 1_650_000, 1_500_000, 1_400_000)
    out = []
    for i, (lead, partner) in enumerate(PAIRS[: size.single_operation_pairs]):
        out.append(
            BidPlan(
                f"single-{i + 1}",
                lead,
                (partner,),
                "single_operation",
                amounts[i] if size.name == "full" else 1_200_000,
                quality=5.0,
                twist=CONFLICT if i == 0 else None,
            )
        )
    return out


def _esg(size: Size, rng: random.Random) -> list[BidPlan]:
    blackpool = ESG_COUNCILS[2]
    others = [c for c in ESG_COUNCILS if c is not blackpool][: size.esg_bids]
    out = []
    for i, council in enumerate(others):
        percent = rng.randint(18, 25)
        out.append(
            BidPlan(
                f"esg-{i + 1}",
                council,
                (),
                "esg_top_up",
                _esg_amount(council, percent),
                quality=round(rng.uniform(2.6 if size.name == "full" else 3.2, 4.4), 1),
            )
        )
    # Asks 30% of its allocation: refused at submit. In the full year the council
    # sends a corrected bid at 24%; in the small one it withdraws.
    corrected = _esg_amount(blackpool, 24) if size.name == "full" else None
    out.insert(
        1,
        BidPlan(
            "esg-over",
            blackpool,
            (),
            "esg_top_up",
            _esg_amount(blackpool, 30),
            quality=3.6,
            twist=ESG_OVER,
            corrected_amount=corrected,
        ),
    )
    return out


def _esg_amount(council: Body, percent: int) -> int:
    """`percent` of the council's (invented) ESG allocation, in whole thousands of pounds."""
    return int(council.esg_allocation or "0") * percent // 100 // 1000 * 1000


def _shared(size: Size, rng: random.Random) -> list[BidPlan]:
    pool = list(OTHER_COUNCILS)
    twists: list[str | None] = [OVER_BAND, DISAGREE, INELIGIBLE, LOW, LATE_CONFLICT]
    if size.name == "full":
        twists += [UNDER_BAND, CLARIFY, WITHDRAW]
    twists += [None] * max(0, size.shared_bids - len(twists))
    arrangements = ("linked_it", "joint_procurement", "joint_contracting", "other")
    out = []
    for i, twist in enumerate(twists[: max(size.shared_bids, 4)]):
        # Three councils a bid, going round the pool one place on each time round, so no
        # council leads two (the INELIGIBLE twist's duplicate is the one meant).
        first = 3 * i + i // (len(pool) // 3)
        lead = pool[first % len(pool)]
        partners = tuple(pool[(first + j) % len(pool)] for j in (1, 2)[: 1 + i % 2])
        if i % 5 == 4:
            partners += (OTHER_BODIES[i % len(OTHER_BODIES)],)
        amount = rng.randrange(60_000, 480_001, 5_000)
        # The small year keeps its few plain bids fundable, so enough cases reach monitoring.
        quality = round(rng.uniform(1.8 if size.name == "full" else 3.0, 4.5), 1)
        corrected = None
        if twist == OVER_BAND:
            amount, corrected = 620_000, 480_000
        elif twist == UNDER_BAND:
            amount = 40_000
        elif twist == LOW:
            quality = 1.4
        elif twist in (DISAGREE, CLARIFY):
            quality = max(quality, 3.6)
        elif twist == INELIGIBLE and out:
            # The council of the bid before sends a second shared arrangement: due
            # diligence finds the duplicate (no_duplicate_bid) and it is declared ineligible.
            lead = out[-1].lead
        out.append(
            BidPlan(
                f"shared-{i + 1}",
                lead,
                partners,
                "shared_arrangement",
                amount,
                quality,
                twist=twist,
                corrected_amount=corrected,
                arrangement=arrangements[i % len(arrangements)],
            )
        )
    return out


# --- the network --------------------------------------------------------------
NETWORK_LEADS = (
    "Bournemouth",
    "Hertfordshire",
    "Sheffield",
    "Surrey",
    "Swindon",
    "West Berkshire",
    "Leeds",
    "Cornwall",
    "Plymouth",
)


def plan_areas(size: Size, rng: random.Random) -> list[AreaPlan]:
    by_short = {c.short: c for c in OTHER_COUNCILS}
    pilots = PILOTS[: max(2, min(4, size.selected_areas))]
    others = [by_short[n] for n in NETWORK_LEADS][: max(1, size.areas - len(pilots))]
    out = []
    for i, lead in enumerate(pilots):
        out.append(
            AreaPlan(
                f"pilot-{i + 1}",
                lead,
                quality=4.5,
                pilot=True,
                contribution=rng.randrange(60_000, 100_001, 5_000),
                partner_names=_area_partners(lead, 3),
            )
        )
    for i, lead in enumerate(others):
        out.append(
            AreaPlan(
                f"area-{i + 1}",
                lead,
                quality=round(rng.uniform(2.0, 4.4), 1),
                contribution=rng.randrange(40_000, 80_001, 5_000),
                partner_names=_area_partners(lead, 2 + i % 2),
            )
        )
    if size.name == "full":
        lead = by_short["Plymouth"]
        out.append(
            AreaPlan(
                "area-incomplete",
                lead,
                quality=2.0,
                contribution=40_000,
                twist=INCOMPLETE,
                partner_names=_area_partners(lead, 1),
            )
        )
    return out


# The whole-place pilots' own partners (named as in 2013; the evidence is invented).
PILOT_PARTNERS = {
    "E09000013": (
        "Royal Borough of Kensington and Chelsea",
        "City of Westminster",
        "Metropolitan Police Service",
    ),
    "E08000003": (
        "Greater Manchester Combined Authority",
        "Greater Manchester Police",
        "Greater Manchester Fire and Rescue Authority",
    ),
    "E10000012": (
        "Essex Police",
        "Essex County Fire and Rescue Service",
        "NHS Mid Essex Clinical Commissioning Group",
    ),
    "E06000050": (
        "Cheshire Constabulary",
        "Cheshire Fire Authority",
        "NHS West Cheshire Clinical Commissioning Group",
    ),
}
PILOT_TITLES = {
    "E09000013": "Tri-borough (Hammersmith & Fulham, Kensington and Chelsea, Westminster)",
    "E08000003": "Greater Manchester",
    "E10000012": "Essex",
    "E06000050": "Cheshire West and Chester",
}


def _area_partners(lead: Body, n: int) -> tuple[str, ...]:
    if lead.code in PILOT_PARTNERS:
        return PILOT_PARTNERS[lead.code][:n]
    names = (
        f"NHS {lead.short} Clinical Commissioning Group",
        f"{lead.short} Police",
        f"Jobcentre Plus, {lead.short}",
        f"{lead.short} Voluntary Action",
    )
    return names[:n]
