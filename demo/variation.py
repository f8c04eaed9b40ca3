"""One variation of an award in the year (DESIGN.md section 8), and what the report says of it.

Some weeks after the first sizeable award is accepted, its council asks for a little more
(its partners widened the work) and an approver decides: approved, the difference is
reserved and the agreement's version 2 drawn up; refused by the fund's rules (the fund may
be spent by then), the refusal is logged and the approver rejects it, saying why.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from states.money import from_json, money_json
from workflow.services import lifecycle, variations
from workflow.storage.db import reading
from workflow.storage.tables import cases, organisations, variations as variations_t
from demo.agenda import working_days_after
from demo.cast import Cast
from demo.story import Story

WHY = (
    "Two more partner councils have joined the work, so the transitional costs are higher "
    "than the bid said."
)
SMALLEST = 100_000_00  # an award this size or more is worth varying


class OneVariation:
    def __init__(self, story: Story, cast: Cast):
        self.story, self.cast = story, cast
        self.ref: str | None = None

    def consider(self, ref: str) -> None:
        """An award was accepted: the first sizeable one gets its variation booked."""
        if self.ref is not None:
            return
        shown = lifecycle.show(self.story.engine, ref)
        # A shared arrangement well inside its band (£50,000 to £500,000) has room to grow.
        if (
            shown["kind"] != "bid"
            or shown["category"] != "shared_arrangement"
            or not SMALLEST <= from_json(shown["amount"]) <= 400_000_00
        ):
            return
        self.ref = ref
        s = self.story
        s.on(working_days_after(s.today(), 30), s.office_hours(), lambda: self._propose(ref))

    def _propose(self, ref: str) -> None:
        s = self.story
        shown = lifecycle.show(s.engine, ref)
        council = self.cast.contact(shown["lead"])
        amount = from_json(shown["amount"])
        more = max(1_000_00, amount // 20 // 1_000_00 * 1_000_00)  # 5%, in whole £1,000s
        proposed = s.act(
            council,
            "propose a variation of the award",
            ref,
            lambda: variations.propose(
                s.engine, ref, actor=council, reason=WHY, amount=money_json(amount + more)
            ),
        )
        s.on(
            working_days_after(s.today(), 4),
            s.office_hours(),
            lambda: self._decide(proposed["ref"]),
        )

    def _decide(self, vref: str) -> None:
        s, approver = self.story, self.cast.award_approver
        # The increase takes the award above the £100,000 threshold: a second approver
        # countersigns it first (DESIGN.md section 9).
        signer = self.cast.network_approver
        s.act(
            signer,
            f"countersign variation {vref}",
            vref,
            lambda: variations.countersign(
                s.engine,
                vref,
                signer,
                reason="Second approver: the increase and the fund position checked.",
            ),
        )
        refused = s.attempt(
            approver,
            f"approve variation {vref}",
            vref,
            lambda: variations.decide(s.engine, vref, "approve", approver),
        )
        if refused is not None:
            s.act(
                approver,
                f"reject variation {vref}",
                vref,
                lambda: variations.decide(
                    s.engine,
                    vref,
                    "reject",
                    approver,
                    reason="The programme's rules refuse it: " + refused,
                ),
            )


def variation_rows(engine: Engine) -> list[dict[str, Any]]:
    """The year's variations for the report: whose, from and to what, and how it ended."""
    with reading(engine) as conn:
        rows = conn.execute(
            select(
                variations_t, cases.c.ref.label("case_ref"), organisations.c.name.label("council")
            )
            .join(cases, cases.c.id == variations_t.c.case_id)
            .join(organisations, organisations.c.code == cases.c.lead)
            .order_by(variations_t.c.id)
        )
        return [
            {
                "ref": r.ref,
                "case": r.case_ref,
                "council": r.council,
                "state": r.state,
                "from_pence": r.previous_pence,
                "to_pence": r.amount_pence,
                "reason": r.reason,
                "decision_reason": r.decision_reason,
                "proposed_at": r.proposed_at,
                "decided_at": r.decided_at,
                "agreement_version": r.agreement_version,
            }
            for r in rows
        ]
