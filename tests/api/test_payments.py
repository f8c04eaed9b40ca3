"""Payments over HTTP: a case's payments, approving and paying one (If-Match, Idempotency-Key)."""

from __future__ import annotations

import pytest

from tests.api.scene import AFTER_OPENING, monitored_bids
from tests.workflow.payments_world import snapshot
from workflow import clock


@pytest.fixture
def paying(any_api):
    (ref,) = monitored_bids(any_api)
    any_api.world.person("fiona", "finance")
    with clock.simulate(AFTER_OPENING):
        yield any_api, ref


def test_a_cases_payments_are_listed_with_their_versions(paying):
    api, ref = paying
    page = api.get(f"/cases/{ref}/payments", who="cllr").json()
    assert [
        (p["ref"], p["state"], p["amount"], p["event"], p["reference"]) for p in page["items"]
    ] == [(f"{ref}/P1", "due", "125000.00", "accepted", None)]
    assert page["items"][0]["version"] == 1 and page["next_cursor"] is None
    assert api.get(f"/cases/{ref}/payments", who="april").json()["items"][0][
        "allowed_triggers"
    ] == ["approve"]


def test_an_approver_approves_and_finance_pays_once_per_key(paying):
    api, ref = paying
    approved = api.post(
        f"/cases/{ref}/payments/P1/approve", who="april", json={}, headers={"If-Match": '"1"'}
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    assert approved.headers["etag"] == '"2"'
    key = {"Idempotency-Key": "pay-p1-once"}
    paid = api.post(
        f"/cases/{ref}/payments/p1/pay",
        who="fiona",
        json={"reference": "BACS 2014/0001"},
        headers=key,
    )
    again = api.post(
        f"/cases/{ref}/payments/p1/pay",
        who="fiona",
        json={"reference": "BACS 2014/0001"},
        headers=key,
    )
    assert paid.status_code == again.status_code == 200
    assert again.headers.get("idempotent-replayed") == "true"
    assert paid.json()["reference"] == "BACS 2014/0001"
    assert api.get(f"/cases/{ref}/payments", who="cllr").json()["items"][0]["state"] == "paid"


@pytest.mark.parametrize(
    "who, body, headers, status, kind",
    [
        ("fiona", {}, {}, 403, "permission-denied"),  # finance approving
        ("cllr", {}, {}, 403, "permission-denied"),
        ("april", {}, {"If-Match": '"7"'}, 412, "precondition-failed"),  # a stale page
    ],
)
def test_refused_approvals_write_nothing(paying, who, body, headers, status, kind):
    api, ref = paying
    before = snapshot(api.world)
    answer = api.post(f"/cases/{ref}/payments/P1/approve", who=who, json=body, headers=headers)
    assert (answer.status_code, answer.json()["type"].rsplit(":", 1)[-1]) == (status, kind)
    assert snapshot(api.world) == before


def test_paying_a_due_payment_or_without_a_clean_reference_is_refused(paying):
    api, ref = paying
    before = snapshot(api.world)
    assert (
        api.post(f"/cases/{ref}/payments/P1/pay", who="fiona", json={"reference": "R1"}).status_code
        == 409
    )  # not approved yet
    api.post(f"/cases/{ref}/payments/P1/approve", who="april", json={})
    before = snapshot(api.world)
    # Read, but refused by the rules of a remittance reference (422, naming it); a body the
    # API cannot read (a reference that is not a string, a field it does not take) is 400.
    for body, status, words in (
        ({}, 422, "a remittance reference is needed"),
        ({"reference": "BACS\u001b1"}, 422, "control character (U+001B)"),
        ({"reference": "BACS \u202e1"}, 422, "remittance reference: contains"),
        ({"reference": 42}, 400, "reference: input should be a valid string"),
        ({"reference": "R1", "amount": "12.3.4"}, 400, "amount: is not a field"),
    ):
        answer = api.post(f"/cases/{ref}/payments/P1/pay", who="fiona", json=body)
        kind = "value-refused" if status == 422 else "malformed"
        assert (answer.status_code, answer.json()["type"]) == (
            status,
            f"urn:casework:problem:{kind}",
        )
        assert words in answer.json()["detail"], answer.text
        assert snapshot(api.world) == before


def test_another_councils_case_has_no_payments_to_see(paying):
    api, ref = paying
    api.world.person("pam", "council", org="E06000047")
    assert api.get(f"/cases/{ref}/payments", who="pam").status_code == 404
