"""The OpenAPI document: generated from the code, kept in docs/, and honest about every answer.

Schemathesis generates requests from the document and checks each answer
against it: no 500, every status, content type and body as documented (every
error a problem+json). Examples are bounded so the folder stays fast.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote

import jsonschema
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import Api, cast
from tests.api.scene import AFTER_OPENING, monitored_bids
from tests.builders import World
from workflow import clock
from workflow.api import MOUNT, create_api
from workflow.services import attachments
from workflow.storage.db import make_engine
from workflow.web.asgi import create_app

KEPT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
REGENERATE = ".venv/bin/python -m workflow.api > docs/openapi.json"


def served(app) -> dict:
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def test_the_kept_copy_is_the_document_the_web_app_serves(db):
    document = served(create_app(db, scheduler_every=None))

    assert document == json.loads(KEPT.read_text()), (
        f"docs/openapi.json is out of date with the code; regenerate it: {REGENERATE}"
    )


def test_paths_are_read_under_the_mount_point():
    document = create_api(make_engine("sqlite://")).openapi()

    assert document["servers"] == [{"url": "/api/v1"}]
    assert "/cases/{ref}/advance" in document["paths"]


def test_every_error_is_documented_as_problem_json_and_no_default_422_remains():
    document = create_api(make_engine("sqlite://")).openapi()

    assert "HTTPValidationError" not in json.dumps(document)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "401", "default"} <= set(responses), (method, path)
            for status, response in responses.items():
                if status.startswith(("4", "5")) or status == "default":
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )


def test_a_write_that_requires_if_match_documents_428():
    document = create_api(make_engine("sqlite://")).openapi()

    operation = document["paths"]["/cases/{ref}/application"]["put"]
    assert "428" in operation["responses"]
    (if_match,) = [p for p in operation["parameters"] if p["name"] == "If-Match"]
    assert if_match["required"] is True


def test_operations_taking_a_file_say_which_files_are_refused():
    document = create_api(make_engine("sqlite://")).openapi()

    for path in (
        "/cases/{ref}/application/evidence",
        "/cases/{ref}/checkpoints/{n}/submit",
        "/cases/{ref}/diligence/{check}",
    ):
        refused = document["paths"][path]["post"]["responses"]["400"]["description"]
        assert "not accepted" in refused and "pdf, xlsx" in refused and "empty" in refused, path


def test_the_post_operations_document_412_and_422_and_their_headers():
    document = create_api(make_engine("sqlite://")).openapi()

    for path in ("/cases/{ref}/advance", "/cases/{ref}/checkpoints/{n}/submit"):
        operation = document["paths"][path]["post"]
        assert {"409", "412", "422"} <= set(operation["responses"])
        assert {p["name"] for p in operation["parameters"]} >= {"If-Match", "Idempotency-Key"}


def test_each_operation_documents_the_one_success_it_answers_with_its_body():
    # A route that creates answers 201: its ETag and Idempotent-Replayed headers belong to
    # the 201, not to a 200 with no body that it never sends.
    document = create_api(make_engine("sqlite://")).openapi()

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            successes = [s for s in operation["responses"] if s.startswith("2")]
            assert len(successes) == 1, (method, path, successes)
            assert operation["responses"][successes[0]].get("content"), (method, path)
    for path in ("/cases/{ref}/reviews", "/cases/{ref}/variations"):
        created = document["paths"][path]["post"]["responses"]["201"]
        assert {"ETag", "Idempotent-Replayed"} <= set(created["headers"]), path


# --- Schemathesis -----------------------------------------------------------------------------
# Generated from the document itself, so a new route is fuzzed as soon as it exists.
OPERATIONS = sorted(
    op["operationId"]
    for ops in create_api(make_engine("sqlite://")).openapi()["paths"].values()
    for op in ops.values()
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def schema_valid_request_accepted(ctx, response, case) -> None:
    """A request the document calls valid is never refused as malformed (400).

    Refusals the document names as outcomes (403, 404, 409 a state, 412 a stale
    version, 422 a rule) are answers, not rejections of the request's form.
    """
    if case.meta is not None and case.meta.generation.mode.is_positive and _parts_valid(case):
        assert response.status_code != 400, (
            f"a schema-valid request was refused as malformed: {response.text[:300]}"
        )


def _parts_valid(case) -> bool:
    """Whether the JSON text in a form part matches the part's contentSchema, and a file
    part is a file the document's words accept.

    Schemathesis generates a `contentMediaType: application/json` part as any
    string; the document says which texts are valid, so only those count. A file
    part it generates as any bytes named after the field (`file`, no suffix): a
    schema cannot state a part's name or what its bytes must be, so the document
    says in words (its 400) which files are refused, and only accepted ones count.
    """
    body = case.body if isinstance(case.body, dict) else {}
    for name, part in body.items():
        if isinstance(part, (bytes, str)) and name == "file":
            data = part.encode() if isinstance(part, str) else part
            if attachments.problems(name, data):  # requests names a bare part after its field
                return False
    if body.get("figures") is None:
        return True
    part = case.operation.schema.raw_schema["components"]["schemas"]["ReturnSubmission"]
    try:
        jsonschema.validate(
            json.loads(body["figures"]), part["properties"]["figures"]["contentSchema"]
        )
    except (ValueError, TypeError, jsonschema.ValidationError):
        return False
    return True


def opaque_cursor_free(case) -> bool:
    """A cursor is valid only when the API gave it out, which no schema can state: not generated."""
    return "cursor" not in (case.query or {})


def routable(case) -> bool:
    """A path whose parameters hold a line break is not routed to the API at all.

    Starlette's Mount matches `/api/v1/(.*)`, and `.` stops at a decoded
    newline, so the web app answers such a request itself; it never reaches
    this API, whose document cannot speak for it. Negative cases hold their
    path parameters percent-encoded (`%0A`), so they are decoded first.
    """
    return not any(
        isinstance(v, str) and ("\n" in unquote(v) or "\r" in unquote(v))
        for v in (case.path_parameters or {}).values()
    )


# Real values for path parameters, so half the requests reach real records.
KNOWN = {"ref": "TCA-2013-0001", "n": "Q1", "pn": "P1", "vn": "V1", "code": "tca-2013"}


def _scene(engine) -> None:
    api = Api(cast(World(engine)))
    monitored_bids(api)  # TCA-2013-0001 with its first return open
    api.world.person("sam", "caseworker", "auditor", "approver")  # may reach every route


@pytest.fixture
def fuzzed(built_once, tmp_path) -> Api:
    """The API over its own copy of the scene (built once a run: each test's requests change
    only its copy)."""
    path = tmp_path / "casework.db"
    shutil.copy(built_once.path("openapi-scene", _scene), path)
    engine = make_engine(f"sqlite:///{path}")
    yield Api(World.over(engine))
    engine.dispose()


@pytest.fixture(scope="module")
def document() -> str:
    """The document as the API serves it under its mount point, generated once a module."""
    parent = FastAPI()
    parent.mount(MOUNT, create_api(make_engine("sqlite://")))
    return json.dumps(served(parent))


@pytest.mark.slow
@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value
)
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_every_answer_matches_the_document(fuzzed, document, operation_id, mode):
    api = fuzzed
    # What schemathesis.openapi.from_asgi does, without the app generating the document anew.
    schema = schemathesis.openapi.from_dict(json.loads(document))
    schema.app, schema.location = api.client.app, MOUNT + "/openapi.json"
    operation = schema.find_operation_by_id(operation_id)
    checks = CHECKS + (
        [negative_data_rejection]
        if mode is GenerationMode.NEGATIVE
        else [ignored_auth, schema_valid_request_accepted]
    )
    sam = api.headers("sam")
    names = {p.name for p in operation.iter_parameters() if p.location == "path"}
    known = {k: v for k, v in KNOWN.items() if k in names}
    cases = operation.as_strategy(mode)
    if known and mode is GenerationMode.POSITIVE:
        cases = st.one_of(cases, operation.as_strategy(mode, path_parameters=known))

    if mode is GenerationMode.POSITIVE:
        cases = cases.filter(opaque_cursor_free)

    @settings(
        max_examples=15,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases.filter(routable))
    def answers_as_documented(case):
        with clock.simulate(AFTER_OPENING):
            case.call_and_validate(headers=sam, checks=checks)

    answers_as_documented()
