"""Payments of awards: a case's payments, and approving or paying one (If-Match, Idempotency-Key)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from workflow.api import paging
from workflow.api.writes import Preconditions, body_text, visible_case
from workflow.api.deps import ETAG, REPLAYED, caller, engine_of, errors, json_response
from workflow.api.routes_cases import IDEMPOTENCY_KEY, IF_MATCH, REF
from workflow.api.schemas import Payment, PaymentMove, PaymentPage
from workflow.services import access, payments
from workflow.services.engine import Actor

router = APIRouter(tags=["payments"])

PN = Path(
    ...,
    pattern=r"^[Pp][0-9]{1,3}$",
    description="The payment's number in its case: `P2`.",
    examples=["P1"],
)


@router.get(
    "/cases/{ref}/payments",
    response_model=PaymentPage,
    responses=errors(400, 401, 403, 404),
    summary="A case's payments",
    description="By number, as `payment list --case REF --json` with each payment's "
    "version and what you may do to it.",
)
def list_payments(
    request: Request,
    ref: str = REF,
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "cases")
    engine = engine_of(request)
    case = visible_case(engine, actor, ref)
    items = payments.list_payments(engine, case=case.ref, actor_name=actor.name, full=True)
    return json_response(paging.page_after(items, cursor, limit, lambda p: p["ref"], "payment"))


def _move(trigger: str):
    def route(
        request: Request,
        body: PaymentMove,
        ref: str = REF,
        pn: str = PN,
        if_match: Optional[str] = IF_MATCH,
        idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
        actor: Actor = Depends(caller),
    ) -> Response:
        guard = Preconditions.of(if_match, idempotency_key)
        engine = engine_of(request)
        case = visible_case(engine, actor, ref)
        pay_ref = f"{case.ref}/{pn.upper()}"
        return guard.write(
            engine,
            actor,
            (trigger, pay_ref, body_text(body)),
            pay_ref,
            lambda uow, expected: payments.move(
                uow,
                pay_ref,
                trigger,
                actor.name,
                reason=body.reason,
                reference=body.reference,
                expected_version=expected,
            ),
            current=lambda uow: payments.load_payment(uow.conn, pay_ref).version,
        )

    route.__name__ = f"{trigger}_payment"
    return route


router.post(
    "/cases/{ref}/payments/{pn}/approve",
    response_model=Payment,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
    summary="Approve a payment",
    description="An approver who is not the case's caseworker. If-Match takes the "
    "payment's version (its ETag in the list is `version`).",
    name="approve_payment",
)(_move("approve"))
router.post(
    "/cases/{ref}/payments/{pn}/pay",
    response_model=Payment,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
    summary="Record a payment as paid",
    description="Finance, with the remittance `reference`. Never more than the award "
    "in all; two payers at once pay once. If-Match takes the payment's "
    "version.",
    name="pay_payment",
)(_move("pay"))
