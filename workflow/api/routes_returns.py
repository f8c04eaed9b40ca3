"""Monitoring returns (checkpoints): list a case's, show one, submit one (multipart)."""

from __future__ import annotations

import hashlib
from typing import Optional

from fastapi import APIRouter, Depends, File, Form, Path, Request, UploadFile
from fastapi.responses import Response

from states.documents import load_document
from states.errors import DocumentError
from workflow.services import monitoring, access
from workflow.api import paging
from workflow.api.writes import Preconditions, visible_case
from workflow.api.deps import ETAG, REPLAYED, caller, engine_of, errors, etag, json_response
from workflow.api.routes_cases import IDEMPOTENCY_KEY, IF_MATCH, REF
from workflow.api.schemas import Checkpoint, CheckpointPage
from workflow.services.attachments import MAX_BYTES
from workflow.services.engine import Actor
from workflow.errors import Malformed

router = APIRouter(tags=["monitoring returns"])

N = Path(
    ...,
    pattern=r"^[Qq][0-9]{1,3}$",
    description="The return's number in its case: `Q2`.",
    examples=["Q1"],
)


@router.get(
    "/cases/{ref}/checkpoints",
    response_model=CheckpointPage,
    responses=errors(400, 401, 403, 404),
    summary="A case's monitoring returns",
    description="By due date, as `checkpoint list --case REF --json`.",
)
def list_returns(
    request: Request,
    ref: str = REF,
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "returns")
    engine = engine_of(request)
    case = visible_case(engine, actor, ref)
    items = monitoring.list_checkpoints(engine, case=case.ref)
    return json_response(paging.page_after(items, cursor, limit, lambda c: c["ref"], "return"))


@router.get(
    "/cases/{ref}/checkpoints/{n}",
    response_model=Checkpoint,
    responses=errors(401, 403, 404, headers=ETAG),
    summary="One monitoring return",
    description="Its state, figures, evidence file, ladder and history; the ETag is "
    "the return's version.",
)
def show_return(
    request: Request, ref: str = REF, n: str = N, actor: Actor = Depends(caller)
) -> Response:
    access.require(actor, "returns")
    engine = engine_of(request)
    case = visible_case(engine, actor, ref)
    cp = monitoring.get_checkpoint(engine, f"{case.ref}/{n.upper()}", actor.name)
    return json_response(cp, headers={"ETag": etag(cp["version"])})


@router.post(
    "/cases/{ref}/checkpoints/{n}/submit",
    response_model=Checkpoint,
    responses=errors(
        400, 401, 403, 404, 409, 412, 413, 422, headers={**ETAG, **REPLAYED}, files=True
    ),
    summary="Submit a monitoring return",
    description="Multipart: `figures`, a JSON object (`spend_to_date`, "
    "`savings_to_date` as pounds, `progress`, `risks`, and any field "
    "the programme adds), and at most one evidence `file` (10 MB). "
    "Figures that are not a JSON object are 400; figures read but refused by the return's "
    "rules (money written wrongly, a field the programme does not take) are 422. "
    "If-Match takes the return's ETag.",
)
def submit_return(
    request: Request,
    ref: str = REF,
    n: str = N,
    figures: Optional[str] = Form(None, description="The figures as a JSON object."),
    file: Optional[UploadFile] = File(None, description="One evidence file."),
    if_match: Optional[str] = IF_MATCH,
    idempotency_key: Optional[str] = IDEMPOTENCY_KEY,
    actor: Actor = Depends(caller),
) -> Response:
    guard = Preconditions.of(if_match, idempotency_key)
    engine = engine_of(request)
    document = _figures(figures)
    attachment = _attachment(file)
    case = visible_case(engine, actor, ref)
    cp_ref = f"{case.ref}/{n.upper()}"
    request_parts = (
        "submit",
        cp_ref,
        figures,
        attachment[0] if attachment else None,
        hashlib.sha256(attachment[1]).hexdigest() if attachment else None,
    )
    return guard.write(
        engine,
        actor,
        request_parts,
        cp_ref,
        lambda uow, expected: monitoring.submit_return(
            uow,
            cp_ref,
            actor.name,
            figures=document,
            attachment=attachment,
            expected_version=expected,
        ),
        current=lambda uow: monitoring.load_checkpoint(uow.conn, cp_ref).version,
    )


def _figures(text: Optional[str]) -> dict | None:
    if text is None or not text.strip():
        return None
    try:
        return load_document(text, ".json")
    except DocumentError as err:
        raise Malformed(
            "The figures",
            [p.replace("document:", "figures:", 1) for p in err.problems],
            plural=True,
        ) from None


def _attachment(file: Optional[UploadFile]) -> tuple[str, bytes] | None:
    if file is None or not file.filename:
        return None
    # One byte past the limit is enough for the service to refuse it, naming the limit.
    return file.filename, file.file.read(MAX_BYTES + 1)
