"""The payments of the year: an approver approves what falls due, finance pays twice a week.

Tranches fall due by themselves (an award accepted, a return accepted) and are held and
released with their case's suspension and reinstatement: the services' effects do that.
This chapter plays the two people who move them on: the award approver approves each due
payment on the working day after it falls due, and finance pays the approved ones in its
payment runs on Tuesdays and Fridays, each with a remittance reference.
"""

from __future__ import annotations

from datetime import timedelta

from demo.agenda import working_day_on_or_after
from demo.cast import Cast
from demo.story import Story
from states import PAYMENT
from workflow.services import payments

RUN_DAYS = (1, 4)  # Tuesday and Friday


class PaymentRuns:
    def __init__(self, story: Story, cast: Cast):
        self.story, self.cast = story, cast
        self.runs = 0
        self.running = False

    def start(self) -> None:
        """An award was accepted: payment runs go on until the year has nothing left."""
        if not self.running:
            self.running = True
            self._next(self.story.today())

    def _next(self, after) -> None:
        day = after + timedelta(days=1)
        while day.weekday() not in RUN_DAYS:
            day += timedelta(days=1)
        day = working_day_on_or_after(day)
        self.story.on(day, "11:30", self._run)

    def _run(self) -> None:
        s = self.story
        approver, finance = self.cast.award_approver, self.cast.finance
        due = payments.list_payments(s.engine, state=PAYMENT.group("to_approve")[0])
        approved = payments.list_payments(s.engine, state=PAYMENT.group("payable")[0])
        if due or approved:
            s.chapter("Monitoring year: payments")
        for p in approved:
            self.runs += 1
            reference = f"BACS {s.today():%Y%m%d}-{self.runs:04d}"
            s.act(
                finance,
                f"pay {p['ref']} ({reference})",
                p["case"],
                lambda p=p, reference=reference: payments.move(
                    s.engine, p["ref"], "pay", finance, reference=reference
                ),
            )
        for p in due:
            s.act(
                approver,
                f"approve {p['ref']}",
                p["case"],
                lambda p=p: payments.move(s.engine, p["ref"], "approve", approver),
            )
        # Keep running while the year has anything left to happen (an acceptance starts
        # them again).
        if s.today() < s.agenda.horizon:
            self._next(s.today())
        else:
            self.running = False
