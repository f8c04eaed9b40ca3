"""Registering the demo's organisations and people, as `casework org add` and `user add` do."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflow import clock
from workflow.services import directory, sro
from workflow.services.admin_log import Admin
from demo.plans import AreaPlan, BidPlan
from demo.sample import (
    ADMIN,
    APPROVERS,
    ASSESSORS,
    AUDITOR,
    CASEWORKERS,
    FINANCE,
    SAMPLE_MARK,
    Body,
    all_bodies,
    council_person,
)
from demo.story import Story


@dataclass
class Cast:
    bodies: list[Body]
    council_people: dict[str, str] = field(default_factory=dict)  # org code -> person

    @property
    def bid_caseworker(self) -> str:
        return CASEWORKERS[0].name

    @property
    def area_caseworker(self) -> str:
        return CASEWORKERS[1].name

    @property
    def assessors(self) -> list[str]:
        return [a.name for a in ASSESSORS]

    @property
    def award_approver(self) -> str:
        return APPROVERS[0].name

    @property
    def finance(self) -> str:
        return FINANCE.name

    @property
    def network_approver(self) -> str:
        return APPROVERS[1].name

    def contact(self, code: str) -> str:
        return self.council_people[code]

    def staff(self) -> list[tuple[str, str]]:
        """(sign-in name, what they do) of the programme team, for the closing note."""
        team = [*CASEWORKERS, *ASSESSORS, *APPROVERS, AUDITOR, ADMIN, FINANCE]
        return [(s.name, s.about) for s in team]


def needed_bodies(bids: list[BidPlan], areas: list[AreaPlan], *, everyone: bool) -> list[Body]:
    """Every sample body (the full year), or only those the plans name (the small one)."""
    if everyone:
        return all_bodies()
    used = (
        {b.lead.code for b in bids}
        | {p.code for b in bids for p in b.partners}
        | {a.lead.code for a in areas}
    )
    return [b for b in all_bodies() if b.code in used]


def register(story: Story, bodies: list[Body], leads: set[str]) -> Cast:
    """Organisations, the programme team, and a contact person for each lead organisation."""
    cast = Cast(bodies)
    by = Admin(ADMIN.name, "admin")  # each registration a row of the admin log, in their name
    with story.engine.begin() as conn:
        for body in bodies:
            # Marked in the name itself, so every page, message and export that shows the
            # organisation says it is sample data.
            directory.add_org(
                conn,
                body.code,
                name=f"{body.name} {SAMPLE_MARK}",
                email=body.email,
                escalation_email=body.escalation_email,
                kind=body.kind,
                esg_allocation=body.esg_allocation,
                org_id=body.org_id,
                by=by,
            )
        for member in (*CASEWORKERS, *ASSESSORS, *APPROVERS, AUDITOR, ADMIN, FINANCE):
            directory.add_user(conn, member.name, roles=member.roles, email=member.email, by=by)
        for body in bodies:
            if body.code in leads:
                name = council_person(body)
                directory.add_user(
                    conn, name, roles=("council",), email=body.email, org=body.code, by=by
                )
                cast.council_people[body.code] = name
        # Each programme's senior responsible owner (DESIGN section 9): an approver who is not
        # the one deciding its awards, so they can countersign them.
        owners = {"tca-2013": APPROVERS[1].name, "pstn-2013": APPROVERS[0].name}
        for code, owner in owners.items():
            sro.appoint(conn, code, owner, by, at=clock.now())
    story.did(
        "sam.admin",
        f"registered {len(bodies)} organisations (sample data) and "
        f"{len(cast.council_people) + len(cast.staff())} people, and named "
        + " and ".join(f"{n} senior responsible owner of {c}" for c, n in owners.items()),
    )
    return cast
