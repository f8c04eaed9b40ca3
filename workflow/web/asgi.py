"""The web app's factory, called by `casework serve`: `create_app(engine, scheduler_every=...)`.

Server-rendered pages that work without JavaScript; every form posts with a
CSRF token; the JSON API is mounted at /api/v1 when it is installed.
"""

from __future__ import annotations

import importlib.resources
import logging
import secrets

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from workflow.storage.tables import meta
from workflow.web import (
    admin,
    agreement,
    application,
    apply,
    approvals,
    assessment,
    audit,
    cases,
    inbox,
    notify_callback,
    ops,
    outbox,
    payments,
    returns,
    reviews,
    signin,
    statements,
)
from workflow.web.errors import HANDLERS
from workflow.web.middleware import BodyLimit, RequestMetrics, SecurityHeaders
from workflow.web.session import Codec, SessionMiddleware
from workflow.web.settings import WebSettings
from workflow.web import strict_utf8

log = logging.getLogger("casework.web")
_SECRET_KEY = "web_secret"


def create_app(
    engine: Engine, *, scheduler_every: float | None, settings: WebSettings | None = None
) -> Starlette:
    """The whole web app on `engine`.

    `scheduler_every` is the sweep interval in seconds when this process also
    runs the scheduler (/healthz then also checks the last sweep is younger
    than three intervals), or None on a web-only node.
    """
    strict_utf8.install()
    settings = settings or WebSettings.from_env()
    secret = settings.secret_key or kept_secret(engine)
    app = Starlette(
        routes=_routes(engine),
        middleware=[
            Middleware(RequestMetrics),
            Middleware(SecurityHeaders, hsts=settings.secure_cookies),
            Middleware(SessionMiddleware, codec=Codec(secret, settings)),
            Middleware(BodyLimit, limit=settings.max_body_bytes),
        ],
        exception_handlers=HANDLERS,
    )
    app.state.engine = engine
    app.state.settings = settings
    app.state.scheduler_every = scheduler_every
    return app


def _routes(engine: Engine) -> list[BaseRoute]:
    static = importlib.resources.files("templates") / "web" / "static"
    routes: list[BaseRoute] = [
        Mount("/static", app=StaticFiles(directory=str(static)), name="static")
    ]
    for area in (
        signin,
        inbox,
        apply,
        cases,
        agreement,
        payments,
        reviews,
        application,
        returns,
        assessment,
        approvals,
        audit,
        outbox,
        ops,
        statements,
        notify_callback,
        admin,
    ):
        routes += area.ROUTES
    api = _api(engine)
    if api is not None:
        routes.append(Mount("/api/v1", app=api))
    return routes


def _api(engine: Engine):
    try:
        from workflow.api.app import create_api
    except ImportError as err:
        if not (err.name or "").startswith("workflow.api"):
            raise
        log.info("the JSON API is not installed; /api/v1 is not served")
        return None
    return create_api(engine)


def kept_secret(engine: Engine) -> str:
    """The session-signing key kept in `meta`, made on first use and shared by every node."""
    with engine.begin() as conn:
        row = conn.execute(select(meta.c.value).where(meta.c.key == _SECRET_KEY)).first()
        if row is not None and isinstance(row.value, dict) and row.value.get("key"):
            return row.value["key"]
        key = secrets.token_urlsafe(48)
        try:
            with conn.begin_nested():
                conn.execute(meta.insert().values(key=_SECRET_KEY, value={"key": key}))
        except IntegrityError:  # another node made it first: use theirs
            return (
                conn.execute(select(meta.c.value).where(meta.c.key == _SECRET_KEY))
                .one()
                .value["key"]
            )
        return key
