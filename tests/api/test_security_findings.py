"""The security review's smaller findings (issue 17), each as an API client meets it."""

from __future__ import annotations

import base64
import json

import pytest

from tests.api.test_returns import monitored, submit  # noqa: F401  (fixture and helper)
from workflow.services import attachments


def _cursor(tag: str, value) -> str:
    return base64.urlsafe_b64encode(json.dumps([tag, value]).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "path, cursor",
    [
        ("/cases", _cursor("case", 10**30)),
        ("/cases", _cursor("case", -1)),
        ("/outbox", _cursor("message", 2**63)),
        ("/cases/TCA-2013-0001/history", _cursor("seq", 2**64)),
        ("/programmes", _cursor("programme", "x" * 200)),
    ],
)
def test_a_cursor_out_of_range_is_refused_with_400_not_a_500(api, path, cursor):
    api.world.bid()

    answer = api.get(path, params={"cursor": cursor})

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "cursor" in answer.json()["detail"]


@pytest.mark.parametrize(
    "reason, code",
    [
        ("wait\x1b[2J", "U+001B"),
        ("ring\x07", "U+0007"),
        ("nul\x00", "U+0000"),
        ("cost \u202egnp.exe", "U+202E"),
    ],
)
def test_a_reason_with_a_control_character_is_refused_naming_the_field(api, reason, code):
    ref = api.world.bid()
    before = api.world.snapshot()

    answer = api.advance(ref, "withdraw", who="carol", reason=reason)

    # Read, but refused by states.text's rule: 422 (a body it could not read would be 400).
    assert (answer.status_code, answer.json()["type"]) == (
        422,
        "urn:casework:problem:value-refused",
    )
    assert "reason: contains" in answer.json()["detail"] and code in answer.json()["detail"]
    assert api.world.snapshot() == before


def test_a_reason_keeps_its_tabs_and_new_lines(api):
    ref = api.world.bid()
    answer = api.advance(
        ref, "withdraw", who="carol", reason="The councils have merged:\n\tno hub is needed"
    )

    assert answer.status_code == 200


def test_figures_nested_deeper_than_32_are_refused_with_400(monitored):  # noqa: F811
    api, ref = monitored
    deep = '{"progress": "ok", "risks": ' + "[" * 100_000 + "]" * 100_000 + "}"

    answer = submit(api, ref, figures=deep)

    assert answer.status_code == 400
    assert "nested more than 32 deep" in answer.json()["detail"]


def test_figures_that_are_not_utf8_are_refused_not_read_as_latin1(monitored):  # noqa: F811
    api, ref = monitored
    body = (
        b'--b\r\nContent-Disposition: form-data; name="figures"\r\n\r\n'
        b'{"progress": "caf\xe9"}\r\n--b--\r\n'
    )

    answer = api.post(
        f"/cases/{ref}/checkpoints/Q1/submit",
        who="cllr",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )

    assert answer.status_code == 400
    assert "not UTF-8" in answer.json()["detail"]


def test_api_answers_are_never_cached(api):
    answers = [api.get("/cases"), api.get("/cases/TCA-2013-0099"), api.get("/cases", who=None)]

    assert [a.headers["cache-control"] for a in answers] == ["no-store"] * 3


def test_a_file_name_with_a_bidirectional_override_is_refused():
    found = attachments.problems("evidence\u202efdp.exe", b"%PDF-1.4 hello")

    assert any("file name: contains a bidirectional control character (U+202E)" in p for p in found)


def test_a_json_body_nested_100000_deep_is_a_400_problem_not_a_500(api):
    ref = api.world.bid()
    before = api.world.snapshot()
    body = '{"trigger": ' + "[" * 100_000 + "]" * 100_000 + "}"

    answer = api.post(
        f"/cases/{ref}/advance", content=body, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert api.world.snapshot() == before
    assert "nested more than 32 deep" in answer.json()["detail"]
