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
