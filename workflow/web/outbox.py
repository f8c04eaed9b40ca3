"""/outbox: messages that could not be sent, those waiting, those sent (filtered by kind and
case), one message as it was sent, and sending again.

Sending again is `workflow.runtime.mail.retry`, which only a caseworker may do.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from notifications import outbox as outbox_store
from notifications.kinds import KINDS, kind_label
from workflow.runtime import mail
from workflow.storage.db import reading
from workflow.errors import NotFound
from workflow.web import queries
from workflow.web.auth import require, session_of, viewer
from workflow.web.forms import posted
from workflow.web.pages import page


def message_list(request: Request) -> Response:
    require(request, "caseworker", doing="look after undelivered messages")
    p = request.query_params
    kind = p.get("kind", "") if p.get("kind", "") in KINDS else ""
    case = p.get("case", "").strip()[:40]
    with reading(request.app.state.engine) as conn:
        dead = outbox_store.list_messages(conn, "dead", limit=200)
        waiting = outbox_store.list_messages(conn, "queued", limit=200)
        sent, pager = queries.sent_messages(
            conn,
            kind=kind,
            case=case,
            page=queries.page_number(p.get("page")),
            size=request.app.state.settings.page_size,
        )
    return page(
        request,
        "outbox.html",
        dead=dead,
        waiting=waiting,
        sent=sent,
        pager=pager,
        kinds=sorted(KINDS, key=kind_label),
        filters={"kind": kind, "case": case},
    )


def message_page(request: Request) -> Response:
    require(request, "caseworker", "auditor", doing="read the messages sent")
    raw = request.path_params["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise NotFound(f"There is no message {raw} in the outbox.")
    row, shown = mail.show(request.app.state.engine, int(raw))
    return page(request, "message.html", m=row, shown=shown)


async def retry(request: Request) -> Response:
    form = await posted(request)
    # Who may resend is the service's to decide (only a caseworker), as on the command line.
    who = await run_in_threadpool(viewer, request)
    ids = [int(v) for v in form.data.getlist("id") if isinstance(v, str) and v.isdigit()]
    every = form.text("all") == "dead"
    count = await run_in_threadpool(
        mail.retry, request.app.state.engine, who.name, ids=ids, all_dead=every
    )
    session_of(request).flash(
        f"{count} message{'' if count == 1 else 's'} will be sent again at the next delivery."
        if count
        else "Nothing was sent again: the message was already sent or is being sent right now."
    )
    return RedirectResponse("/outbox", status_code=303)


ROUTES = [
    Route("/outbox", message_list, methods=["GET"]),
    Route("/outbox/retry", retry, methods=["POST"]),
    Route("/outbox/{id}", message_page, methods=["GET"]),
]
