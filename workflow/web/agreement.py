"""/cases/REF/agreement (every version of the grant agreement, readable, and where the council
accepts it) and /cases/REF/agreement.pdf; variations proposed and decided from the case page.

The council reads the agreement here before the accept button (the case page sends it here
for `accept`); the PDF of every version is served checked against its SHA-256.
"""

from __future__ import annotations

from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from states import BID, VARIATION
from workflow import clock
from workflow.services import agreements, variations
from workflow.services import lifecycle as case_service
from workflow.services.unit_of_work import UnitOfWork
from workflow.web.actions import find, plan_actions
from workflow.storage.records import CaseRecord
from workflow.web.auth import Viewer, viewer
from workflow.web.cases import _change, _visible, render_case
from workflow.web.forms import DATE_PARTS, DateTyped, posted, version_asked
from workflow.web.pages import Problem, page


def agreement_page(request: Request) -> Response:
    ref = request.path_params["ref"]
    version = version_asked(request)
    who = viewer(request)
    with UnitOfWork(request.app.state.engine, read_only=True) as uow:
        row = case_service.load_case(uow.conn, ref)
        who.check_sees(row.ref, row.lead, row.partners)
        shown = agreements.view(uow.conn, row, version)
        accept = find(plan_actions(uow.conn, row, who.actor), "accept")
        case = case_service.case_json(uow.conn, row, who.actor, with_application=False)
    return page(
        request,
        "agreement.html",
        case=case,
        view=shown,
        accept=accept if accept is not None and accept.offered and shown.get("latest") else None,
    )


def on_case_page(uow: UnitOfWork, case: CaseRecord, who: Viewer) -> dict:
    """The case page's agreement and variations, and whether this person may propose one."""
    if case.kind != "bid":
        return {"agreement": None, "variations": [], "may_propose": False}
    listed = variations.list_variations(uow, case=case.ref, actor_name=who.name)
    for v in listed:
        if v["allowed_triggers"]:  # offered only where it would succeed; else, why not
            v["blocked"] = variations.blocked_decisions(uow, case, v, who.name)
    undecided = any(VARIATION.is_in(v["state"], "undecided") for v in listed)
    may_propose = (
        BID.is_in(case.state, "open_to_variation")
        and not undecided
        and (who.has("caseworker") or (who.has("council") and who.org == case.lead))
    )
    return {
        "agreement": agreements.view(uow.conn, case),
        "variations": listed,
        "may_propose": may_propose,
    }


def agreement_pdf(request: Request) -> Response:
    ref = request.path_params["ref"]
    version = version_asked(request)
    who = viewer(request)
    shown, data = agreements.document(request.app.state.engine, ref, version, actor_name=who.name)
    name = f"{ref.upper()}-agreement-v{shown['version']}.pdf"
    return Response(
        data,
        media_type=agreements.MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": "no-store"},
    )


async def propose(request: Request) -> Response:
    ref = request.path_params["ref"]
    form = await posted(request)
    amount = form.pounds("variation-amount") or None
    end = form.date("variation-end", "End date")
    reason = form.optional("variation-reason")
    who = await run_in_threadpool(_visible, request, ref)
    kept = {
        "variation-amount": amount or "",
        **end.kept(),
        "variation-reason": reason or "",
    }
    # Each asked for at its field, in words (the service names its CLI option, and reads
    # the end date as YYYY-MM-DD).
    missing = [
        problem
        for problem in (
            end.problem() or end_not_in_future(end),
            Problem("Enter what changes and why", "variation-reason") if reason is None else None,
        )
        if problem is not None
    ]
    if missing:
        return await run_in_threadpool(
            render_case, request, ref, status=400, form=kept, errors=missing
        )
    return await _change(
        request,
        ref,
        lambda uow: variations.propose(
            uow, ref, amount=amount, end=end.iso, reason=reason, actor=who.name
        ),
        kept=kept,
        fields={"amount": "variation-amount", "end": "variation-end", "reason": "variation-reason"},
        general="variations",
        done=lambda d: f"{d['ref']} is proposed: an approver decides it.",
        then=f"/cases/{ref.upper()}#variations",
    )


def end_not_in_future(end: DateTyped) -> Problem | None:
    """The service's rule for a variation's new end date (after today), in the Design
    System's words at the date's boxes, rather than its own with ISO dates in the section
    the form is in (the variation's, the annual review's)."""
    if end.iso is None or variations.end_in_future(date.fromisoformat(end.iso), clock.now()):
        return None
    return Problem("End date must be in the future", end.name, DATE_PARTS)


async def decide(request: Request) -> Response:
    ref = request.path_params["ref"]
    n = request.path_params["n"]
    form = await posted(request)
    decision = form.text("decision").strip()
    reason = form.optional("reason")
    version = form.number("version")
    who = await run_in_threadpool(_visible, request, ref)
    field = f"reason-V{n}-{decision}"
    if decision == "countersign":  # a second approver's signature (DESIGN section 9)
        return await _change(
            request,
            ref,
            lambda uow: variations.countersign(
                uow, f"{ref}/V{n}", who.name, reason=reason, expected_version=version
            ),
            kept={field: reason or ""},
            fields={"reason": field},
            general="variations",
            done=lambda d: f"{d['ref']} is countersigned: another approver may now approve it.",
            then=f"/cases/{ref.upper()}#variations",
        )
    # An approval's agreement is drawn before the unit of work takes the write lock.
    drawn = await run_in_threadpool(
        variations.draw_ahead, request.app.state.engine, f"{ref}/V{n}", decision
    )
    return await _change(
        request,
        ref,
        lambda uow: variations.decide(
            uow,
            f"{ref}/V{n}",
            decision,
            who.name,
            reason=reason,
            expected_version=version,
            drawn=drawn,
        ),
        kept={field: reason or ""},
        fields={"reason": field},
        general="variations",
        done=lambda d: (
            f"{d['ref']} is now {VARIATION.state_label(d['state']).lower()}"
            + (
                f"; agreement version {d['agreement_version']} is drawn up."
                if d["agreement_version"]
                else "."
            )
        ),
        then=f"/cases/{ref.upper()}#variations",
    )


ROUTES = [
    Route("/cases/{ref}/agreement", agreement_page, methods=["GET"]),
    Route("/cases/{ref}/agreement.pdf", agreement_pdf, methods=["GET"]),
    Route("/cases/{ref}/variations", propose, methods=["POST"]),
    Route("/cases/{ref}/variations/{n:int}/decide", decide, methods=["POST"]),
]
