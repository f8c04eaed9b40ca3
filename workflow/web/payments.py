"""Payments on the web: a case's payment schedule, the payments page (finance's approved ones
to pay, an approver's due ones to approve, a council's own), and the moves' forms."""

from __future__ import annotations

from functools import partial

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from states import BID, PAYMENT
from workflow.services import payments
from workflow.services.unit_of_work import UnitOfWork
from workflow.storage.records import CaseRecord
from workflow.web.auth import Viewer, require, viewer
from workflow.web.cases import _change, _visible, render_case
from workflow.web.forms import posted
from workflow.web.pages import Problem, page

ACTIONS = payments.PEOPLE_TRIGGERS


def on_case_page(uow: UnitOfWork, case: CaseRecord, who: Viewer) -> dict[str, Any]:
    """The case page's payment schedule (a bid's, once its programme has one)."""
    if case.kind != "bid" or not BID.is_in(case.state, "offered"):
        # Payments exist from the offer on (DESIGN.md section 8): a bid still being
        # decided has no schedule, and "Paid so far: £0" would read as an award.
        return {"schedule": None}
    spec = uow.spec(case.programme)
    if not spec.tranches and not spec.no_payments:
        return {"schedule": None}
    shown = payments.schedule(uow.conn, case, spec, who.actor)
    if (
        case.state in BID.final
        and not shown.get("recovery")
        and not any(t["payment"] for t in shown["tranches"])
    ):
        # Ineligible, rejected, withdrawn, declined: no payment was made and none will be,
        # so a schedule of tranches "waiting for their event" would mislead.
        return {"schedule": None}
    return {"schedule": shown}


async def move(request: Request) -> Response:
    ref = request.path_params["ref"]
    n = request.path_params["n"]
    action = request.path_params["action"]
    form = await posted(request)
    # The form names its field after the payment (several may be on one page).
    reference = form.optional(f"reference-P{n}") or form.optional("reference")
    reason = form.optional("reason")
    version = form.number("version")
    # Finance pays a run from /payments: the answer, or a refusal, comes back there.
    from_list = form.text("then").strip() == "/payments"
    who = await run_in_threadpool(_visible, request, ref)
    pay_ref = f"{ref.upper()}/P{n}"
    field = f"{action}-P{n}"
    kept = {f"reference-P{n}": reference or "", field: reason or ""}
    fields = {"reference": f"reference-P{n}", "reason": field}

    def call(uow: UnitOfWork) -> dict:
        return payments.move(
            uow,
            pay_ref,
            action,
            who.name,
            reason=reason,
            reference=reference,
            expected_version=version,
        )

    def done(d: dict) -> str:
        return f"{d['ref']} is now {PAYMENT.state_label(d['state']).lower()}."

    if from_list:
        again = partial(payments_page, request)
        general, then = f"payment-{ref.upper()}-P{n}", "/payments"
    else:
        again = partial(render_case, request, ref)
        general, then = "payments", f"/cases/{ref.upper()}#payments"
    if action == "pay" and not reference:
        # Asked for at its field, in words, before the service is called.
        missing = [Problem(f"Enter the remittance reference for {pay_ref}", f"reference-P{n}")]
        return await run_in_threadpool(again, errors=missing, form=kept, status=400)
    return await _change(
        request,
        ref,
        call,
        kept=kept,
        fields=fields,
        general=general,
        done=done,
        then=then,
        again=again,
    )


def payments_page(
    request: Request,
    *,
    errors: list[Problem] | None = None,
    form: dict | None = None,
    status: int = 200,
) -> Response:
    """What this person has to do with payments, and the payments they may see (again with
    `errors` at their fields and what was typed, `form`, after a refusal)."""
    who = viewer(request)
    engine = request.app.state.engine
    sections = []
    with UnitOfWork(engine, read_only=True) as uow:
        if who.has("finance"):
            sections.append(
                (
                    "to-pay",
                    "Approved payments to pay",
                    "Pay each, then record it with the remittance reference.",
                    payments.list_payments(
                        uow, state=PAYMENT.group("payable")[0], actor_name=who.name, full=True
                    ),
                )
            )
        if who.has("approver"):
            sections.append(
                (
                    "to-approve",
                    "Payments to approve",
                    "A payment falls due when its tranche's event happens; you may "
                    "not approve one of a case you are the caseworker of.",
                    payments.list_payments(
                        uow, state=PAYMENT.group("to_approve")[0], actor_name=who.name, full=True
                    ),
                )
            )
        if who.council_only:
            sections.append(
                (
                    "ours",
                    f"Payments to {who.org_name or who.org}",
                    "Every payment of your awards, paid or still to come.",
                    payments.list_payments(
                        uow, org=who.org or "\x00", actor_name=who.name, full=True
                    ),
                )
            )
        elif who.has("caseworker", "auditor", "admin"):
            sections.append(
                (
                    "all",
                    "Every payment",
                    "",
                    payments.list_payments(uow, actor_name=who.name, full=True),
                )
            )
    return page(
        request,
        "payments.html",
        sections=sections,
        errors=errors or [],
        form=form or {},
        status=status,
    )


def payment_run(request: Request) -> Response:
    """The approved payments as the finance system takes them (`casework payment export`'s
    CSV: payee code, 360Giving org id, name, amount, reference, case), to download."""
    require(request, "finance", doing="download the payment run")
    with UnitOfWork(request.app.state.engine, read_only=True) as uow:
        body = payments.export(uow, state=PAYMENT.group("payable")[0])
    stamp = uow.now.strftime("%Y%m%dT%H%M%SZ")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="payment-run-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


ROUTES = [
    Route("/payments", payments_page, methods=["GET"]),
    Route("/payments/run.csv", payment_run, methods=["GET"]),
    Route("/cases/{ref}/payments/{n:int}/{action}", move, methods=["POST"]),
]
