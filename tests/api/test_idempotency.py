"""Idempotency-Key: a council system retrying after a timeout gets its work done once.

The same key sent again returns the first answer (status and body) with
`Idempotent-Replayed: true`, and writes nothing more: one move, one history
row, one return.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.scene import AFTER_OPENING, monitored_bids
from workflow import clock
from workflow.api.idempotency import KEEP_FOR, records


def history_rows(api, ref: str) -> list[dict]:
    return api.get(f"/cases/{ref}/history", who="audrey", params={"limit": 500}).json()["items"]


def test_a_trigger_sent_twice_with_one_key_is_done_once(any_api):
    api = any_api
    ref = api.world.bid()
    key = {"Idempotency-Key": "2c1f6a4e-retry-after-timeout"}

    first = api.advance(ref, "submit", who="cllr", headers=key)
    after_first = api.world.snapshot()
    again = api.advance(ref, "submit", who="cllr", headers=key)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["etag"] == first.headers["etag"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert api.world.snapshot() == after_first
    # Submitted once: its row, and the automatic due-diligence checks it ran (three).
    assert [h["trigger"] for h in history_rows(api, ref)] == [
        "create",
        "submit",
        *["diligence"] * 3,
    ]


def test_the_same_return_submitted_twice_with_one_key_is_one_return_and_one_history_row(any_api):
    api = any_api
    (ref,) = monitored_bids(api)
    form = {"figures": json.dumps({"spend_to_date": "12500.50", "progress": "Hub staffed."})}
    files = {"file": ("q1-evidence.csv", b"month,spend\nOctober,12500.50\n", "text/csv")}
    key = {"Idempotency-Key": '"q1-return-E07000026"'}  # a structured-field string

    with clock.simulate(AFTER_OPENING):
        first = api.post(
            f"/cases/{ref}/checkpoints/Q1/submit", who="cllr", headers=key, data=form, files=files
        )
        after_first = api.world.snapshot()
        again = api.post(
            f"/cases/{ref}/checkpoints/Q1/submit", who="cllr", headers=key, data=form, files=files
        )

    assert first.status_code == again.status_code == 200, first.text
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert first.json()["state"] == "submitted"
    assert first.json()["attachment"]["name"] == "q1-evidence.csv"
    assert api.world.snapshot() == after_first
    submits = [
        h for h in history_rows(api, ref) if h["checkpoint"] == "Q1" and h["trigger"] == "submit"
    ]
    assert len(submits) == 1 and submits[0]["payload"]["figures"]["spend_to_date"] == "12500.50"


def test_the_same_key_for_a_different_request_is_refused_and_does_nothing(api):
    ref = api.world.bid()
    key = {"Idempotency-Key": "one-key"}
    api.advance(ref, "submit", who="cllr", headers=key)
    before = api.world.snapshot()

    reused = api.advance(ref, "withdraw", who="cllr", reason="Partnership dissolved", headers=key)

    assert reused.status_code == 422
    assert reused.json()["type"] == "urn:casework:problem:idempotency-key-reused"
    assert api.world.snapshot() == before


def test_keys_belong_to_the_person_who_sent_them(api):
    first, second = api.world.bid(), api.world.bid()
    key = {"Idempotency-Key": "same-words"}

    by_council = api.advance(first, "submit", who="cllr", headers=key)
    by_caseworker = api.advance(second, "submit", who="carol", headers=key)

    assert by_council.status_code == by_caseworker.status_code == 200
    assert "idempotent-replayed" not in by_caseworker.headers
    assert api.world.state(second) == "submitted"


def test_a_refusal_is_replayed_as_it_was_given(api):
    ref = api.world.bid()
    key = {"Idempotency-Key": "offer-too-soon"}

    first = api.advance(ref, "offer", who="april", headers=key)
    api.world.advance(ref, "submit")  # the case moves on meanwhile
    again = api.advance(ref, "offer", who="april", headers=key)

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert again.headers["content-type"] == "application/problem+json"


def test_a_conflict_is_not_kept_so_a_retry_with_the_key_can_run(api):
    ref = api.world.bid()
    key = {"Idempotency-Key": "stale-then-fresh"}
    api.world.advance(ref, "submit")

    stale = api.advance(ref, "check", headers={**key, "If-Match": '"1"'})
    fresh = api.advance(ref, "check", headers={**key, "If-Match": '"1"'})

    assert stale.status_code == fresh.status_code == 412
    assert "idempotent-replayed" not in fresh.headers
    with api.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(records)).scalar() == 0


def test_the_same_key_at_the_same_instant_does_the_work_once(any_api):
    api = any_api
    ref = api.world.bid()
    api.token("cllr")
    start = threading.Barrier(4)

    def send(_):
        with TestClient(api.client.app) as client:
            start.wait()
            answer = client.post(
                f"/api/v1/cases/{ref}/advance",
                json={"trigger": "submit"},
                headers={**api.headers("cllr"), "Idempotency-Key": "burst"},
            )
            return answer.status_code, answer.headers.get("idempotent-replayed")

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(send, range(4)))

    assert all(status in (200, 409) for status, _ in outcomes)  # 409: still running
    assert sum(1 for o in outcomes if o == (200, None)) == 1
    # Submitted once: its row, and the automatic due-diligence checks it ran (three).
    assert [h["trigger"] for h in history_rows(api, ref)] == [
        "create",
        "submit",
        *["diligence"] * 3,
    ]


def test_a_key_is_kept_for_a_day(api):
    first, later = api.world.bid(), api.world.bid()
    key = {"Idempotency-Key": "daily"}
    start = clock.now()

    with clock.simulate(start):
        api.advance(first, "submit", headers=key)
    with clock.simulate(start + KEEP_FOR - timedelta(seconds=1)):
        within = api.advance(first, "submit", headers=key)
    with clock.simulate(start + KEEP_FOR):
        after = api.advance(later, "submit", headers=key)  # a new request, same words

    assert within.headers["idempotent-replayed"] == "true"
    assert after.status_code == 200 and after.json()["ref"] == later


@pytest.mark.parametrize("value", ["", "has space", "x" * 256, "é-accent"])
def test_a_key_that_is_not_visible_ascii_is_refused(api, value):
    ref = api.world.bid()
    before = api.world.snapshot()

    answer = api.client.post(
        f"/api/v1/cases/{ref}/advance",
        json={"trigger": "submit"},
        headers={**api.headers("carol"), "Idempotency-Key": value.encode("utf-8")},
    )

    assert answer.status_code == 400
    assert api.world.snapshot() == before
