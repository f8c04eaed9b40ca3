"""Payments of awards: a case's payments, and approving or paying one (If-Match, Idempotency-Key)."""
from __future__ import annotations

import json
from typing import Any, Optional

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from workflow.api import paging
from workflow.api.deps import (ETAG, REPLAYED, answer_response, caller, engine_of, errors, etag,
                               json_response, parse_if_match)
from workflow.api.idempotency import Answer, fingerprint, json_text, once_in, parse_key
from workflow.api.problems import PreconditionFailed, problem_answer
from workflow.api.routes_cases import IDEMPOTENCY_KEY, IF_MATCH, REF
from workflow.api.schemas import Payment, PaymentMove, PaymentPage
from workflow.errors import ConflictError
from workflow.services import access, lifecycle, payments
from workflow.services.engine import Actor
from workflow.services.unit_of_work import UnitOfWork
from workflow.storage.db import reading

router = APIRouter(tags=["payments"])

PN = Path(..., pattern=r"^[Pp][0-9]{1,3}$", description="The payment's number in its case: `P2`.",
         examples=["P1"])


def _visible_case(engine: Engine, actor: Actor, ref: str) -> Any:
    with reading(engine) as conn:
        case = lifecycle.load_case(conn, ref)
    access.check_visible(actor, case)
    return case


@router.get("/cases/{ref}/payments", response_model=PaymentPage,
            responses=errors(400, 401, 403, 404), summary="A case's payments",
            description="By number, as `payment list --case REF --json` with each payment's "
                        "version and what you may do to it.")
def list_payments(request: Request, ref: str = REF, cursor: Optional[str] = paging.CursorQuery,
                  limit: int = paging.LimitQuery, actor: Actor = Depends(caller)) -> Response:
    access.require(actor, "cases")
    engine = engine_of(request)
    case = _visible_case(engine, actor, ref)
    items = payments.list_payments(engine, case=case.ref, actor_name=actor.name, full=True)
    return json_response(paging.page_after(items, cursor, limit, lambda p: p["ref"], "payment"))


def _move(trigger: str):
    def route(request: Request, body: PaymentMove, ref: str = REF, pn: str = PN,
              if_match: Optional[str] = IF_MATCH,
              idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
              actor: Actor = Depends(caller)) -> Response:
        engine = engine_of(request)
        expected = parse_if_match(if_match)
        key = parse_key(idempotency_key)
        case = _visible_case(engine, actor, ref)
        pay_ref = f"{case.ref}/{pn.upper()}"
        fp = fingerprint(trigger, pay_ref, json.dumps(body.model_dump(), sort_keys=True),
                         if_match)

        def work(uow: UnitOfWork) -> Answer:
            try:
                done = payments.move(uow, pay_ref, trigger, actor.name, reason=body.reason,
                                     reference=body.reference, expected_version=expected)
            except ConflictError as err:
                if expected is None:
                    raise
                current = (err.current_version
                           or payments.load_payment(uow.conn, pay_ref).version)
                raise PreconditionFailed(pay_ref, str(err), current_version=current) from None
            return Answer(200, json_text(done), {"ETag": etag(done["version"])})

        return answer_response(once_in(engine, actor.name, key, fp, work, problem_answer))
    route.__name__ = f"{trigger}_payment"
    return route


router.post("/cases/{ref}/payments/{pn}/approve", response_model=Payment,
            responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
            summary="Approve a payment",
            description="An approver who is not the case's caseworker. If-Match takes the "
                        "payment's version (its ETag in the list is `version`).",
            name="approve_payment")(_move("approve"))
router.post("/cases/{ref}/payments/{pn}/pay", response_model=Payment,
            responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
            summary="Record a payment as paid",
            description="Finance, with the remittance `reference`. Never more than the award "
                        "in all; two payers at once pay once. If-Match takes the payment's "
                        "version.",
            name="pay_payment")(_move("pay"))
