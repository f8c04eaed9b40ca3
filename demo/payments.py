"""The payments of the year: an approver approves what falls due, finance pays twice a week.

Tranches fall due by themselves (an award accepted, a return accepted) and are held and
released with their case's suspension and reinstatement: the services' effects do that.
This chapter plays the two people who move them on: the award approver approves each due
payment on the working day after it falls due, and finance pays the approved ones in its
payment runs on Tuesdays and Fridays, each with a remittance reference.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select

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


# --- the report's payments section ------------------------------------------------------
def payment_story(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    """The year's payments for the report: each tranche of the schedule (how many paid, how
    much, how many still to pay) and each payment held with its case, released or not."""
    from states.programme import tranche_event_label
    from workflow.storage.db import reading
    from workflow.storage.tables import cases, history, organisations
    from workflow.storage.tables import payments as payments_t

    settled = set(PAYMENT.group("settled"))
    with reading(engine) as conn:
        by_tranche: dict[int, dict[str, Any]] = {}
        for r in conn.execute(
            select(
                payments_t.c.tranche,
                payments_t.c.event,
                payments_t.c.state,
                func.count().label("n"),
                func.sum(payments_t.c.amount_pence).label("pence"),
            )
            .group_by(payments_t.c.tranche, payments_t.c.event, payments_t.c.state)
            .order_by(payments_t.c.tranche)
        ):
            t = by_tranche.setdefault(
                r.tranche,
                {
                    "tranche": r.tranche,
                    "when": tranche_event_label(r.event),
                    "paid": 0,
                    "paid_pence": 0,
                    "to_pay": 0,
                    "to_pay_pence": 0,
                    "cancelled": 0,
                },
            )
            if r.state in settled:
                t["paid"] += r.n
                t["paid_pence"] += int(r.pence)
            elif r.state == "cancelled":
                t["cancelled"] += r.n
            else:
                t["to_pay"] += r.n
                t["to_pay_pence"] += int(r.pence)
        moves = conn.execute(
            select(
                cases.c.ref,
                organisations.c.name,
                history.c.payment,
                history.c.trigger,
                history.c.at,
                history.c.reason,
            )
            .join(cases, cases.c.id == history.c.case_id)
            .join(organisations, organisations.c.code == cases.c.lead)
            .where(history.c.payment.is_not(None), history.c.trigger.in_(("hold", "release")))
            .order_by(history.c.at, history.c.id)
        ).all()
        amounts = {
            r.ref: (int(r.amount_pence), r.paid_at)
            for r in conn.execute(
                select(payments_t.c.ref, payments_t.c.amount_pence, payments_t.c.paid_at)
            )
        }
    held: list[dict[str, Any]] = []
    for m in moves:
        ref = f"{m.ref}/{m.payment}"
        if m.trigger == "hold":
            pence, paid_at = amounts[ref]
            held.append(
                {
                    "ref": ref,
                    "council": m.name,
                    "pence": pence,
                    "held_at": m.at,
                    "why": m.reason,
                    "released_at": None,
                    "paid_at": paid_at,
                }
            )
        else:
            for h in reversed(held):
                if h["ref"] == ref and h["released_at"] is None:
                    h["released_at"] = m.at
                    break
    return {"tranches": list(by_tranche.values()), "held": held}
