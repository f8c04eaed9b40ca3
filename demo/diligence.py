"""Due diligence in the demo year (DESIGN.md section 9): the caseworker's checks before `check`.

On the check day the caseworker opens each submitted bid's checklist: casework
has already run the automatic checks (at submission), so the caseworker rates
the fraud risk with evidence, vouches for a partner that is a public body but
not a council in the register (org_in_register is overridable), and then finds
the bid eligible. A bid that an automatic check that cannot be overridden, or
a duplicate, fails is declared ineligible naming the check.
"""

from __future__ import annotations

from typing import Any

from workflow.services import diligence, lifecycle
from demo.plans import BidPlan
from demo.story import Story

# Fraud-risk ratings by plan label, where not low (the SRO countersigns a high one).
# single-1 is offered in every size of year, so its high rating shows the SRO's
# countersignature (demo/controls.py).
RATINGS: dict[str, str] = {"shared-4": "medium", "single-1": "high"}
EVIDENCE = {
    "low": "Bank details confirmed with the s151 officer; no adverse findings in the "
    "council's last audit letter.",
    "medium": "The lead council's last audit letter qualifies its procurement controls; "
    "the s151 officer has confirmed the remedial plan.",
    "high": "The lead council's external auditor issued an adverse value-for-money "
    "conclusion; a counter-fraud review is under way.",
}
VOUCHED = (
    "{names}: a public body named in the bid, not a council, so not in the "
    "register of English councils; its letter of support is on file."
)


def review(s: Story, worker: str, ref: str, plan: BidPlan) -> str | None:
    """The caseworker's checks on `ref`; None when every check has passed, else the code of
    the check that failed (the bid is then declared ineligible, naming it)."""
    shown = diligence.show(s.engine, ref, worker)
    for check in shown["checks"]:  # a duplicate, or a lead that is no council: ineligible
        if check["status"] == "failed" and check["check"] != "org_in_register":
            return str(check["check"])
    for check in shown["checks"]:
        code = check["check"]
        if check["kind"] == "rating" and check["status"] == "missing":
            rating = RATINGS.get(plan.label, "low")
            s.act(
                worker,
                f"rate the fraud risk {rating}",
                ref,
                lambda code=code, rating=rating: diligence.record(
                    s.engine,
                    ref,
                    code,
                    worker,
                    result="pass",
                    rating=rating,
                    evidence=EVIDENCE[rating],
                ),
            )
        elif code == "org_in_register" and check["status"] == "failed":
            names = _not_councils(plan)
            if not names:
                return code
            evidence = VOUCHED.format(names=", ".join(names))
            s.act(
                worker,
                "vouch for a partner that is not a council",
                ref,
                lambda code=code, evidence=evidence: diligence.record(
                    s.engine, ref, code, worker, result="pass", evidence=evidence
                ),
            )
    failed = [
        c["check"]
        for c in diligence.show(s.engine, ref, worker)["checks"]
        if c["status"] == "failed"
    ]
    return failed[0] if failed else None


def _not_councils(plan: BidPlan) -> list[str]:
    return [b.name for b in (plan.lead, *plan.partners) if b.kind != "council"]


def declare_ineligible(s: Story, worker: str, ref: str, code: str) -> None:
    shown = diligence.show(s.engine, ref, worker)
    assert code in [c["check"] for c in shown["checks"] if c["status"] == "failed"]
    reason = diligence.failed_reason(shown)
    s.act(
        worker,
        "declare the bid ineligible",
        ref,
        lambda: lifecycle.advance(s.engine, ref, "declare_ineligible", worker, reason=reason),
    )


# --- the report's controls: due diligence ---------------------------------------------------
def report_rows(engine: Any) -> list[dict[str, Any]]:
    """For each programme, each check it lists: how often casework ran it and it failed,
    how often a caseworker recorded it, and the cases declared ineligible naming it."""
    from sqlalchemy import select

    from states import DEFINITIONS
    from workflow.services import programme_files as programme_store
    from workflow.storage.db import reading
    from workflow.storage.tables import cases, history

    out: list[dict[str, Any]] = []
    with reading(engine) as conn:
        for code in ("tca-2013", "pstn-2013"):
            spec = programme_store.spec_for(conn, code)
            counts = diligence.programme_counts(conn, code)
            ineligible = list(
                conn.execute(
                    select(cases.c.ref, history.c.reason)
                    .join(cases, cases.c.id == history.c.case_id)
                    .where(cases.c.programme == code, history.c.trigger == "declare_ineligible")
                    .order_by(history.c.id)
                )
            )
            checks = []
            for check in spec.diligence.values():
                c = counts.get(check.code, {})
                says = diligence.failed_check(check.label)  # as failed_reason writes it
                named = [r.ref for r in ineligible if says in (r.reason or "")]
                checks.append(
                    {
                        "label": check.label,
                        "automatic": check.kind == "automatic",
                        "run": c.get("run", 0),
                        "failed": c.get("failed", 0),
                        "recorded": c.get("recorded", 0),
                        "overridden": c.get("overridden", 0),
                        "ineligible": named,
                    }
                )
            cases_checked = conn.execute(
                select(cases.c.ref).where(
                    cases.c.programme == code,
                    cases.c.id.in_(
                        select(history.c.case_id).where(history.c.trigger == diligence.TRIGGER)
                    ),
                )
            ).all()
            out.append(
                {
                    "programme": spec.name,
                    "checks": checks,
                    "cases": len(cases_checked),
                    "kind": DEFINITIONS["bid" if spec.kind == "bids" else "area"].label,
                }
            )
    return out
