"""A refusal has one HTTP status, whichever face answers it."""

import pytest

from workflow import errors
from workflow.api.problems import error_body
from workflow.web.errors import status_of

SAMPLES = [
    errors.CaseNotFound("TCA-2013-0001"),
    errors.PermissionDenied("alice may not"),
    errors.InvalidTransition("TCA-2013-0001", "draft", "offer", ["submit"]),
    errors.GuardFailed("TCA-2013-0001", "offer", ["past the fund"]),
    errors.RuleViolation("no"),
    errors.Malformed("The bid document", ["amount: not money"]),
    errors.ReasonRequired("TCA-2013-0001", "withdraw"),
    errors.ConflictError("TCA-2013-0001"),
    errors.SetupError("the database cannot be opened"),
]


@pytest.mark.parametrize("err", SAMPLES, ids=lambda e: type(e).__name__)
def test_the_web_and_the_api_give_a_refusal_the_same_status(err):
    assert status_of(err) == error_body(err)["status"] == errors.http_status(err)


def test_a_database_that_cannot_be_reached_is_unavailable_on_every_face():
    err = errors.SetupError("the database cannot be opened")
    assert status_of(err) == error_body(err)["status"] == 503


def test_a_database_fault_is_a_503_problem_with_one_log_line_and_no_traceback(
    api, tmp_path, caplog
):
    from workflow.storage.db import make_engine

    headers = api.headers("carol")
    not_a_database = tmp_path / "casework.db"
    not_a_database.write_bytes(b"this is not a database file " * 200)
    from starlette.routing import Mount

    [mounted] = [r for r in api.client.app.routes if isinstance(r, Mount)]
    mounted.app.state.engine = make_engine(f"sqlite:///{not_a_database}")

    with caplog.at_level("INFO", logger="casework"):
        answer = api.client.get("/api/v1/cases", headers=headers)

    assert answer.status_code == 503 and answer.headers["retry-after"] == "60"
    assert answer.headers["content-type"] == "application/problem+json"
    assert "nothing was changed" in answer.json()["detail"]
    assert str(tmp_path) not in answer.text
    [line] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert str(not_a_database) in line.getMessage() and line.exc_info is None  # names the file
