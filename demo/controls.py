"""The controls of the year (DESIGN.md section 9): countersignatures and annual reviews.

- Every offer above the programme's threshold is countersigned first by the
  other approver; a bid rated high fraud risk by the SRO (when the programme
  names one).
- A year after acceptance each award's annual review falls due (the sweep
  opens it and reminds the caseworker). The first is recorded a week early
  and refused; then one award is continued, one amended (a variation is
  proposed), and the award whose council never sent a return is stopped: it
  stays suspended on the approvers' inbox, for them to terminate.
"""

from __future__ import annotations

from datetime import date, timedelta

from states.money import pounds
from workflow.errors import CaseworkError
from workflow.services import controls, lifecycle, reviews
from workflow.services.unit_of_work import UnitOfWork
from workflow.services.calendar import is_working_day
from demo.cast import Cast
from demo.story import Story

DECISION_REASONS = {
    "continue": "Returns on time and spend as planned; the shared service is on track.",
    "amend": "Ask for the end date to move by six months: the joint procurement started late.",
    "stop": "No monitoring return in a year and no answer to the escalations: stop the award.",
}


class Countersigning:
    """Before each offer: the countersignatures it needs, by the right people."""

    def __init__(self, story: Story, cast: Cast):
        self.story, self.cast = story, cast

    def before_offer(self, ref: str, approver: str, amount: int) -> str:
        """Sign what the offer of `ref` needs; returns who makes the offer."""
        s = self.story
        missing = controls.missing_countersignatures(s.engine, ref, approver)
        if not missing:
            return approver
        other = next(
            a for a in (self.cast.network_approver, self.cast.award_approver) if a != approver
        )
        if any("senior responsible owner" in m for m in missing):
            with UnitOfWork(s.engine, read_only=True) as uow:
                sro = controls.sro_of(uow.conn, lifecycle.load_case(uow.conn, ref).programme)
            if sro is not None:
                s.act(
                    sro,
                    "countersign a high-risk offer as senior responsible owner",
                    ref,
                    lambda: lifecycle.advance(
                        s.engine,
                        ref,
                        "countersign",
                        sro,
                        reason="Fraud-risk evidence read; the award "
                        "may go ahead with quarterly "
                        "monitoring.",
                    ),
                )
                if sro == approver:
                    approver, other = other, approver
        if controls.missing_countersignatures(s.engine, ref, approver):
            s.act(
                other,
                f"countersign the offer of {pounds(amount)}",
                ref,
                lambda: lifecycle.advance(
                    s.engine,
                    ref,
                    "countersign",
                    other,
                    reason="Second approver: scores, ranking and fund position checked.",
                ),
            )
        return approver


class AnnualReviews:
    """A year after acceptance: the review of each TCA award, recorded by its caseworker."""

    def __init__(self, story: Story, cast: Cast, habit_of: dict[str, str]):
        self.story, self.cast, self.habit_of = story, cast, habit_of
        self.decisions: list[str] = ["continue", "amend"]
        self.stopped = False
        self.tried_early = False

    def begin(self, ref: str) -> None:
        if not ref.startswith("TCA"):
            return
        first = next(
            (r for r in reviews.list_reviews(self.story.engine, case=ref) if r["review"] == "R1"),
            None,
        )
        if first is None:
            return
        due = date.fromisoformat(first["due"])
        s = self.story
        s.agenda.keep_running_until(due)
        if not self.tried_early:
            self.tried_early = True
            s.on(_working_days_before(due, 5), "11:00", lambda: self._early(ref))
        s.on(due, "11:30", lambda: self._decide(ref))

    def _early(self, ref: str) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        s.refused(
            worker,
            "record the annual review before it falls due",
            ref,
            lambda: reviews.record(
                s.engine,
                ref,
                decision="continue",
                reason=DECISION_REASONS["continue"],
                actor_name=worker,
            ),
        )

    def _decide(self, ref: str) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        state = lifecycle.show(s.engine, ref)["state"]
        never = self.habit_of.get(ref) == "never returns"
        if never and not self.stopped:
            decision = "stop"
            self.stopped = True
        elif self.decisions and not never and state == "in_monitoring":
            decision = self.decisions.pop(0)
        else:
            decision = "continue"
        s.chapter("Monitoring year: annual reviews")
        try:
            due = [r for r in reviews.list_reviews(s.engine, due_only=True, case=ref)]
        except CaseworkError:
            due = []
        if not due:
            return  # completed (closed) before its review fell due: none to record
        s.act(
            worker,
            f"record the annual review: {decision}",
            ref,
            lambda: reviews.record(
                s.engine,
                ref,
                decision=decision,
                reason=DECISION_REASONS[decision],
                actor_name=worker,
            ),
        )
        # A stopped award stays suspended on the approvers' inbox, to terminate: the year
        # ends before they decide (its returns' ladder keeps holding, as for any suspension).


def _working_days_before(day: date, n: int) -> date:
    while n > 0:
        day -= timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day
