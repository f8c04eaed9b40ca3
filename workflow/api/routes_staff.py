"""Staff reads: the outbox (caseworkers), the history export and the admin log (auditors)."""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from workflow import clock
from workflow.services import access, admin_log
from workflow.api import paging
from workflow.runtime import mail
from workflow.api.deps import caller, engine_of, errors, json_response
from workflow.api.schemas import AdminLogPage, ExportRow, OutboxPage
from workflow.services.lifecycle import load_case
from workflow.storage.db import reading
from workflow.services.engine import Actor
from workflow.errors import Malformed
from workflow.services.export import streamed

router = APIRouter(tags=["staff"])

LISTED = (
    "id",
    "kind",
    "state",
    "to",
    "cc",
    "subject",
    "key",
    "attempts",
    "last_error",
    "case",
    "checkpoint",
    "created_at",
    "next_attempt_at",
    "sent_at",
    "smtp_response",
)


@router.get(
    "/outbox",
    response_model=OutboxPage,
    responses=errors(400, 401, 403),
    summary="The outbox",
    description="Emails queued, sent and dead, oldest first "
    "(`outbox list --json`). Caseworkers only.",
)
def list_outbox(
    request: Request,
    state: Optional[Literal["queued", "sent", "dead"]] = Query(None),
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "outbox")
    after = paging.decode(cursor, "message", int) or 0
    messages = mail.page_of_messages(engine_of(request), state, after, limit)
    items = [{k: m[k] for k in LISTED if k in m} for m in messages]
    return json_response(paging.page(items, limit, lambda m: m["id"], "message"))


@router.get(
    "/audit/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "History rows by case, then sequence: a JSON list "
            "(as `audit export --format json`) or CSV.",
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/ExportRow"}}
                },
                "text/csv": {"schema": {"type": "string"}},
            },
        },
        **errors(400, 401, 403, 404),
    },
    summary="Export the history",
    description="Every case's history (or one case's), streamed. Auditors only.",
)
def export(
    request: Request,
    format: Literal["json", "csv"] = Query("json", description="json or csv"),
    since: Optional[str] = Query(
        None,
        max_length=40,
        json_schema_extra={"format": "date-time"},
        description="ISO 8601 (RFC 3339's date-time, or without "
        "an offset, meaning UTC). Rows at or after it.",
    ),
    case: Optional[str] = Query(None, max_length=40, description="One case's rows."),
    actor: Actor = Depends(caller),
) -> StreamingResponse:
    access.require(actor, "audit_export")
    engine = engine_of(request)
    try:
        since_at = clock.parse_moment(since) if since else None
    except ValueError:
        raise Malformed("The export", [f"since: {since!r} is not an ISO 8601 time"]) from None
    case_id = None
    if case:
        with reading(engine) as conn:
            case_id = load_case(conn, case).id
    download = {"Content-Disposition": f'attachment; filename="history.{format}"'}
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return StreamingResponse(
        streamed(engine, format, case_id, since_at), media_type=media, headers=download
    )


@router.get(
    "/audit/admin-log",
    response_model=AdminLogPage,
    responses=errors(400, 401, 403, 404),
    summary="The admin log",
    description="Every change an administrator made, in the "
    "order written (`audit admin --json`): who, when, what, before and after, and each "
    "row's hash in the log's own chain. Auditors only.",
)
def admin_log_rows(
    request: Request,
    action: Optional[Literal[admin_log.ACTIONS]] = Query(  # type: ignore[valid-type]
        None, description="Only this kind of change."
    ),
    target: Optional[str] = Query(
        None,
        max_length=80,
        description="Only changes to this organisation, person or programme "
        "(404 when it names none and the log has no change to it).",
    ),
    cursor: Optional[str] = paging.CursorQuery,
    limit: int = paging.LimitQuery,
    actor: Actor = Depends(caller),
) -> Response:
    access.require(actor, "audit_export")
    after = paging.decode(cursor, "admin", int) or 0
    with reading(engine_of(request)) as conn:
        found = admin_log.rows(conn, action=action, target=target, after_id=after, limit=limit + 1)
        if not found and not after:  # a later page may be empty: the target was found before
            admin_log.refuse_unknown_target(conn, target)
    return json_response(paging.page(found, limit, lambda r: r["id"], "admin"))


_ = ExportRow  # referenced by the export's documented schema
