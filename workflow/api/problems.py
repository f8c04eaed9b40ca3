"""Errors as `application/problem+json` (RFC 9457), in the services' own words.

Every refusal the services raise keeps its message (`detail`) and its facts
(`allowed` triggers, `violations`, `problems`, the fund's `remaining`), so a
council's system can act on it. The framework's own errors (a body that does
not parse, an unknown path, a wrong method) are answered the same way.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from states.documents import MAX_DEPTH
from workflow.logs import event
from workflow.services.attachments import MAX_BYTES
from workflow.storage.db import fault_of
from workflow.storage.dbfaults import is_database_error
from workflow.api.idempotency import Answer, is_conflict
from workflow.errors import (
    CaseworkError,
    Malformed,
    PreconditionFailed,
    PreconditionRequired,
    SetupError,
    http_kind,
)

__all__ = [
    "MEDIA_TYPE",
    "MAX_BODY",
    "too_large",
    "PreconditionFailed",
    "UnknownCursor",
    "problem",
    "problem_answer",
    "install",
]

MEDIA_TYPE = "application/problem+json"
# One evidence file, and room for the figures and the multipart framing.
MAX_BODY = MAX_BYTES + 1024 * 1024
log = logging.getLogger("casework.api")


class UnknownCursor(Malformed):
    def __init__(self) -> None:
        super().__init__("The cursor", ["is not one this API gave out; start again without it"])


TYPE_PREFIX = "urn:casework:problem:"
_FACTS = (
    "ref",
    "programme",
    "state",
    "trigger",
    "allowed",
    "violations",
    "problems",
    "current_version",
    "key",
    "fund",
)


def _kind(err: CaseworkError) -> tuple[int, str, str]:
    return http_kind(err)


def problem(status: int, slug: str, title: str, detail: str, **facts: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in facts.items() if v is not None and v != ""})
    return body


def error_body(err: CaseworkError) -> dict[str, Any]:
    status, slug, title = _kind(err)
    if isinstance(err, SetupError):
        # Its message names the database and its host: for the log, not for callers.
        log.error("API request refused: %s", err)
        return problem(
            status,
            slug,
            title,
            "The service cannot reach its database just now; "
            "nothing was changed. Try again in a moment.",
        )
    facts = {}
    for name in _FACTS:
        value = getattr(err, name, None)
        if isinstance(value, tuple):
            value = list(value)
        facts[name] = value
    return problem(status, slug, title, str(err), **facts)


def _headers(status: int) -> dict[str, str]:
    if status == 401:
        return {"WWW-Authenticate": 'Bearer realm="casework"'}
    return {}


def problem_answer(err: CaseworkError) -> Answer:
    """The answer to a refusal, as kept for an Idempotency-Key.

    Not kept: a conflict with a concurrent change and an unreachable database,
    which a retry with the same key should be able to get past.
    """
    body = error_body(err)
    keep = body["status"] < 500 and not is_conflict(err) and not isinstance(err, PreconditionFailed)
    return Answer(
        body["status"],
        json.dumps(body, ensure_ascii=False),
        _headers(body["status"]),
        MEDIA_TYPE,
        keep=keep,
    )


def respond(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers={**_headers(status), **(headers or {})},
    )


_UNPARSED = "There was an error parsing the body"  # FastAPI's detail (fastapi/routing.py)

_PLACES = {"query": "query parameter ", "path": "path parameter ", "header": "header ", "body": ""}
_SAYINGS = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request",
    "json_invalid": "is not valid JSON",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
}


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _PLACES:
        place, rest = parts[0], parts[1:]
        if not rest:
            return "the JSON body" if place == "body" else place
        return _PLACES[place] + ".".join(rest)
    return ".".join(parts) or "the request"


def validation_problems(err: RequestValidationError) -> list[str]:
    """Each framework validation error as `<where>: <what is wrong>`."""
    out = []
    for e in err.errors():
        loc = tuple(e.get("loc", ()))
        if e.get("type") == "json_invalid":
            # Its place is ("body", <character>): say where the JSON goes wrong, not "22: ...".
            at = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
            out.append(
                "the JSON body is not valid JSON"
                + (f" (at character {at})" if at is not None else "")
            )
            continue
        message = _SAYINGS.get(e.get("type", ""), e.get("msg", "is not valid"))
        if message and message[0].isupper() and not message[:2].isupper():
            message = message[0].lower() + message[1:]
        out.append(f"{_where(loc)}: {message}")
    return out or ["the request is not valid"]


def _only_if_match_missing(err: RequestValidationError) -> bool:
    """Whether the request's one fault is a required If-Match it did not send."""
    found = err.errors()
    return (
        len(found) == 1
        and found[0].get("type") == "missing"
        and (tuple(found[0].get("loc", ())) == ("header", "If-Match"))
    )


def _if_match_required(request: Request) -> PreconditionRequired:
    case = request.path_params.get("ref", "the case")
    return PreconditionRequired(
        f"This change needs If-Match: the version of {case} you are changing, as the ETag "
        f"that GET /cases/{case} or GET /cases/{case}/application gave (the version in "
        f'quotes, such as "7"); without it a change made meanwhile could be overwritten. '
        f"Nothing was written."
    )


def install(app: FastAPI) -> None:
    """Answer every error of `app` as problem+json."""

    @app.exception_handler(CaseworkError)
    async def _refused(request: Request, err: CaseworkError) -> Response:
        body = error_body(err)
        return respond(body["status"], body)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> Response:
        if _only_if_match_missing(err):  # RFC 6585: the write must be conditional
            return await _refused(request, _if_match_required(request))
        problems = validation_problems(err)
        return respond(
            400,
            problem(
                400,
                "malformed",
                "Malformed input",
                "The request was refused: " + "; ".join(problems) + ".",
                problems=problems,
            ),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, err: StarletteHTTPException) -> Response:
        slug = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            err.status_code, "http-error"
        )
        detail = err.detail if isinstance(err.detail, str) else "The request was refused."
        if err.status_code == 404 and detail == "Not Found":
            detail = f"There is nothing at {request.url.path}."
        if err.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        if err.status_code == 400 and detail == _UNPARSED:
            # FastAPI's word for a body json.loads gave up on, a RecursionError included.
            detail = (
                f"The JSON body could not be read: it is not valid JSON, or it is nested "
                f"more than {MAX_DEPTH} deep (lists and objects inside each other). "
                f"Nothing was written."
            )
        if err.status_code == 413:
            return too_large()
        return respond(
            err.status_code,
            problem(err.status_code, slug, _reason(err.status_code), detail),
            dict(err.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, err: Exception) -> Response:
        if is_database_error(err):
            fault = fault_of(request.app.state.engine, err)
            event(
                log,
                "api.database_fault",
                fault.line,
                level=logging.ERROR,
                fault=fault.kind,
                path=request.url.path,
            )
            return respond(
                503,
                problem(
                    503,
                    "database-unavailable",
                    "Service unavailable",
                    "The service could not use its records just now, so "
                    "nothing was changed. Try again in a few minutes.",
                ),
                {"Retry-After": "60"},
            )
        log.exception("API request %s %s failed", request.method, request.url.path)
        return respond(
            500,
            problem(
                500,
                "internal",
                "Internal error",
                "Something went wrong on our side; nothing you sent was "
                "lost or half-done. Try again, and tell us if it repeats.",
            ),
        )


def too_large() -> Response:
    return respond(
        413,
        problem(
            413,
            "too-large",
            "Request body too large",
            f"The request body is larger than {MAX_BODY // 2**20} MB, so it "
            f"was refused; an evidence file may be at most "
            f"{MAX_BYTES // 2**20} MB.",
        ),
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
