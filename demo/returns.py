"""The monitoring year: councils' returns, caseworkers' decisions, reinstatement, completion.

The sweep (run each simulated morning by the diary) opens returns, reminds,
marks them overdue, escalates and suspends; this chapter plays the people.
Each monitored case gets a habit. The first few are fixed so that every rung
of the ladder fires whatever the seed: one council never returns anything
(its case is suspended and stays so), one returns its Q2 a month late
(suspended, so the payment that return releases is held, then reinstated and
the payment released), one three weeks late (escalation 2, at risk), one ten days
late (escalation 1), and one return is queried and sent again. The rest are
drawn from the seed: most on time, some a few days late.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from workflow.services import lifecycle, monitoring
from demo.agenda import working_day_on_or_after, working_days_after
from demo.cast import Cast
from demo.story import Story

NEVER = "never returns"
REINSTATED = "Q2 a month late (suspended, its payment held, then reinstated)"
VERY_LATE = "three weeks late once"
LATE = "ten days late once"
QUERIED = "one return queried"
RELIABLE = "reliable"
PATCHY = "patchy"
FIXED_HABITS = (NEVER, REINSTATED, VERY_LATE, LATE, QUERIED)

MILESTONES = (
    "Shared management team appointed; first services aligned.",
    "Joint systems procured; staff consultation complete.",
    "Services running on the shared model; first savings banked.",
    "Full year on the shared model; savings ahead of plan.",
)
RISKS = (
    "Staff turnover during the restructure.",
    "Supplier delivery dates.",
    "Demand pressures in adult social care.",
    "None beyond those already reported.",
)


class MonitoringYear:
    def __init__(self, story: Story, cast: Cast):
        self.story, self.cast = story, cast
        self.habit_of: dict[str, str] = {}
        self._queried: set[str] = set()

    def begin(self, ref: str) -> None:
        """A case has entered monitoring: book its council's returns by its habit."""
        s = self.story
        n = len(self.habit_of)
        habit = (
            FIXED_HABITS[n]
            if n < len(FIXED_HABITS)
            else (PATCHY if s.rng.random() < 0.25 else RELIABLE)
        )
        self.habit_of[ref] = habit
        shown = lifecycle.show(s.engine, ref)
        # Whole pounds of the award (or the area's contribution), to scale the figures.
        base = int(Decimal(shown.get("amount") or shown.get("contribution") or "100000"))
        checkpoints = monitoring.list_checkpoints(s.engine, case=ref)
        for cp in checkpoints:
            due = date.fromisoformat(cp["due"])
            s.agenda.keep_running_until(due + timedelta(days=31))
            late = self._lateness(habit, int(cp["ref"].rsplit("Q", 1)[1]))
            if late is None:
                continue
            day = self._submission_day(due, late)
            s.on(day, s.office_hours(), lambda cp=cp, base=base: self._submit(cp, base))

    def _lateness(self, habit: str, n: int) -> int | None:
        """Days after the due date the council sends return `n` (negative: before); None: never."""
        rng = self.story.rng
        if habit == NEVER:
            return None
        if habit == REINSTATED and n == 2:
            # After the suspension at due + 28: the Q2 tranche falls due held.
            return rng.randint(29, 32)
        if habit == VERY_LATE and n == 2:
            return rng.randint(22, 25)  # after escalation 2 at due + 21
        if habit == LATE and n == 1:
            return rng.randint(9, 16)  # after escalation 1 at due + 7
        roll = rng.random()
        if habit == PATCHY:
            return -rng.randint(0, 6) if roll < 0.5 else rng.randint(1, 6)
        return -rng.randint(0, 10) if roll < 0.85 else rng.randint(1, 5)

    @staticmethod
    def _submission_day(due: date, late: int) -> date:
        day = due + timedelta(days=late)
        if late > 0:
            return working_day_on_or_after(day)
        # On time: the last working day on or before, and after the return opened.
        while day.weekday() >= 5 and day > due - timedelta(days=12):
            day -= timedelta(days=1)
        return day

    def _figures(self, cp: dict, base: int) -> dict:
        n = int(cp["ref"].rsplit("Q", 1)[1])
        rng = self.story.rng
        spent = base * n * rng.randint(70, 100) // 400 // 100 * 100
        saved = base * n * rng.randint(50, 120) // 500 // 100 * 100
        return {
            "spend_to_date": str(spent),
            "savings_to_date": str(saved),
            "progress": MILESTONES[(n - 1) % len(MILESTONES)],
            "risks": RISKS[(n - 1) % len(RISKS)],
        }

    def _submit(self, cp: dict, base: int, *, again: bool = False) -> None:
        s = self.story
        s.chapter("Monitoring year: returns")
        council = self.cast.contact(cp["lead"])
        figures = self._figures(cp, base)
        attachment = None
        if cp["ref"].endswith("Q4") and not again:
            rows = "\n".join(f"{k},{v}" for k, v in figures.items() if k.endswith("_to_date"))
            attachment = ("final-figures.csv", f"measure,pounds\n{rows}\n".encode())
        what = "send the corrected return" if again else "send the monitoring return"
        s.act(
            council,
            what,
            cp["ref"],
            lambda: monitoring.submit_return(
                s.engine, cp["ref"], council, figures=figures, attachment=attachment
            ),
        )
        day = working_days_after(s.today(), 1 + s.rng.randrange(3))
        s.on(day, s.office_hours(), lambda: self._decide(cp, base))

    def _caseworker(self, case_ref: str) -> str:
        return (
            self.cast.area_caseworker if case_ref.startswith("PSTN") else self.cast.bid_caseworker
        )

    def _decide(self, cp: dict, base: int) -> None:
        s, ref, case_ref = self.story, cp["ref"], cp["case"]
        worker = self._caseworker(case_ref)
        if self.habit_of.get(case_ref) == QUERIED and case_ref not in self._queried:
            self._queried.add(case_ref)
            s.act(
                worker,
                "query the return",
                ref,
                lambda: monitoring.decide_return(
                    s.engine,
                    ref,
                    "query",
                    worker,
                    reason="Please restate the savings against the 2012-13 baseline.",
                ),
            )
            s.on(
                working_days_after(s.today(), 2),
                "11:00",
                lambda: self._submit(cp, base, again=True),
            )
            return
        s.act(
            worker,
            "accept the return",
            ref,
            lambda: monitoring.decide_return(s.engine, ref, "accept", worker),
        )
        state = lifecycle.show(s.engine, case_ref)["state"]
        if state == "suspended":
            s.on(
                s.today(),
                "16:00",
                lambda: s.act(
                    worker,
                    "reinstate the case",
                    case_ref,
                    lambda: lifecycle.advance(
                        s.engine,
                        case_ref,
                        "reinstate",
                        worker,
                        reason=f"The late {ref.rsplit('/', 1)[1]} return has "
                        f"arrived and is accepted.",
                    ),
                ),
            )
        if all(
            c["state"] == "accepted" for c in monitoring.list_checkpoints(s.engine, case=case_ref)
        ):
            s.on(working_days_after(s.today(), 2), "10:00", lambda: self._complete(case_ref))

    def _complete(self, case_ref: str) -> None:
        s = self.story
        worker = self._caseworker(case_ref)
        s.chapter("Monitoring year: closing")
        s.act(
            worker,
            "complete the case: every return accepted",
            case_ref,
            lambda: lifecycle.advance(s.engine, case_ref, "complete", worker),
        )
