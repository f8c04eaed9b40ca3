"""/cases/REF/assessment: declarations of interest, scores, and the moderator's agreed score.

An assessor declares first (no conflict, or a conflict and what it is), then
scores each criterion 0 to 5, and may still declare a conflict found since
until the bid is moderated (their score is then set aside); a caseworker who
did not assess the bid may
record an agreed score when the assessors are too far apart. All through
`workflow.services.assessment`.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from states.rules import score_typed
from workflow.services import assessment, lifecycle as case_service
from workflow.storage.db import reading
from workflow.errors import CaseworkError, NotFound
from workflow.web import queries
from workflow.web.auth import Viewer, require, session_of
from workflow.web.errors import problems_of, status_of
from workflow.web.forms import Posted, posted
from workflow.web.pages import Problem, page

SEES = ("assessor", "caseworker", "approver", "auditor", "admin")
CRITERIA = ("innovation", "costs", "savings")
CRITERION_LABELS = {
    "innovation": "Level of innovation",
    "costs": "Transitional costs",
    "savings": "Prospective savings",
}


def _who(request: Request, ref: str) -> Viewer:
    who = require(request, *SEES, doing="see a bid's assessment")
    with reading(request.app.state.engine) as conn:
        row = case_service.load_case(conn, ref)
    who.check_sees(row.ref, row.lead, row.partners, row.state)
    return who


def assessment_page(request: Request) -> Response:
    return render_assessment(request, request.path_params["ref"])


def render_assessment(
    request: Request,
    ref: str,
    *,
    errors: list[Problem] | None = None,
    status: int = 200,
    form: dict | None = None,
) -> Response:
    who = _who(request, ref)
    engine = request.app.state.engine
    judged = assessment.assessment_of(engine, ref)
    with reading(engine) as conn:
        row = case_service.load_case(conn, ref)
        names = queries.org_names(conn, [row.lead])
    mine = next((d for d in judged["declarations"] if d["person"] == who.name), None)
    scored = any(s["assessor"] == who.name for s in judged["scores"])
    involved = scored or mine is not None
    return page(
        request,
        "assessment.html",
        status=status,
        errors=errors or [],
        form=form or {},
        a=judged,
        case=row,
        names=names,
        criteria=CRITERIA,
        labels=CRITERION_LABELS,
        may_declare=(
            who.has("assessor") and mine is None and judged["state"] in assessment.DECLARE_STATES
        ),
        may_declare_late=(
            who.has("assessor")
            and mine is not None
            and not mine["conflict"]
            and judged["state"] in assessment.DECLARE_STATES
        ),
        scored=scored,
        may_score=(
            who.has("assessor")
            and mine is not None
            and not mine["conflict"]
            and not scored
            and judged["state"] in assessment.SCORE_STATES
        ),
        may_agree=(
            who.has("caseworker")
            and not involved
            and judged["agreed"] is None
            and judged["state"] in assessment.SCORE_STATES
        ),
        mine=mine,
    )


def _scores(form: Posted, prefix: str = "") -> tuple[dict[str, Any], list[Problem]]:
    """The three scores as numbers (anything else is passed on for the service to refuse)."""
    given: dict[str, Any] = {}
    missing = []
    for name in CRITERIA:
        raw = form.text(prefix + name).strip()
        if not raw:
            missing.append(
                Problem(f"{CRITERION_LABELS[name]}: choose a score from 0 to 5", prefix + name)
            )
        given[name] = score_typed(raw)
    return given, missing


async def declare(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    who = await run_in_threadpool(_who, request, ref)
    answer = form.text("conflict")
    reason = form.optional("reason")
    if answer not in ("yes", "no"):
        return await run_in_threadpool(
            render_assessment,
            request,
            ref,
            status=400,
            form=form.values(),
            errors=[
                Problem("Say whether you have a conflict of interest in this bid", "conflict-no")
            ],
        )
    return await _act(
        request,
        ref,
        form,
        lambda: assessment.declare(
            request.app.state.engine, ref, who.name, conflict=answer == "yes", reason=reason
        ),
        fields={"reason": "reason"},
        # the one refusal a form can cause here is a conflict without its reason
        general="reason" if answer == "yes" and not reason else "declare",
        done="Your declaration is recorded.",
    )


async def score(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    who = await run_in_threadpool(_who, request, ref)
    given, missing = _scores(form)
    if missing:
        return await run_in_threadpool(
            render_assessment, request, ref, status=400, form=form.values(), errors=missing
        )
    return await _act(
        request,
        ref,
        form,
        lambda: assessment.score(
            request.app.state.engine, ref, who.name, comment=form.optional("comment"), **given
        ),
        fields={n: n for n in CRITERIA} | {"comment": "comment"},
        general="score",
        done="Your scores are recorded.",
    )


async def agree(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    who = await run_in_threadpool(_who, request, ref)
    given, missing = _scores(form, "agreed-")
    if missing:
        return await run_in_threadpool(
            render_assessment, request, ref, status=400, form=form.values(), errors=missing
        )
    return await _act(
        request,
        ref,
        form,
        lambda: assessment.agree_score(
            request.app.state.engine, ref, who.name, reason=form.text("agreed-reason"), **given
        ),
        fields={n: f"agreed-{n}" for n in CRITERIA} | {"reason": "agreed-reason"},
        general="agreed-reason" if not form.optional("agreed-reason") else "agree",
        done="The agreed score is recorded.",
    )


async def _act(
    request: Request,
    ref: str,
    form: Posted,
    call,
    *,
    fields: dict[str, str],
    general: str,
    done: str,
) -> Response:
    try:
        await run_in_threadpool(call)
    except NotFound:
        raise
    except CaseworkError as err:
        return await run_in_threadpool(
            render_assessment,
            request,
            ref,
            status=status_of(err),
            form=form.values(),
            errors=problems_of(err, fields, general=general),
        )
    session_of(request).flash(done)
    return RedirectResponse(f"/cases/{ref.upper()}/assessment", status_code=303)


ROUTES = [
    Route("/cases/{ref}/assessment", assessment_page, methods=["GET"]),
    Route("/cases/{ref}/declare", declare, methods=["POST"]),
    Route("/cases/{ref}/score", score, methods=["POST"]),
    Route("/cases/{ref}/agree-score", agree, methods=["POST"]),
]
