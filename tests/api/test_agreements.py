"""The grant agreement and variations over HTTP (issue 19)."""

from __future__ import annotations

import hashlib

import pytest

from tests.api.scene import AFTER_OPENING, monitored_bids
from tests.workflow.test_variations import rows
from workflow import clock


@pytest.fixture
def awarded(any_api):
    (ref,) = monitored_bids(any_api)
    with clock.simulate(AFTER_OPENING):
        yield any_api, ref


def test_the_agreement_is_listed_as_json_and_served_as_pdf(awarded):
    api, ref = awarded

    listed = api.get(f"/cases/{ref}/agreement", who="cllr")
    pdf = api.get(
        f"/cases/{ref}/agreement",
        who="cllr",
        params={"version": 1},
        headers={"Accept": "application/pdf"},
    )

    assert listed.status_code == 200
    body = listed.json()
    assert body["accepted_version"]["version"] == 1
    assert pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == body["versions"][0]["sha256"]
    assert api.get(f"/cases/{ref}/agreement", who="olly").status_code == 404
    assert api.get(f"/cases/{ref}/agreement", who="cllr", params={"version": 5}).status_code == 404


def test_a_variation_is_proposed_and_approved_once_per_key(awarded):
    api, ref = awarded
    key = {"Idempotency-Key": "vary-once"}

    proposed = api.post(
        f"/cases/{ref}/variations",
        who="cllr",
        json={"amount": "300000", "reason": "Two more districts."},
        headers=key,
    )
    again = api.post(
        f"/cases/{ref}/variations",
        who="cllr",
        json={"amount": "300000", "reason": "Two more districts."},
        headers=key,
    )
    from workflow.services import variations

    variations.countersign(api.world.engine, f"{ref}/V1", "april")  # above £100,000
    approved = api.post(
        f"/cases/{ref}/variations/v1/approve", who="aaron", json={}, headers={"If-Match": '"2"'}
    )

    assert proposed.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert proposed.json()["ref"] == f"{ref}/V1"
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.headers["etag"] == '"3"'  # proposed 1, countersigned 2, approved 3
    versions = api.get(f"/cases/{ref}/agreement", who="cllr").json()["versions"]
    assert [v["amount"] for v in versions] == ["250000.00", "300000.00"]
    # A list, as every list of the API, is a page: {"items": [...], "next_cursor": ...}.
    page = api.get(f"/cases/{ref}/variations", who="cllr").json()
    assert [v["ref"] for v in page["items"]] == [f"{ref}/V1"] and page["next_cursor"] is None


def test_a_rise_above_the_threshold_is_countersigned_over_the_api_then_approved_by_another(
    awarded,
):
    api, ref = awarded
    api.post(f"/cases/{ref}/variations", who="cllr", json={"amount": "300000", "reason": "x"})
    path = f"/cases/{ref}/variations/V1"
    before = api.world.snapshot()

    unsigned = api.post(f"{path}/approve", who="aaron", json={})
    by_caseworker = api.post(f"{path}/countersign", who="carol", json={})
    assert unsigned.status_code == 422
    assert "it needs a second approver's countersignature" in unsigned.json()["detail"]
    assert by_caseworker.status_code == 403
    assert api.world.snapshot() == before
    listed = api.get(f"/cases/{ref}/variations", who="april").json()["items"][0]
    assert "countersign_variation" in listed["allowed_triggers"]

    signed = api.post(
        f"{path}/countersign",
        who="april",
        json={"reason": "Checked the districts' letters."},
        headers={"If-Match": '"1"', "Idempotency-Key": "sign-v1"},
    )
    replayed = api.post(
        f"{path}/countersign",
        who="april",
        json={"reason": "Checked the districts' letters."},
        headers={"If-Match": '"1"', "Idempotency-Key": "sign-v1"},
    )
    assert signed.status_code == replayed.status_code == 200, signed.text
    assert replayed.headers.get("idempotent-replayed") == "true"
    assert signed.json()["state"] == "awaiting_decision" and signed.headers["etag"] == '"2"'
    after = api.world.snapshot()
    twice = api.post(f"{path}/countersign", who="april", json={})
    own = api.post(f"{path}/approve", who="april", json={})
    assert twice.status_code == own.status_code == 403
    assert "already countersigned" in twice.json()["detail"]
    assert "you countersigned" in own.json()["detail"]
    assert api.world.snapshot() == after

    approved = api.post(f"{path}/approve", who="aaron", json={}, headers={"If-Match": '"2"'})
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    rows = api.get(f"/cases/{ref}/history", who="audrey").json()["items"]
    assert [(r["trigger"], r["actor"]) for r in rows if "variation" in r["trigger"]] == [
        ("propose_variation", "cllr"),
        ("countersign_variation", "april"),
        ("approve_variation", "aaron"),
    ]


@pytest.mark.parametrize(
    "who, path, body, headers, status, kind",
    [
        # Money or a date written wrongly: read, but refused by casework's rules (422).
        ("cllr", "", {"amount": "3,000", "reason": "x"}, {}, 422, "value-refused"),
        ("cllr", "", {"amount": "12.3.4", "reason": "x"}, {}, 422, "value-refused"),
        ("cllr", "", {"end_on": "31/02/2015", "reason": "x"}, {}, 422, "value-refused"),
        ("cllr", "", {"end_on": "2015-02-30", "reason": "x"}, {}, 422, "value-refused"),
        ("cllr", "", {"amount": "300000", "reason": "x\x07"}, {}, 422, "value-refused"),
        # A request the API could not read: the wrong type, a field it does not take (400).
        ("cllr", "", {"amount": 300000, "reason": "x"}, {}, 400, "malformed"),
        ("cllr", "", {"amount": "300000", "reason": "x", "as": "cllr"}, {}, 400, "malformed"),
        ("cllr", "", {"end_on": "2013-01-01", "reason": "x"}, {}, 422, "rule-refused"),
        ("ash", "", {"amount": "300000", "reason": "x"}, {}, 403, "permission-denied"),
        (
            "cllr",
            "",
            {"amount": "300000", "reason": "x"},
            {"If-Match": '"99"'},
            412,
            "precondition-failed",
        ),
        # past the category's band (£500,000), which no approval could pass
        ("cllr", "", {"amount": "900000", "reason": "x"}, {}, 422, "rule-refused"),
        ("cllr", "", {"amount": "0", "reason": "x"}, {}, 422, "rule-refused"),
        ("cllr", "", {"amount": "250000", "reason": "x"}, {}, 422, "rule-refused"),  # as it is
        ("cllr", "", {"amount": "300000", "reason": " "}, {}, 422, "rule-refused"),
    ],
)
def test_a_refused_proposal_writes_nothing(awarded, who, path, body, headers, status, kind):
    api, ref = awarded
    before = rows(api.world)

    answer = api.post(f"/cases/{ref}/variations{path}", who=who, json=body, headers=headers)

    assert answer.status_code == status, answer.text
    if status != 201:
        assert rows(api.world) == before
    if kind:
        assert answer.json()["type"].endswith(kind)
    assert "(--" not in answer.json()["detail"]  # no command-line option named over HTTP


def test_approving_by_a_non_approver_or_past_the_fund_is_refused_and_writes_nothing(awarded):
    from tests.workflow.awarding import load_programme, small_programme

    api, ref = awarded
    load_programme(api.world, small_programme("tca-2013", fund="260000"))
    api.post(f"/cases/{ref}/variations", who="cllr", json={"amount": "300000", "reason": "x"})
    before = rows(api.world)

    by_caseworker = api.post(f"/cases/{ref}/variations/V1/approve", who="carol", json={})
    past_fund = api.post(f"/cases/{ref}/variations/V1/approve", who="aaron", json={})

    assert by_caseworker.status_code == 403
    assert past_fund.status_code == 422 and "past the fund" in past_fund.json()["detail"]
    assert rows(api.world) == before


def test_a_proposal_that_varies_nothing_is_a_problem_naming_what_and_why(awarded):
    api, ref = awarded
    before = rows(api.world)

    refused = api.post(
        f"/cases/{ref}/variations", who="cllr", json={"amount": "250000.00", "reason": "Same."}
    )

    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"] == (
        f"The variation of {ref} was refused: the award is already £250,000: give the new total."
    )
    assert rows(api.world) == before


def test_an_offer_over_the_api_draws_its_pdf_before_taking_the_write_lock(api, monkeypatch):
    from tests.workflow.awarding import recommended
    from tests.workflow.test_agreements import _drawing_spy, _sqlite_path, _write_without_waiting

    ref = recommended(api.world, amount="250000")
    api.world.countersign(ref, offering="april")
    drawn = _drawing_spy(monkeypatch, lambda n: _write_without_waiting(_sqlite_path(api.engine)))

    answer = api.advance(ref, "offer", who="april")

    assert answer.status_code == 200, answer.text
    assert answer.json()["state"] == "award_offered"
    assert len(drawn) == 1
    listed = api.get(f"/cases/{ref}/agreement", who="cllr").json()
    assert [v["version"] for v in listed["versions"]] == [1]


def test_an_approval_over_the_api_draws_its_pdf_ahead_and_keeps_the_pdf_it_serves(api, monkeypatch):
    from tests.workflow.test_agreements import _drawing_spy, _sqlite_path, _write_without_waiting
    from workflow.services import variations

    (ref,) = monitored_bids(api)
    with clock.simulate(AFTER_OPENING):
        api.post(f"/cases/{ref}/variations", who="cllr", json={"amount": "300000", "reason": "x"})
        variations.countersign(api.engine, f"{ref}/V1", "april")  # above £100,000
        path = _sqlite_path(api.engine)
        drawn = _drawing_spy(monkeypatch, lambda n: _write_without_waiting(path))

        approved = api.post(f"/cases/{ref}/variations/V1/approve", who="aaron", json={})

        assert approved.status_code == 200, approved.text
        assert len(drawn) == 1  # before the write lock: another connection wrote meanwhile
        listed = api.get(f"/cases/{ref}/agreement", who="cllr").json()["versions"]
        pdf = api.get(
            f"/cases/{ref}/agreement",
            who="cllr",
            params={"version": 2},
            headers={"Accept": "application/pdf"},
        )
    assert [v["version"] for v in listed] == [1, 2]
    assert hashlib.sha256(pdf.content).hexdigest() == listed[1]["sha256"]
