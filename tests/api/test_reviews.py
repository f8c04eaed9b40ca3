"""`POST /api/v1/cases/{ref}/reviews`: a caseworker records the annual review that is due."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from workflow.runtime.sweep import sweep

from tests.workflow.monitoring_world import bid_in_monitoring

ACCEPTED = datetime(2013, 10, 1, 10, tzinfo=timezone.utc)
DUE = datetime(2014, 10, 1, 9, tzinfo=timezone.utc)
BODY = {"decision": "stop", "reason": "No progress in a year."}


@pytest.fixture
def award(api):
    return bid_in_monitoring(api.world, ACCEPTED)


def test_a_review_not_yet_due_is_refused_and_writes_nothing(api, award):
    before = api.world.snapshot()

    answer = api.post(f"/cases/{award}/reviews", json=BODY)

    assert answer.status_code == 422
    assert "annual review is not due yet: R1 falls due on 1 October 2014" in answer.json()["detail"]
    assert api.world.snapshot() == before


@pytest.mark.parametrize(
    "who, status", [("april", 403), ("ash", 403), ("audrey", 403), ("cllr", 403)]
)
def test_only_a_caseworker_records_a_review(api, award, who, status):
    sweep(api.world.engine, now=DUE)
    before = api.world.snapshot()

    answer = api.post(f"/cases/{award}/reviews", who=who, json=BODY)

    assert answer.status_code == status
    assert api.world.snapshot() == before


def test_bad_bodies_are_refused(api, award):
    sweep(api.world.engine, now=DUE)
    before = api.world.snapshot()

    for body, status in (
        ({"decision": "pause", "reason": "x"}, 400),  # not one the schema lists
        ({"decision": "stop"}, 400),
        ({"decision": "stop", "reason": "bell\x07"}, 422),  # read, refused by states.text
        ({"decision": "amend", "reason": "more", "amount": "12.3.4"}, 422),  # money written wrongly
        ({**BODY, "extra": 1}, 400),
    ):
        answer = api.post(f"/cases/{award}/reviews", json=body)
        assert answer.status_code == status, (body, answer.text)
        kind = "value-refused" if status == 422 else "malformed"
        assert answer.json()["type"] == f"urn:casework:problem:{kind}", answer.text
    assert api.world.snapshot() == before


def test_stop_is_recorded_once_per_key_and_suspends_the_case(api, award):
    sweep(api.world.engine, now=DUE)
    key = {"Idempotency-Key": "review-r1"}

    first = api.post(f"/cases/{award}/reviews", json=BODY, headers=key)
    again = api.post(f"/cases/{award}/reviews", json=BODY, headers=key)

    assert first.status_code == again.status_code == 201
    shown = first.json()
    assert (shown["ref"], shown["status"], shown["decision"], shown["case_state"]) == (
        f"{award}/R1",
        "recorded",
        "stop",
        "suspended",
    )
    assert first.headers["ETag"] == f'"{shown["case_version"]}"'
    assert again.json() == shown
    history = api.get(f"/cases/{award}/history", who="audrey").json()["items"]
    assert [r["trigger"] for r in history].count("review") == 1


def test_amend_with_a_new_amount_while_a_variation_waits_is_refused_not_dropped(api, award):
    from freezegun import freeze_time

    from workflow.services import variations

    with freeze_time(datetime(2014, 1, 15, 11, tzinfo=timezone.utc)):
        variations.propose(api.world.engine, award, reason="Scope widened.", actor="cllr")
    sweep(api.world.engine, now=DUE)
    before = api.world.snapshot()

    answer = api.post(
        f"/cases/{award}/reviews",
        json={"decision": "amend", "reason": "Costs fell.", "end": "2016-03-31"},
    )

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"].startswith(
        f"{award}/V1 is still waiting for a decision, so the new end date cannot be proposed"
    )
    assert api.world.snapshot() == before


def test_the_reviews_are_listed_with_the_decisions_the_caller_may_record_now(api, award):
    from freezegun import freeze_time

    from workflow.services import monitoring

    with freeze_time(ACCEPTED):  # the returns waived, so no ladder suspends the award
        for cp in monitoring.list_checkpoints(api.world.engine, case=award):
            monitoring.decide_return(
                api.world.engine, cp["ref"], "waive", "carol", reason="Not needed."
            )

    def listed(who="carol"):
        answer = api.get(f"/cases/{award}/reviews", who=who)
        assert answer.status_code == 200, answer.text
        assert answer.json()["next_cursor"] is None
        return [
            (r["review"], r["status"], r["decision"], r["allowed_decisions"])
            for r in answer.json()["items"]
        ]

    assert listed() == [("R1", "not_due", None, [])]
    sweep(api.world.engine, now=DUE)
    assert listed() == [
        ("R1", "due", None, ["continue", "amend", "stop"]),
        ("R2", "not_due", None, []),
    ]
    assert (
        listed("april")
        == listed("audrey")
        == [  # not caseworkers: nothing to record
            ("R1", "due", None, []),
            ("R2", "not_due", None, []),
        ]
    )
    refused = api.get(f"/cases/{award}/reviews", who="cllr")  # the council: staff only
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        f"cllr may not read {award}'s annual reviews: only staff may."
    )

    api.post(f"/cases/{award}/reviews", json={"decision": "continue", "reason": "On track."})
    assert listed()[0] == ("R1", "recorded", "continue", [])
    first = api.get(f"/cases/{award}/reviews", params={"limit": 1}).json()
    rest = api.get(f"/cases/{award}/reviews", params={"cursor": first["next_cursor"]}).json()
    assert [r["review"] for r in first["items"] + rest["items"]] == ["R1", "R2"]
