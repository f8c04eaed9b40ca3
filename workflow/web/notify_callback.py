"""/notify/callback: GOV.UK Notify posts each message's delivery receipt here.

Notify is given this URL and a bearer token (CASEWORK_NOTIFY_CALLBACK_TOKEN)
on its API integration page; every callback carries `Authorization: Bearer
<token>`, and a request without it changes nothing. The body is Notify's
"delivery receipts" JSON: `id` (the notification), `reference` (our outbox
key), `to`, `status` and times. Served only when the token is set.
"""

from __future__ import annotations

import os
import secrets
from json import JSONDecodeError

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from notifications.notify import callback_token
from notifications.receipts import FINAL, record_receipt
from workflow import clock


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"status": status, "detail": detail},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


async def notify_callback(request: Request) -> Response:
    expected = callback_token(os.environ)
    if expected is None:
        return _problem(
            404, "Notify callbacks are not taken here: CASEWORK_NOTIFY_CALLBACK_TOKEN is not set."
        )
    given = request.headers.get("authorization", "")
    if not (
        given[:7].lower() == "bearer "
        and secrets.compare_digest(given[7:].strip().encode(), expected.encode())
    ):
        return _problem(
            401,
            "Refused: the callback's bearer token is not the one set in "
            "CASEWORK_NOTIFY_CALLBACK_TOKEN.",
        )
    try:
        body = await request.json()
    except (JSONDecodeError, UnicodeDecodeError):
        return _problem(400, "The body is not JSON.")
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("id", "reference", "status")
    ):
        return _problem(400, "A delivery receipt needs id, reference and status, each a string.")
    if body["status"] not in FINAL:
        return _problem(400, f"status must be one of {', '.join(FINAL)}, not {body['status']!r}.")
    from starlette.concurrency import run_in_threadpool

    outcome = await run_in_threadpool(
        record_receipt,
        request.app.state.engine,
        reference=body["reference"],
        notification_id=body["id"],
        status=body["status"],
        now=clock.now(),
    )
    if outcome is None:
        return _problem(
            404, f"No message sent as {body['reference']!r} holds notification {body['id']}."
        )
    return JSONResponse(
        {"recorded": body["status"], "message": outcome}, headers={"Cache-Control": "no-store"}
    )


ROUTES = [Route("/notify/callback", notify_callback, methods=["POST"])]
