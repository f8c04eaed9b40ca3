"""The Public Service Transformation Network of 2013, played through the services.

Spring: areas express interest (the four whole-place pilots among them; one
expression of interest names too few partners and is refused at submit).
Summer, on the programme file's decision date: the approver selects areas
and declines the rest. August: contributions agreed and recorded, areas
onboarded. September: areas activated (one before its contribution is on
record, and refused), which starts their quarterly returns.
"""

from __future__ import annotations

from datetime import date
from typing import Callable

from workflow.services import areas, lifecycle
from workflow.services import programme_files as programme_store
from workflow.storage.db import reading
from demo import plans as p
from demo.agenda import working_day_on_or_after, working_days_after
from demo.cast import Cast
from demo.plans import AreaPlan
from demo.story import Story

CODE = "pstn-2013"
INTEREST_FROM = date(2013, 4, 8)
ASSESSMENT_DAY = date(2013, 6, 3)
CONTRIBUTIONS_FROM = date(2013, 8, 5)
ONBOARDING_DAY = date(2013, 8, 19)
ACTIVATION_DAY = date(2013, 9, 2)


class Network:
    def __init__(
        self, story: Story, cast: Cast, plans: list[AreaPlan], on_active: Callable[[str], None]
    ):
        self.story, self.cast, self.plans = story, cast, plans
        self.on_active = on_active
        self.plan_of: dict[str, AreaPlan] = {}
        self.late_contribution: str | None = None

    def book(self) -> None:
        s = self.story
        for i, area in enumerate(self.plans):
            day = working_days_after(INTEREST_FROM, 2 * i + s.rng.randrange(2))
            s.on(day, s.office_hours(), lambda area=area: self._express_interest(area))
        s.on(ASSESSMENT_DAY, "10:00", self._start_assessments)
        with reading(s.engine) as conn:
            decision = programme_store.spec_for(conn, CODE).decision_date or date(2013, 7, 31)
        s.on(working_day_on_or_after(decision), "11:00", self._select)
        s.on(ONBOARDING_DAY, "10:00", self._onboard)
        s.on(ACTIVATION_DAY, "10:00", self._activate_all)

    def _express_interest(self, area: AreaPlan) -> None:
        s, worker = self.story, self.cast.area_caseworker
        s.chapter("Network: expressions of interest")
        opened = s.act(
            worker,
            f"enter {area.lead.short}'s expression of interest",
            None,
            lambda: lifecycle.open_case(s.engine, "area", area.document(), worker),
        )
        ref = opened["ref"]
        self.plan_of[ref] = area
        council = self.cast.contact(area.lead.code)
        submit = lambda: lifecycle.advance(s.engine, ref, "submit", council)  # noqa: E731
        day = working_days_after(s.today(), 1 + s.rng.randrange(2))
        if area.twist == p.INCOMPLETE:
            s.on(
                day,
                "11:00",
                lambda: s.refused(
                    council, "submit an expression of interest naming one partner", ref, submit
                ),
            )
            s.on(
                working_days_after(day, 5),
                "15:00",
                lambda: s.act(
                    council,
                    "withdraw the expression of interest",
                    ref,
                    lambda: lifecycle.advance(
                        s.engine,
                        ref,
                        "withdraw",
                        council,
                        reason="We will come back with our partners next year.",
                    ),
                ),
            )
            return
        s.on(
            day,
            s.office_hours(),
            lambda: s.act(council, "submit the expression of interest", ref, submit),
        )

    def _areas_in(self, state: str) -> list[str]:
        return [
            c["ref"]
            for c in lifecycle.list_cases(
                self.story.engine, kind="area", state=state, programme=CODE
            )
        ]

    def _start_assessments(self) -> None:
        s, worker = self.story, self.cast.area_caseworker
        s.chapter("Network: assessment")
        for ref in self._areas_in("expression_of_interest"):
            s.act(
                worker,
                "start assessing the expression of interest",
                ref,
                lambda ref=ref: lifecycle.advance(s.engine, ref, "start_assessment", worker),
            )

    def _select(self) -> None:
        """Pilots first, then the strongest, up to the number the network can work with."""
        s, approver = self.story, self.cast.network_approver
        s.chapter("Network: selection")
        candidates = sorted(
            self._areas_in("under_assessment"),
            key=lambda ref: (not self.plan_of[ref].pilot, -self.plan_of[ref].quality, ref),
        )
        chosen = set(candidates[: s.size.selected_areas])
        for ref in candidates:
            if ref in chosen:
                s.act(
                    approver,
                    "select the area",
                    ref,
                    lambda ref=ref: lifecycle.advance(s.engine, ref, "select", approver),
                )
            else:
                why = "Strong proposal, but partners' commitment is less developed than others'."
                s.act(
                    approver,
                    "decline the expression of interest",
                    ref,
                    lambda ref=ref, why=why: lifecycle.advance(
                        s.engine, ref, "decline", approver, reason=why
                    ),
                )
        # One area takes longer to agree its contribution than the others.
        selected = [ref for ref in candidates if ref in chosen]
        self.late_contribution = selected[-1] if selected else None
        for i, ref in enumerate(selected):
            if ref == self.late_contribution:
                continue
            s.on(
                working_days_after(CONTRIBUTIONS_FROM, i % 8),
                s.office_hours(),
                lambda ref=ref: self._record_contribution(ref),
            )

    def _record_contribution(self, ref: str) -> None:
        s, worker = self.story, self.cast.area_caseworker
        amount = str(self.plan_of[ref].contribution)
        s.act(
            worker,
            f"record the agreed contribution of £{int(amount):,}",
            ref,
            lambda: areas.record_contribution(s.engine, ref, amount, worker),
        )

    def _onboard(self) -> None:
        s, worker = self.story, self.cast.area_caseworker
        s.chapter("Network: onboarding")
        for ref in self._areas_in("selected"):
            s.act(
                worker,
                "onboard the area",
                ref,
                lambda ref=ref: lifecycle.advance(s.engine, ref, "onboard", worker),
            )

    def _activate_all(self) -> None:
        s, worker = self.story, self.cast.area_caseworker
        for ref in self._areas_in("onboarding"):
            if ref == self.late_contribution:
                s.refused(
                    worker,
                    "activate an area whose contribution is not yet agreed",
                    ref,
                    lambda ref=ref: lifecycle.advance(s.engine, ref, "activate", worker),
                )
                day = working_days_after(s.today(), 5)
                s.on(day, "10:00", lambda ref=ref: self._record_contribution(ref))
                s.on(working_days_after(day, 1), "10:00", lambda ref=ref: self._activate(ref))
                continue
            self._activate(ref)

    def _activate(self, ref: str) -> None:
        s, worker = self.story, self.cast.area_caseworker
        s.chapter("Network: activation")
        s.act(
            worker,
            "activate the area",
            ref,
            lambda: lifecycle.advance(s.engine, ref, "activate", worker),
        )
        self.on_active(ref)
