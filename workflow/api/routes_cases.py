"""Cases: list, show (ETag = version), fire a trigger or hand a case over (If-Match,
Idempotency-Key), history."""

from __future__ import annotations

import json
from typing import Callable, Literal, Optional

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from states import AREA, BID, DEFINITIONS
from workflow.services import assignment, lifecycle, access, reads
from workflow.services.facts import reads_ledger
from workflow.api import paging
from workflow.api.deps import (
    ETAG,
    REPLAYED,
    answer_response,
    caller,
    engine_of,
    errors,
    etag,
    json_response,
    parse_if_match,
)
from workflow.api.idempotency import Answer, fingerprint, json_text, once_in, parse_key
from workflow.api.problems import PreconditionFailed, error_body, problem_answer
from workflow.api.schemas import (
    AdvanceRequest,
    AssignRequest,
    Case,
    CasePage,
    HistoryPage,
    Review,
    ReviewPage,
    ReviewRequest,
)
from workflow.storage.db import reading
from workflow.services.engine import Actor
from workflow.storage.records import CaseRecord
from workflow.services.unit_of_work import UnitOfWork
from workflow.errors import CaseworkError, ConflictError, GuardFailed

router = APIRouter(tags=["cases"])
# Every state a case can be in, for the document (the service refuses any other).
CASE_STATES = sorted({*BID.states, *AREA.states})

REF = Path(
    ...,
    pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,39}$",
    examples=["TCA-2013-0001"],
    description="A case reference, e.g. `TCA-2013-0001`.",
)
# The patterns are the parsers' own rules (api/deps.parse_if_match, idempotency.parse_key),
# stated in the document only: the parsers refuse with their own words.
IF_MATCH = Header(
    None,
    alias="If-Match",
    max_length=40,
    examples=['"7"'],
    json_schema_extra={"pattern": r'^(\*|"[0-9]{1,9}"|[0-9]{1,9})$'},
    description='The ETag from GET (`"7"`), or `*` for any version: refused '
    "with 412 when it has changed since, and nothing is written. A "
    "weak ETag (`W/...`) is refused with 400.",
)
IDEMPOTENCY_KEY = Header(
    None,
    alias="Idempotency-Key",
    max_length=300,
    json_schema_extra={"pattern": r'^([!#-\[\]-~]{1,255}|"[!#-\[\]-~]{1,255}")$'},
    examples=["5f0c8a2e-3d4b-4e7a-9a51-0b6f3c2d1e90"],
    description='1 to 255 visible ASCII characters other than `"` and '
    "`\\` (a UUID is a good key). Sent again with the same key, "
    "the request is done once and its first answer returned "
    "(kept for 24 hours).",
)


@router.get(
    "/cases",
    response_model=CasePage,
    responses=errors(400, 401, 403, 404),
    summary="List cases",
    description="Oldest first. A council person sees the cases "
    "their organisation leads or is a partner in. A programme that does not exist is "
    "refused with 404 naming it (not answered with no cases).",
)
def list_cases(
    request: Request,
    state: Optional[str] = Query(
        None,
        max_length=40,
        description="e.g. in_monitoring",
        json_schema_extra={"enum": CASE_STATES},
    ),
    kind: Optional[Literal["bid", "area"]] = Query(None),
    programme: Optional[str] = Query(
        None,
        max_length=40,
        description="A programme's code, e.g. tca-2013; one that names no programme is 404.",
    ),
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "cases")
    engine = engine_of(request)
    after = paging.decode(cursor, "case", int)
    scope = access.org_scope(actor)
    # The document allows every state with either kind: a state the kind does not have
    # matches no case (the command line, where a state is typed, refuses it as a mistake).
    none_such = kind is not None and state is not None and state not in DEFINITIONS[kind].states
    items = (
        []
        if scope == access.NO_CASES or none_such
        else lifecycle.list_cases(
            engine,
            state=state,
            kind=kind,
            programme=programme,
            actor_name=actor.name,
            after_id=after,
            limit=limit + 1,
            org=scope,
        )
    )
    if not items and programme:
        # A mistyped code must not look like a programme with no cases (as on the command line).
        with reading(engine) as conn:
            reads.refuse_unknown(conn, programme=programme)
    return json_response(paging.page(items, limit, lambda c: _case_id(engine, c["ref"]), "case"))


def _case_id(engine: Engine, ref: str) -> int:
    with reading(engine) as conn:
        return lifecycle.load_case(conn, ref).id


@router.get(
    "/cases/{ref}",
    response_model=Case,
    responses=errors(401, 403, 404, headers=ETAG),
    summary="Show a case",
    description="As `case show REF --json`; the ETag header is the case's version.",
)
def show_case(request: Request, ref: str = REF, actor: Actor = Depends(caller)) -> Response:
    access.require(actor, "cases")
    case = lifecycle.show(engine_of(request), ref, actor.name)
    access.check_visible(actor, case)
    return json_response(case, headers={"ETag": etag(case["version"])})


@router.post(
    "/cases/{ref}/advance",
    response_model=Case,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
    summary="Fire a trigger",
    description="One transaction: the move, its history row under the token's "
    "person, and any emails it queues. With If-Match, a case that has "
    "changed since is refused with 412.",
)
def advance(
    request: Request,
    body: AdvanceRequest,
    ref: str = REF,
    if_match: Optional[str] = IF_MATCH,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    engine = engine_of(request)
    # An offer's agreement is drawn before the move's unit of work takes the write lock.
    drawn = lifecycle.draw_ahead(engine, ref, body.trigger)
    return _change(
        engine,
        "advance",
        ref,
        body.model_dump(),
        if_match,
        idempotency_key,
        actor,
        lambda uow, case, expected: lifecycle.advance(
            uow,
            case,
            body.trigger,
            actor,
            reason=body.reason,
            expected_version=expected,
            drawn=drawn,
        ),
        lambda err: _refusal_with_fund(engine, err),
    )


@router.post(
    "/cases/{ref}/assign",
    response_model=Case,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}),
    summary="Hand a case to another caseworker",
    description="One transaction: the case's caseworker, a history row (trigger "
    "`assign`) and an email to the new caseworker. Caseworkers only; "
    "If-Match and Idempotency-Key as for a trigger.",
)
def assign(
    request: Request,
    body: AssignRequest,
    ref: str = REF,
    if_match: Optional[str] = IF_MATCH,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    return _change(
        engine_of(request),
        "assign",
        ref,
        body.model_dump(),
        if_match,
        idempotency_key,
        actor,
        lambda uow, case, expected: assignment.assign(
            uow, case, body.caseworker, actor, reason=body.reason, expected_version=expected
        ),
        problem_answer,
    )


@router.get(
    "/cases/{ref}/reviews",
    response_model=ReviewPage,
    responses=errors(400, 401, 403, 404),
    summary="A case's annual reviews",
    description="As `casework review list --case REF --json`: every annual review of the "
    "award, oldest first: when it falls due, where it stands, what was decided, by whom, and "
    "`allowed_decisions`, the decisions you may record now; a page of them, as every list "
    "is. Staff only.",
)
def list_reviews(
    request: Request,
    ref: str = REF,
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    from workflow.services import reviews

    access.require(actor, "cases")
    engine = engine_of(request)
    with reading(engine) as conn:
        case = lifecycle.load_case(conn, ref)
    access.check_staff_read(actor, case, "annual reviews")
    items = reviews.list_reviews(engine, case=case.ref, actor_name=actor.name)
    return json_response(paging.page_after(items, cursor, limit, lambda r: r["ref"], "review"))


@router.post(
    "/cases/{ref}/reviews",
    response_model=Review,
    status_code=201,
    responses=errors(400, 401, 403, 404, 409, 412, 422, headers={**ETAG, **REPLAYED}, success=201),
    summary="Record an annual review",
    description="The decision of the case's annual review that is due (DESIGN "
    "section 9), by a caseworker: one transaction, a history row (trigger "
    "`review`); `stop` also suspends the case for an approver to "
    "terminate. A review not yet due is refused (422). If-Match and "
    "Idempotency-Key as for a trigger.",
)
def record_review(
    request: Request,
    body: ReviewRequest,
    ref: str = REF,
    if_match: Optional[str] = IF_MATCH,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    from workflow.services import reviews

    engine = engine_of(request)
    expected = parse_if_match(if_match)
    key = parse_key(idempotency_key)
    fp = fingerprint("review", ref.upper(), json.dumps(body.model_dump(), sort_keys=True), if_match)

    def work(uow: UnitOfWork) -> Answer:
        case = lifecycle.load_case(uow.conn, ref)
        access.check_visible(actor, case)
        try:
            shown = reviews.record(
                uow,
                case.ref,
                decision=body.decision,
                reason=body.reason,
                actor_name=actor.name,
                expected_version=expected,
                amount=body.amount,
                end=body.end,
            )
        except ConflictError as err:
            if expected is None:
                raise
            raise _stale(case.ref, err.current_version or case.version, expected) from None
        return Answer(201, json_text(shown), {"ETag": etag(shown["case_version"])})

    return answer_response(once_in(engine, actor.name, key, fp, work, problem_answer))


def _change(
    engine: Engine,
    action: str,
    ref: str,
    body: dict,
    if_match: Optional[str],
    idempotency_key: Optional[str],
    actor: Actor,
    change: Callable[[UnitOfWork, CaseRecord, int | None], dict],
    refusal: Callable[[CaseworkError], Answer],
) -> Response:
    """One change to a case, once per Idempotency-Key, refused with 412 when If-Match is stale.

    The key is claimed in the unit of work the change is made in, so the change
    and its kept answer commit together or not at all.
    """
    expected = parse_if_match(if_match)
    key = parse_key(idempotency_key)
    fp = fingerprint(action, ref.upper(), json.dumps(body, sort_keys=True), if_match)

    def work(uow: UnitOfWork) -> Answer:
        case = lifecycle.load_case(uow.conn, ref)
        access.check_visible(actor, case)
        try:
            after = change(uow, case, expected)
        except ConflictError as err:
            if expected is None:
                raise
            current = err.current_version or lifecycle.load_case(uow.conn, ref).version
            raise _stale(case.ref, current, expected) from None
        return Answer(200, json_text(after), {"ETag": etag(after["version"])})

    return answer_response(once_in(engine, actor.name, key, fp, work, refusal))


def _stale(ref: str, current: int, expected: int) -> PreconditionFailed:
    return PreconditionFailed(
        ref,
        f"{ref} has changed since version {expected} (it is at "
        f"version {current} now); nothing of yours was written. "
        f"Read it again before deciding.",
        current_version=current,
    )


def _refusal_with_fund(engine: Engine, err: CaseworkError) -> Answer:
    """A move refused by a rule that weighs the fund (an offer) also says where the fund
    stands (remaining, per category): the definition's rules say which moves those are."""
    answer = problem_answer(err)
    if not isinstance(err, GuardFailed):
        return answer
    try:
        from workflow.services.assessment import fund_position

        with reading(engine) as conn:
            case = lifecycle.load_case(conn, err.ref)
        t = DEFINITIONS[case.kind].machine.transition_for(err.trigger, case.state)
        if t is None or not reads_ledger(t):
            return answer
        position = fund_position(engine, case.programme)
    except CaseworkError:
        return answer
    body = {
        **error_body(err),
        "fund": {
            k: position[k]
            for k in ("fund", "committed", "remaining", "categories")
            if k in position
        },
    }
    return Answer(
        answer.status, json_text(body), answer.headers, answer.media_type, keep=answer.keep
    )


@router.get(
    "/cases/{ref}/history",
    response_model=HistoryPage,
    responses=errors(400, 401, 403, 404),
    summary="A case's history",
    description="Oldest first, with the hash chain (`case history REF --json`), "
    "for caseworkers and auditors.",
)
def case_history(
    request: Request,
    ref: str = REF,
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "history")
    after = paging.decode(cursor, "seq", int) or 0
    rows = [r for r in lifecycle.case_history(engine_of(request), ref) if r["seq"] > after]
    return json_response(paging.page(rows[: limit + 1], limit, lambda r: r["seq"], "seq"))
