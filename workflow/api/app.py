"""The JSON API's application: `create_api(engine)`, mounted by the web app at /api/v1.

The OpenAPI document is built from the routes, then made honest: every error
is `application/problem+json` (the framework's default 422 validation schema
is never offered, because validation errors are answered 400 as problems),
and `servers` names the mount point so paths read as `/api/v1/cases`.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import Engine

from workflow.api import problems
from workflow.api.body_limit import BodyLimit
from workflow.api.deps import known_query
from workflow.api.schemas import FIGURES, ExportRow, Problem
from workflow.web import strict_utf8
from workflow.web.middleware import NoStore

__all__ = ["create_api", "openapi_document", "MOUNT", "TITLE", "VERSION"]

MOUNT = "/api/v1"
TITLE = "casework API"
VERSION = "1.0"
DESCRIPTION = """\
The JSON API of casework, for councils' own systems and for staff tools: the same
services, rules and refusals as the command line and the web app.

- **Authentication**: `Authorization: Bearer <token>`, a personal API token
  (`casework token create NAME`). The token acts with its person's roles; every
  change it makes is in the history under that person.
- **Lists** answer `{"items": [...], "next_cursor": ...}`; pass `cursor` for the
  next page (`limit` 1 to 500, default 50). Orders are stable.
- **Concurrency**: a case's `version` is its ETag. Send it back as `If-Match`
  and a trigger on a case that has changed since is refused with 412.
- **Retries**: POSTs accept an `Idempotency-Key`; the same key sent again does
  the work once and returns the first answer (with `Idempotent-Replayed: true`).
- **Errors** are `application/problem+json` (RFC 9457): `detail` is the
  service's own sentence, with its facts (`allowed`, `violations`,
  `problems`, `fund`).
- **Money** is pounds as a string with two decimals (`"250000.00"`).
"""


def create_api(engine: Engine) -> FastAPI:
    """The API as an ASGI app; mount it at /api/v1 (it serves /openapi.json itself)."""
    from workflow.api import (
        routes_agreements,
        routes_applications,
        routes_cases,
        routes_diligence,
        routes_payments,
        routes_programmes,
        routes_returns,
        routes_staff,
    )

    strict_utf8.install()
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        dependencies=[Depends(known_query)],
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": MOUNT}],
        # `servers` already names the mount; don't add it a second time per request
        root_path_in_servers=False,
        # operation ids are the route functions' names: list_cases, advance, ...
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.engine = engine
    app.add_middleware(BodyLimit)
    app.add_middleware(NoStore)
    problems.install(app)
    for module in (
        routes_applications,
        routes_cases,
        routes_diligence,
        routes_returns,
        routes_payments,
        routes_agreements,
        routes_programmes,
        routes_staff,
    ):
        app.include_router(module.router)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def openapi_document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            servers=app.servers,
        )
        app.openapi_schema = _honest(doc)
    return app.openapi_schema


# Names the framework makes up for form bodies, and what to call them instead.
_RENAMED = {"Body_submit_return": "ReturnSubmission", "Body_record_diligence": "DiligenceRecord"}


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A parameter is present or absent, never null: `anyOf [X, null]` becomes X.

    (An optional parameter's null branch let clients send the text `null`,
    which the rules stated beside it, a pattern for one, never meant to allow.)
    """
    branches = schema.get("anyOf", [])
    kept = [b for b in branches if b.get("type") != "null"]
    if len(branches) != 2 or len(kept) != 1:
        return schema
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, **kept[0]}


def _honest(doc: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(doc)
    for old, new in _RENAMED.items():
        text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    doc = json.loads(text)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for old, new in _RENAMED.items():
        if old in schemas:
            schemas[new] = {**schemas.pop(old), "title": new}
            # A form's parts are present or absent too (and a file part must say it is one).
            for name, part in schemas[new].get("properties", {}).items():
                schemas[new]["properties"][name] = _not_null(part)
    figures = schemas.get("ReturnSubmission", {}).get("properties", {}).get("figures")
    if figures is not None:  # JSON text in a form part (OpenAPI 3.1's content keywords)
        figures.update(contentMediaType="application/json", contentSchema=FIGURES)
    for model in (Problem, ExportRow):  # referenced by hand, so not collected
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path in doc.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _not_null(parameter["schema"])
            responses = operation.get("responses", {})
            bogus = responses.get("422", {}).get("content", {}).get("application/json")
            if bogus is not None:  # the framework's own, which we never send
                raise AssertionError(f"{operation.get('operationId')}: a default 422 slipped in")
    return doc
