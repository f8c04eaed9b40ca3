"""ASGI middleware: security headers, a cap on request bodies, request metrics.

Plain ASGI (not BaseHTTPMiddleware) so nothing buffers a response or runs a
request in another task.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod

from starlette.datastructures import MutableHeaders
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workflow.web.body_limit import limited
from workflow.runtime.metrics import REQUEST_SECONDS, REQUESTS
from workflow.logs import event
from workflow.web.errors import BodyTooLarge

log = logging.getLogger("casework.web")

# No script, style or font from anywhere but this server; no framing; forms post only here.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
_HEADERS = (
    ("content-security-policy", _CSP),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
)


class _HttpOnly(ABC):
    """Plain ASGI middleware that acts on HTTP requests and passes the rest (lifespan, websockets) through."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    @abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request."""


# Sent only where cookies are marked secure (served over HTTPS): a year, as GOV.UK does.
_HSTS = ("strict-transport-security", "max-age=31536000; includeSubDomains")


class SecurityHeaders(_HttpOnly):
    def __init__(self, app: ASGIApp, hsts: bool = False):
        super().__init__(app)
        self.headers = _HEADERS + ((_HSTS,) if hsts else ())

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for key, value in self.headers:
                    if key not in headers:
                        headers[key] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class NoStore(_HttpOnly):
    """`Cache-Control: no-store` on every answer that sets none: the API's hold people's cases."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_uncached(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_uncached)


class BodyLimit:
    """Refuse a request body past `limit` bytes while it is read, whatever Content-Length said."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        await self.app(scope, limited(receive, self.limit, lambda: BodyTooLarge(self.limit)), send)


def route_label(scope: Scope) -> str:
    """The route's template (`/cases/{ref}`), so metrics have one series per page, not per case."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path is None:
        return "unmatched"
    mounted = scope.get("root_path", "")[len(scope.get("app_root_path", "")) :]
    if isinstance(route, Mount):
        # Nothing inside the mount matched (a static file, or a path the API does not
        # have): the mount's own prefix, which `mounted` already ends with.
        return mounted or path
    return mounted + path if path.startswith("/") or not mounted else f"{mounted}/{path}"


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    """A request's method as a metric label: any other method is `other`, so labels stay few."""
    return method if method in METHODS else "other"


class RequestMetrics(_HttpOnly):
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        # The request's state, shared with the pages and the API below, which leave there
        # who asked (the web's signed-in viewer, the API token's person) for the log line.
        state = scope.setdefault("state", {})
        try:
            await self.app(scope, receive, send_counted)
        finally:
            label, took = route_label(scope), time.perf_counter() - started
            method = method_label(scope["method"])
            REQUESTS.labels(label, method, str(status)).inc()
            REQUEST_SECONDS.labels(label).observe(took)
            # The path only: a query string can hold what someone searched for.
            event(
                log,
                "http.request",
                f"{method} {scope['path']} {status}",
                person=state.get("person") or getattr(state.get("viewer"), "name", None),
                seconds=took,
                route=label,
                status=status,
            )
