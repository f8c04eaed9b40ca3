"""A request body past the limit is refused with 413 as a problem, read or not.

The web app leaves /api/ bodies to this (its own limit answers with a page),
and the framework's built-in limit answers in plain text, so the API keeps
its own: a declared Content-Length past the limit is answered at once, and a
body that grows past it while read is stopped there.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from workflow.api.problems import MAX_BODY, too_large
from workflow.web.body_limit import limited

__all__ = ["BodyLimit"]


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Request(scope).headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await too_large()(scope, receive, send)
            return
        # Raised while the route reads its body: the framework passes an
        # HTTPException on, and the API's handler answers it as a problem.
        await self.app(scope, limited(receive, self.limit, lambda: HTTPException(413)), send)
