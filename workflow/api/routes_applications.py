"""Applications: open a case from its document, amend it (If-Match), read any version,
attach evidence (DESIGN section 10)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

from fastapi import APIRouter, Depends, File, Header, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import Connection, Engine

from states.documents import load_document
from states.errors import DocumentError
from workflow.services import access, applications, lifecycle
from workflow.services import programme_files as programme_store
from workflow.api.writes import Preconditions
from workflow.api.deps import (
    ETAG,
    REPLAYED,
    answer_response,
    caller,
    engine_of,
    errors,
    etag,
    json_response,
)
from workflow.api.idempotency import Answer, fingerprint, json_text, once_in, parse_key
from workflow.api.problems import problem_answer
from workflow.api.routes_cases import IDEMPOTENCY_KEY, IF_MATCH, REF, _change
from workflow.api.schemas import APPLICATION_DOCUMENT, AmendedCase, ApplicationVersion, Case
from workflow.services.attachments import MAX_BYTES
from workflow.services.engine import Actor
from workflow.services.unit_of_work import UnitOfWork
from workflow.errors import DocumentRefused, Malformed

router = APIRouter(tags=["applications"])

MOUNT = "/api/v1"
DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": APPLICATION_DOCUMENT}},
    }
}
LOCATION = {
    "Location": {
        "description": "The new case's address: `/api/v1/cases/{ref}`.",
        "required": True,
        "schema": {"type": "string"},
    }
}
IF_MATCH_REQUIRED = Header(
    ...,
    alias="If-Match",
    max_length=40,
    examples=['"7"'],
    json_schema_extra={"pattern": r'^(\*|"[0-9]{1,9}"|[0-9]{1,9})$'},
    description='Required: the case\'s ETag (`"7"`, from GET '
    "/cases/{ref} or /cases/{ref}/application). Refused "
    "with 412 when the case has changed since, and nothing "
    "is written.",
)


async def _document(request: Request) -> tuple[str, dict[str, Any]]:
    """The body's text and its object, read as `case open` reads a file (money as written)."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("The body", ["it is not UTF-8 text"]) from None
    try:
        return text, load_document(text, ".json")
    except DocumentError as err:
        raise Malformed("The body", err.problems) from None


def _kind_of(conn: Connection, document: dict[str, Any]) -> str:
    """bid or area, as the document's programme says (a bid when it names none we know)."""
    spec = programme_store.find_spec(conn, document.get("programme"))
    return "area" if spec is not None and spec.kind == "areas" else "bid"


def _checked(conn: Connection, kind: str, document: dict[str, Any]) -> None:
    """The document rules, refused as a document the API could read but not accept (422)."""
    try:
        lifecycle.check_document(conn, kind, document)
    except Malformed as err:
        raise DocumentRefused(err.what, err.problems) from None


@router.post(
    "/cases",
    status_code=201,
    response_model=Case,
    openapi_extra=DOCUMENT_BODY,
    responses={
        **errors(400, 401, 403, 404, 409, 422),
        201: {"headers": {**ETAG, **LOCATION, **REPLAYED}},
    },
    summary="Open a case from its application document",
    description="A bid or an expression of interest (the programme says which), "
    "opened in `draft` as `case open` opens it: the document rules, "
    "version 1 of the application, the first history row. A council's "
    "token may open a case only for its own organisation as lead. "
    "Answers 201 with `Location` and the ETag; send `submit` to "
    "/cases/{ref}/advance when it is ready. Idempotency-Key as for a "
    "trigger.",
)
async def open_case(
    request: Request,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    text, document = await _document(request)
    return await run_in_threadpool(
        _open, engine_of(request), text, document, idempotency_key, actor
    )


def _open(
    engine: Engine,
    text: str,
    document: dict[str, Any],
    idempotency_key: Optional[str],
    actor: Actor,
) -> Response:
    key = parse_key(idempotency_key)
    fp = fingerprint("open_case", json.dumps(json.loads(text), sort_keys=True))

    def work(uow: UnitOfWork) -> Answer:
        kind = _kind_of(uow.conn, document)
        _checked(uow.conn, kind, document)
        case = lifecycle.open_case(uow, kind, document, actor.name)
        return Answer(
            201,
            json_text(case),
            {"ETag": etag(case["version"]), "Location": f"{MOUNT}/cases/{case['ref']}"},
        )

    return answer_response(once_in(engine, actor.name, key, fp, work, problem_answer))


@router.get(
    "/cases/{ref}/application",
    response_model=ApplicationVersion,
    responses=errors(400, 401, 403, 404, headers=ETAG),
    summary="A version of a case's application",
    description="The newest version, or `version` N (1 is what the case was opened "
    "from): the document, its SHA-256, who wrote it and when, and the "
    "fields it changed. The ETag is the case's version, for If-Match.",
)
def show_application(
    request: Request,
    ref: str = REF,
    version: Optional[int] = Query(
        None, ge=1, le=1_000_000, description="The version to read; the newest when left out."
    ),
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "cases")
    shown = applications.version_of(engine_of(request), ref, version, actor)
    return json_response(shown, headers={"ETag": etag(shown["case_version"])})


@router.put(
    "/cases/{ref}/application",
    response_model=AmendedCase,
    openapi_extra=DOCUMENT_BODY,
    responses=errors(400, 401, 403, 404, 409, 412, 422, 428, headers={**ETAG, **REPLAYED}),
    summary="Amend a case's application",
    description="Replaces the document (the whole of it) while the case is a draft "
    "or a bid waiting for the council's answer, by the lead council's "
    "people or a caseworker: the application's next version and a history "
    "row `amend` naming the changed fields. If-Match is required (428 "
    "without it); "
    "Idempotency-Key as for a trigger.",
)
async def amend_application(
    request: Request,
    ref: str = REF,
    if_match: str = IF_MATCH_REQUIRED,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    text, document = await _document(request)
    engine = engine_of(request)

    def change(uow: UnitOfWork, case: Any, expected: int | None) -> dict[str, Any]:
        _checked(uow.conn, case.kind, document)
        return applications.amend(uow, case, document, actor, expected_version=expected)

    return await run_in_threadpool(
        _change,
        engine,
        "amend",
        ref,
        {"document": json.loads(text)},
        if_match,
        idempotency_key,
        actor,
        change,
        problem_answer,
    )


@router.post(
    "/cases/{ref}/application/evidence",
    response_model=AmendedCase,
    responses=errors(
        400, 401, 403, 404, 409, 412, 413, 422, headers={**ETAG, **REPLAYED}, files=True
    ),
    summary="Attach an evidence file to an application",
    description="Multipart: one `file` (PDF, Excel, Word, CSV or OpenDocument, "
    f"{MAX_BYTES // 2**20} MB at most, as for a return). An amendment: "
    "the document's `evidence` lists the file's name, SHA-256, size and "
    "type. If-Match (optional) and Idempotency-Key as for a trigger. A refused file "
    "is answered 400 (below) even with a stale If-Match: a fresh version would not help.",
)
def attach_evidence(
    request: Request,
    ref: str = REF,
    file: UploadFile = File(..., description="One evidence file."),
    if_match: Optional[str] = IF_MATCH,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    guard = Preconditions.of(if_match, idempotency_key)
    # One byte past the limit is enough for the service to refuse it, naming the limit.
    name, data = file.filename or "", file.file.read(MAX_BYTES + 1)

    def change(uow: UnitOfWork, expected: int | None) -> dict[str, Any]:
        case = lifecycle.load_case(uow.conn, ref)
        access.check_visible(actor, case)
        return applications.attach(uow, case, name, data, actor, expected_version=expected)

    return guard.write(
        engine_of(request),
        actor,
        ("attach", ref.upper(), name, hashlib.sha256(data).hexdigest()),
        ref.upper(),
        change,
        current=lambda uow: lifecycle.load_case(uow.conn, ref).version,
    )
