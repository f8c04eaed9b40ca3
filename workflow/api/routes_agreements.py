"""Grant agreements and variations of awards (issue 19).

`GET /cases/{ref}/agreement` answers the versions as JSON, or a version's PDF to a client that
asks for `application/pdf`; variations are proposed and decided with If-Match and
Idempotency-Key as every change is.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from workflow.api import paging
from workflow.api.writes import Preconditions, body_text, visible_case
from workflow.api.deps import ETAG, REPLAYED, caller, engine_of, errors, json_response
from workflow.api.routes_cases import IDEMPOTENCY_KEY, IF_MATCH, REF
from workflow.api.schemas import (
    AgreementListing,
    Variation,
    VariationDecision,
    VariationPage,
    VariationProposal,
)
from workflow.services import access, agreements, variations
from workflow.services.engine import Actor

router = APIRouter(tags=["agreements"])

VN = Path(
    ...,
    pattern=r"^[Vv][0-9]{1,3}$",
    description="The variation's number in its case: `V1`.",
    examples=["V1"],
)
VERSION = Query(None, ge=1, le=1_000_000, description="The version's PDF (default: the latest).")
_PDF = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}


@router.get(
    "/cases/{ref}/agreement",
    response_model=AgreementListing,
    responses={**errors(400, 401, 403, 404), 200: {"content": _PDF}},
    summary="A case's grant agreement",
    description="Every version, with its SHA-256 and the version the council accepted "
    "(`agreement show REF --json`). Ask with `Accept: application/pdf` for "
    "a version's PDF (`version`, default the latest), served checked "
    "against its SHA-256.",
)
def agreement(
    request: Request,
    ref: str = REF,
    version: Optional[int] = VERSION,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "cases")
    engine = engine_of(request)
    case = visible_case(engine, actor, ref)
    if "application/pdf" in request.headers.get("accept", ""):
        shown, data = agreements.document(engine, case.ref, version)
        return Response(
            data, media_type=agreements.MEDIA_TYPE, headers={"ETag": f'"{shown["sha256"]}"'}
        )
    if version is not None:
        agreements.document(engine, case.ref, version)  # NotFound for a version it lacks
    return json_response(agreements.listing(engine, case.ref))


@router.get(
    "/cases/{ref}/variations",
    response_model=VariationPage,
    responses=errors(400, 401, 403, 404),
    summary="A case's variations",
    description="By number, as `variation list --case REF --json`, with what you may do; "
    "a page of them, as every list is.",
)
def list_variations(
    request: Request,
    ref: str = REF,
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "cases")
    engine = engine_of(request)
    case = visible_case(engine, actor, ref)
    items = variations.list_variations(engine, case=case.ref, actor_name=actor.name)
    return json_response(paging.page_after(items, cursor, limit, lambda v: v["ref"], "variation"))


@router.post(
    "/cases/{ref}/variations",
    response_model=Variation,
    status_code=201,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}, success=201),
    summary="Propose a variation",
    description="The lead council or a caseworker, on an award in monitoring. "
    "`amount` is the new total; `end_on` the new end date; neither, a change of scope the "
    "`reason` describes. A proposal that varies nothing (the total or end date the award "
    "already has, £0, an end date not after today, no reason) or asks a total outside the "
    "category's band is refused, 422, naming why, as is an amount or date written wrongly "
    "(`value-refused`). If-Match takes the case's version.",
)
def propose(
    request: Request,
    body: VariationProposal,
    ref: str = REF,
    if_match: Optional[str] = IF_MATCH,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    guard = Preconditions.of(if_match, idempotency_key)
    engine = engine_of(request)
    case = visible_case(engine, actor, ref)
    return guard.write(
        engine,
        actor,
        ("propose_variation", case.ref, body_text(body)),
        case.ref,
        lambda uow, expected: variations.propose(
            uow,
            case.ref,
            amount=body.amount,
            end=body.end_on,
            reason=body.reason,
            actor=actor.name,
            expected_version=expected,
        ),
        status=201,
    )


def _decide(decision: str):
    def route(
        request: Request,
        body: VariationDecision,
        ref: str = REF,
        vn: str = VN,
        if_match: Optional[str] = IF_MATCH,
        idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
        actor: Actor = Depends(caller),
    ) -> Response:
        guard = Preconditions.of(if_match, idempotency_key)
        engine = engine_of(request)
        case = visible_case(engine, actor, ref)
        vref = f"{case.ref}/{vn.upper()}"
        # An approval's agreement is drawn before the unit of work takes the write lock.
        drawn = variations.draw_ahead(engine, vref, decision)
        return guard.write(
            engine,
            actor,
            (f"{decision}_variation", vref, body_text(body)),
            vref,
            lambda uow, expected: variations.decide(
                uow,
                vref,
                decision,
                actor.name,
                reason=body.reason,
                expected_version=expected,
                drawn=drawn,
            ),
        )

    route.__name__ = f"{decision}_variation"
    return route


@router.post(
    "/cases/{ref}/variations/{vn}/countersign",
    response_model=Variation,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
    summary="Countersign a variation",
    description="A second approver's countersignature (DESIGN section 9), needed before "
    "an approval when the variation raises the award to a total above the programme's "
    "countersignature threshold: by an approver who did not assess the bid, who then may not "
    "approve it; once each. A variation that needs none is refused, 422. If-Match takes "
    "the variation's version.",
)
def countersign_variation(
    request: Request,
    body: VariationDecision,
    ref: str = REF,
    vn: str = VN,
    if_match: Optional[str] = IF_MATCH,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    guard = Preconditions.of(if_match, idempotency_key)
    engine = engine_of(request)
    case = visible_case(engine, actor, ref)
    vref = f"{case.ref}/{vn.upper()}"
    return guard.write(
        engine,
        actor,
        ("countersign_variation", vref, body_text(body)),
        vref,
        lambda uow, expected: variations.countersign(
            uow, vref, actor.name, reason=body.reason, expected_version=expected
        ),
    )


router.post(
    "/cases/{ref}/variations/{vn}/approve",
    response_model=Variation,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
    summary="Approve a variation",
    description="An approver. The award as varied must pass the offer's rules (band, "
    "fund, count); the difference is reserved or released, the agreement's "
    "next version drawn up and the unpaid payments re-planned. If-Match "
    "takes the variation's version.",
    name="approve_variation",
)(_decide("approve"))
router.post(
    "/cases/{ref}/variations/{vn}/reject",
    response_model=Variation,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
    summary="Reject a variation",
    description="An approver, with the reason. If-Match takes the variation's version.",
    name="reject_variation",
)(_decide("reject"))
