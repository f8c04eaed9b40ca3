"""Monitoring returns over HTTP: a case's list, one return, and submitting figures with a file."""

from __future__ import annotations

import json

import pytest

from tests.api.scene import AFTER_OPENING, monitored_bids
from workflow import clock
from workflow.services import monitoring


@pytest.fixture
def monitored(api):
    (ref,) = monitored_bids(api)
    with clock.simulate(AFTER_OPENING):
        yield api, ref


def submit(api, ref, who="cllr", n="Q1", figures=None, file=None, headers=None):
    data = (
        {}
        if figures is None
        else {"figures": figures if isinstance(figures, str) else json.dumps(figures)}
    )
    return api.post(
        f"/cases/{ref}/checkpoints/{n}/submit",
        who=who,
        headers=headers,
        data=data,
        files={"file": file} if file else None,
    )


def test_a_cases_returns_are_listed_by_due_date(monitored):
    api, ref = monitored

    page = api.get(f"/cases/{ref}/checkpoints", who="cllr").json()

    assert [(c["ref"], c["state"], c["due"], c["level"]) for c in page["items"]] == [
        (f"{ref}/Q1", "open", "2014-01-02", 0),
        (f"{ref}/Q2", "scheduled", "2014-04-01", 0),
        (f"{ref}/Q3", "scheduled", "2014-07-01", 0),
        (f"{ref}/Q4", "scheduled", "2014-10-01", 0),
    ]
    assert page["next_cursor"] is None


def test_returns_are_paged_like_every_list(monitored):
    api, ref = monitored

    first = api.get(f"/cases/{ref}/checkpoints", params={"limit": 3}).json()
    rest = api.get(
        f"/cases/{ref}/checkpoints", params={"limit": 3, "cursor": first["next_cursor"]}
    ).json()

    assert [c["ref"][-2:] for c in first["items"] + rest["items"]] == ["Q1", "Q2", "Q3", "Q4"]
    assert rest["next_cursor"] is None


def test_one_return_shows_its_fields_and_its_version_as_etag(monitored):
    api, ref = monitored

    answer = api.get(f"/cases/{ref}/checkpoints/q1", who="cllr")

    assert answer.status_code == 200
    cp = answer.json()
    assert answer.headers["etag"] == f'"{cp["version"]}"'
    assert cp["allowed_triggers"] == ["submit"]
    assert set(cp["fields"]) == {"spend_to_date", "savings_to_date", "progress", "risks"}


def test_a_return_is_submitted_with_its_figures_and_evidence(monitored):
    api, ref = monitored
    pdf = b"%PDF-1.4\n% evidence of spend\n%%EOF\n"

    answer = submit(
        api,
        ref,
        figures={
            "spend_to_date": "41000",
            "savings_to_date": 12000.5,
            "progress": "Shared team in post.",
            "risks": "None.",
        },
        file=("Q1 evidence.pdf", pdf, "application/pdf"),
    )

    assert answer.status_code == 200, answer.text
    cp = answer.json()
    assert cp["state"] == "submitted"
    assert cp["figures"] == {
        "spend_to_date": "41000.00",
        "savings_to_date": "12000.50",
        "progress": "Shared team in post.",
        "risks": "None.",
    }
    assert cp["attachment"]["name"] == "Q1 evidence.pdf"
    assert answer.headers["etag"] == f'"{cp["version"]}"'
    last = api.get(f"/cases/{ref}/history", who="carol").json()["items"][-1]
    assert (last["checkpoint"], last["trigger"], last["actor"]) == ("Q1", "submit", "cllr")


@pytest.mark.parametrize(
    "figures, status, problem",
    [
        # Figures the API read, refused by the return's rules: 422, naming the field.
        ('{"spend_to_date": "41,000"}', 422, "spend_to_date: '41,000' is not an amount in pounds"),
        ('{"spend_to_date": 1e5}', 422, "spend_to_date: '1e5' is not an amount in pounds"),
        ('{"spend_to_date": "12.3.4"}', 422, "spend_to_date: '12.3.4' is not an amount in pounds"),
        ('{"progress": "ok\\u0007"}', 422, "progress: contains"),
        ('{"spend_on_cake": "1"}', 422, "spend_on_cake: not a field of a"),
        # Figures it could not read at all: 400.
        ("{spend_to_date: 1}", 400, "figures: not valid JSON"),
        ("[1, 2]", 400, "figures: the top level is"),
    ],
)
def test_malformed_figures_are_refused_naming_the_field_and_change_nothing(
    monitored, figures, status, problem
):
    api, ref = monitored
    before = api.world.snapshot()

    answer = submit(api, ref, figures=figures)

    assert answer.status_code == status, answer.text
    kind = "value-refused" if status == 422 else "malformed"
    assert answer.json()["type"] == f"urn:casework:problem:{kind}"
    assert problem in answer.json()["detail"]
    assert api.world.snapshot() == before


def test_a_file_that_is_not_what_it_says_is_refused_and_changes_nothing(monitored):
    api, ref = monitored
    before = api.world.snapshot()

    answer = submit(
        api,
        ref,
        figures={"progress": "ok", "spend_to_date": "0"},
        file=("evidence.pdf", b"MZ\x90\x00 not a pdf", "application/pdf"),
    )

    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("The attachment was refused")
    assert api.world.snapshot() == before


def test_a_return_not_open_yet_is_refused_with_what_is_allowed(monitored):
    api, ref = monitored
    before = api.world.snapshot()

    answer = submit(api, ref, n="Q2", figures={"progress": "early", "spend_to_date": "0"})

    assert answer.status_code == 409
    assert answer.json()["state"] == "scheduled" and answer.json()["allowed"] == []
    assert api.world.snapshot() == before


def test_a_return_submitted_with_a_stale_if_match_gets_412(monitored):
    api, ref = monitored
    etag = api.get(f"/cases/{ref}/checkpoints/Q1").headers["etag"]
    assert (
        submit(
            api,
            ref,
            figures={"progress": "first", "spend_to_date": "0"},
            headers={"If-Match": etag},
        ).status_code
        == 200
    )
    # The caseworker queries it; the council's system answers with the ETag it had.
    monitoring.decide_return(api.engine, f"{ref}/Q1", "query", "carol", reason="Spend missing")
    before = api.world.snapshot()

    answer = submit(
        api, ref, figures={"progress": "second", "spend_to_date": "0"}, headers={"If-Match": etag}
    )

    assert answer.status_code == 412
    assert answer.json()["current_version"] > int(etag.strip('"'))
    assert api.world.snapshot() == before


def test_a_body_past_the_limit_is_refused_with_413_while_it_is_read(monitored):
    api, ref = monitored
    before = api.world.snapshot()
    big = b"month,spend\n" + b"October,1\n" * (1_200_000)  # about 12 MB

    answer = submit(
        api,
        ref,
        figures={"progress": "ok", "spend_to_date": "0"},
        file=("spend.csv", big, "text/csv"),
    )

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert "an evidence file may be at most 10 MB" in answer.json()["detail"]
    assert api.world.snapshot() == before


def test_a_streamed_body_is_stopped_when_it_grows_past_the_limit(monitored):
    api, ref = monitored
    before = api.world.snapshot()
    chunks = (b"x" * 1024 * 1024 for _ in range(12))  # no Content-Length: chunked

    answer = api.post(
        f"/cases/{ref}/advance", content=chunks, headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 413
    assert answer.json()["type"] == "urn:casework:problem:too-large"
    assert api.world.snapshot() == before


def test_an_unknown_return_is_404(monitored):
    api, ref = monitored

    assert api.get(f"/cases/{ref}/checkpoints/Q9").status_code == 404
    assert api.get(f"/cases/{ref}/checkpoints/X1").status_code == 400


def test_an_empty_return_is_refused_and_changes_nothing(monitored):
    api, ref = monitored
    before = api.world.snapshot()

    answer = submit(api, ref, figures={})

    assert answer.status_code == 422
    assert "the return is empty" in answer.json()["detail"]
    assert api.world.snapshot() == before
