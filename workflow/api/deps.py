"""What every route shares: the database, the calling person, answers and their documentation."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from workflow import clock

from workflow.services import tokens
from workflow.api.idempotency import Answer
from workflow.services.attachments import ALLOWED, MAX_BYTES, MAX_NAME
from workflow.api.problems import MAX_BODY, MEDIA_TYPE
from workflow.storage.db import reading
from workflow.services.engine import Actor
from workflow.errors import Malformed

__all__ = [
    "engine_of",
    "caller",
    "known_query",
    "json_response",
    "answer_response",
    "etag",
    "parse_if_match",
    "errors",
    "ERROR_WORDS",
    "ETAG",
    "REPLAYED",
]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A personal API token: `casework token create NAME` prints it "
    "once. The token acts with its person's roles.",
)


def engine_of(request: Request) -> Engine:
    return request.app.state.engine


def caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Actor:
    """The person the bearer token acts as (401 problem otherwise)."""
    token = credentials.credentials if credentials else None
    with reading(engine_of(request)) as conn:
        actor = tokens.authenticate(conn, token, now=clock.now())
    request.state.person = actor.name  # for the request's log line (web.middleware)
    return actor


async def known_query(request: Request) -> None:
    """Refuse a query parameter the route does not take: `?stat=submitted` is a typo, not
    a request for every case. (async: no I/O, so no trip through the thread pool.)"""
    route = request.scope.get("route")
    if route is None or not request.query_params:
        return
    takes = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - takes)
    if unknown:
        listed = ", ".join(sorted(takes)) or "none"
        raise Malformed(
            "The query",
            [
                f"query parameter {name}: is not one this takes (it takes {listed})"
                for name in unknown
            ],
        )


def _query_names(dependant: Any) -> set[str]:
    names = {f.alias for f in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Sent as the services built it: no second validation pass on the way out.
    return Response(
        json.dumps(data, ensure_ascii=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def answer_response(answer: Answer) -> Response:
    headers = dict(answer.headers)
    if answer.replayed:
        headers["Idempotent-Replayed"] = "true"
    return Response(
        answer.body, status_code=answer.status, media_type=answer.media_type, headers=headers
    )


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(raw: str | None) -> int | None:
    """The version an If-Match names (`"7"`); None when absent or `*` (any version)."""
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip()
    if value.startswith("W/"):
        raise Malformed(
            "The If-Match header",
            ['a weak ETag (W/...) cannot be matched; send the ETag as given, e.g. "7"'],
        )
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise Malformed("The If-Match header", [f'{raw!r} is not a version ETag such as "7"'])
    return int(value)


ERROR_WORDS = {
    400: "Malformed input: a request the API could not read (a body that is not JSON or not "
    "of this operation's shape and types, a header, parameter or cursor that does not parse); "
    "each problem is listed in `problems`.",
    401: "No API token, or one that is unknown, revoked or expired.",
    403: "The token's person may not do this (their roles, or not of the lead organisation).",
    404: "No such case, return or programme (or a case another council's people cannot see).",
    409: "Not possible in the current state (`allowed` lists what is), a concurrent change, "
    "or an Idempotency-Key whose first request is still running.",
    412: "If-Match named a version that is no longer current; nothing was changed.",
    428: "If-Match is required here and was not sent: send the ETag a GET of the case gave "
    '(`"7"`); nothing was changed.',
    413: f"The body is larger than {MAX_BODY // 2**20} MB (one {MAX_BYTES // 2**20} MB evidence "
    f"file and the figures); refused before it was read to the end.",
    422: "Refused by a rule (`violations`; for an offer, the fund's position in `fund`), a "
    "missing reason, a value read but refused by casework's rules (`value-refused`: money "
    "written wrongly, a date that is not one, text with a control character; each in "
    "`problems`), or an Idempotency-Key reused for a different request.",
    503: "The database cannot be reached.",
}


# What a schema cannot say of an uploaded file (a part's name and bytes), said in words.
FILE_REFUSED = (
    "An evidence file is refused with 400 too, each reason in `problems`: a file name that is not one (empty, a folder, "
    f"over {MAX_NAME} characters or holding control characters), a type not accepted (by "
    f"the name's suffix: {', '.join(s.lstrip('.') for s in ALLOWED)}), an empty file, one "
    f"over {MAX_BYTES // 2**20} MB, or contents that are not what the name says (a PDF must "
    "start %PDF-, a workbook or document must be a zip archive, a CSV must be text)."
)


ETAG = {
    "ETag": {
        "description": 'The version, quoted (`"7"`): send it back as If-Match.',
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9]+"$'},
    }
}
REPLAYED = {
    "Idempotent-Replayed": {
        "description": "`true` when this is the kept answer to an earlier request with the same "
        "Idempotency-Key (nothing was done again).",
        "schema": {"type": "string", "enum": ["true"]},
    }
}


def errors(
    *statuses: int,
    headers: dict[str, Any] | None = None,
    success: int = 200,
    files: bool = False,
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these problem statuses (400 and 401 always), and a default;
    `headers` are those of the `success` answer (the route's status_code: 201 for one that
    creates, else a documented 200 with no body would be added beside it). `files`: the
    route takes an evidence file, whose refusal (400) its schema cannot state in full."""
    problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
    every = sorted({400, 401, *statuses})  # every route parses input and needs a token
    out: dict[int | str, dict[str, Any]] = {
        s: {"description": ERROR_WORDS[s], "content": {MEDIA_TYPE: problem}} for s in every
    }
    if files:
        out[400]["description"] += " " + FILE_REFUSED
    out["default"] = {
        "description": "Any other error (405 wrong method, 500), as a problem.",
        "content": {MEDIA_TYPE: problem},
    }
    if headers:
        out[success] = {"headers": headers}
    return out
