"""The annual review on the case page (DESIGN.md section 9): every review of the award, and the
caseworker's form to record the one that is due (continue, amend with a new amount or end,
or stop)."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from states.review import DECISION_WORDS, DECISIONS, RECORDABLE, STATUS_WORDS
from workflow.services import reviews
from workflow.services.unit_of_work import UnitOfWork
from workflow.storage.records import CaseRecord
from workflow.web.agreement import end_not_in_future
from workflow.web.auth import Viewer
from workflow.web.cases import _change, _visible, render_case
from workflow.web.forms import posted
from workflow.web.pages import Problem

# The decisions as the form offers them: (code, label, sentence).
CHOICES = [(code, DECISION_WORDS[code].label, DECISION_WORDS[code].sentence) for code in DECISIONS]


def on_case_page(uow: UnitOfWork, case: CaseRecord, who: Viewer, staff: bool) -> dict[str, Any]:
    """Staff see the award's reviews; a caseworker gets the form while one is due."""
    listed = reviews.reviews_of(uow.conn, case) if staff and case.kind == "bid" else []
    due = next((r for r in listed if r["status"] in RECORDABLE), None)
    due = due if who.has("caseworker") else None
    # Only the decisions that can succeed are offered; the rest are said, with why.
    refused = reviews.refused_decisions(uow.conn, case) if due else {}
    return {
        "reviews": listed,
        "review_due": due,
        "review_words": {
            "status": {c: w.label for c, w in STATUS_WORDS.items()},
            "decision": {c: w.label for c, w in DECISION_WORDS.items()},
            "choices": [c for c in CHOICES if c[0] not in refused],
            "refused": [(DECISION_WORDS[d].label, why) for d, why in refused.items()],
            "amend": "amend" not in refused,
        },
    }


async def record(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    decision = form.text("review-decision").strip()
    reason = form.optional("review-reason")
    amount = form.pounds("review-amount") or None
    end = form.date("review-end", "End date")
    version = form.number("version")
    who = await run_in_threadpool(_visible, request, ref)
    kept = {
        "review-decision": decision,
        "review-reason": reason or "",
        "review-amount": amount or "",
        **end.kept(),
    }
    missing = [
        Problem(text, field)
        for text, field, left_out in (
            ("Select what the review decides", "review-decision", decision not in DECISIONS),
            ("Enter why: what the review found", "review-reason", reason is None),
        )
        if left_out
    ]
    # An amendment's new end date is a variation's, refused as a proposal would refuse it.
    wrong_end = end.problem() or (end_not_in_future(end) if decision == "amend" else None)
    if wrong_end is not None:
        missing.append(wrong_end)
    if missing and who.has("caseworker"):  # anyone else is refused for who they are, first
        return await run_in_threadpool(
            render_case, request, ref, status=400, form=kept, errors=missing
        )
    return await _change(
        request,
        ref,
        lambda uow: reviews.record(
            uow,
            ref,
            decision=decision,
            reason=reason,
            actor_name=who.name,
            expected_version=version,
            amount=amount,
            end=end.iso,
        ),
        kept=kept,
        fields={
            "decision": "review-decision",
            "reason": "review-reason",
            "amount": "review-amount",
            "end": "review-end",
        },
        general="review",
        done=_done,
        then=f"/cases/{ref.upper()}#review",
    )


def _done(shown: dict[str, Any]) -> str:
    words = DECISION_WORDS[shown["decision"]]
    said = f"{shown['case']}: annual review {shown['review']} recorded: {words.label}."
    if shown.get("variation"):
        said += f" {shown['variation']} is proposed for an approver to decide."
    return said


ROUTES = [Route("/cases/{ref}/review", record, methods=["POST"])]
