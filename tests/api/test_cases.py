"""Cases over HTTP: pages, filters, the version as ETag, If-Match, and refusals with their facts."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from tests.workflow.awarding import load_programme, offer, recommended, small_programme


# --- reading ------------------------------------------------------------------------------
def test_a_case_is_shown_as_case_show_json_with_its_version_as_etag(api):
    ref = api.world.bid()

    answer = api.get(f"/cases/{ref}", who="cllr")

    assert answer.headers["etag"] == '"1"'
    case = answer.json()
    assert {k: case[k] for k in ("ref", "kind", "programme", "state", "version", "amount")} == {
        "ref": ref,
        "kind": "bid",
        "programme": "tca-2013",
        "state": "draft",
        "version": 1,
        "amount": "250000.00",
    }
    assert case["application"]["arrangement"] == "joint_procurement"


def test_a_list_is_paged_by_cursor_in_a_stable_order_with_nothing_repeated_or_lost(api):
    refs = [api.world.bid() for _ in range(5)]

    first = api.get("/cases", params={"limit": 2}).json()
    second = api.get("/cases", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    late = api.world.bid()  # opened while the pages are being read
    third = api.get("/cases", params={"limit": 2, "cursor": second["next_cursor"]}).json()

    pages = [first, second, third]
    assert [[c["ref"] for c in p["items"]] for p in pages] == [
        refs[0:2],
        refs[2:4],
        [refs[4], late],
    ]
    assert third["next_cursor"] is None
    assert "application" not in first["items"][0]


def test_the_last_page_has_no_cursor(api):
    refs = [api.world.bid() for _ in range(2)]

    page = api.get("/cases", params={"limit": 2}).json()

    assert [c["ref"] for c in page["items"]] == refs and page["next_cursor"] is None


def test_lists_are_filtered_by_state_kind_and_programme(api):
    draft, submitted = api.world.bid(), api.world.bid()
    api.world.advance(submitted, "submit")

    def refs(**params):
        return [c["ref"] for c in api.get("/cases", params=params).json()["items"]]

    assert refs(state="submitted") == [submitted]
    assert refs(state="draft", kind="bid", programme="tca-2013") == [draft]
    assert refs(kind="area") == [] and refs(programme="pstn-2013") == []
    # Every state the document lists goes with either kind: one the kind lacks matches nothing.
    assert refs(kind="area", state="closed") == [] and refs(kind="bid", state="active") == []


@pytest.mark.parametrize("who", ["carol", "cllr"])
def test_a_programme_that_does_not_exist_is_404_naming_it_not_an_empty_list(api, who):
    """As `case list --programme` refuses it: a mistyped code must not look like a programme
    with no cases, for staff and a council alike."""
    api.world.bid()

    answer = api.get("/cases", who=who, params={"programme": "tca-2031"})

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "type": "urn:casework:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "There is no programme 'tca-2031'.",
        "programme": "tca-2031",
    }


def test_a_programme_with_no_cases_of_the_filter_is_an_empty_list(api):
    api.world.bid()

    answer = api.get("/cases", params={"programme": "PSTN-2013"})

    assert answer.status_code == 200 and answer.json()["items"] == []


@pytest.mark.parametrize(
    "params, problem",
    [
        ({"limit": 0}, "query parameter limit: input should be greater than or equal to 1"),
        ({"limit": 501}, "query parameter limit: input should be less than or equal to 500"),
        ({"kind": "bids"}, "query parameter kind: input should be 'bid' or 'area'"),
        (
            {"stat": "submitted"},
            "query parameter stat: is not one this takes (it takes cursor, "
            "kind, limit, programme, state)",
        ),
        ({"cursor": "not-a-cursor"}, "The cursor was refused: is not one this API gave out"),
        # a cursor of another list (a case's history)
        ({"cursor": "WyJzZXEiLDFd"}, "The cursor was refused: is not one this API gave out"),
    ],
)
def test_a_bad_query_is_refused_with_400_naming_it(api, params, problem):
    answer = api.get("/cases", params=params)

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem in answer.json()["detail"]


def test_an_unknown_case_is_404_as_a_problem(api):
    answer = api.get("/cases/TCA-2013-9999")

    assert answer.status_code == 404
    assert answer.json() == {
        "type": "urn:casework:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "There is no case TCA-2013-9999.",
        "ref": "TCA-2013-9999",
    }


# --- If-Match -------------------------------------------------------------------------------
def test_two_clients_with_the_same_version_one_wins_and_the_other_gets_412(any_api):
    api = any_api
    ref = api.world.bid()
    etag = api.get(f"/cases/{ref}").headers["etag"]

    first = api.advance(ref, "submit", who="carol", headers={"If-Match": etag})
    after_first = api.world.snapshot()
    second = api.advance(
        ref,
        "withdraw",
        who="cllr",
        reason="Council asked to withdraw: partnership dissolved",
        headers={"If-Match": etag},
    )

    assert (first.status_code, first.headers["etag"]) == (200, '"2"')
    assert second.status_code == 412
    assert second.json()["current_version"] == 2
    assert "has changed since version 1 (it is at version 2 now)" in second.json()["detail"]
    assert api.world.snapshot() == after_first
    assert api.world.state(ref) == "submitted"


def test_two_clients_firing_at_the_same_instant_with_one_version_one_wins(any_api):
    api = any_api
    ref = api.world.bid()
    start = threading.Barrier(2)
    app = api.client.app

    def fire(who_trigger):
        who, trigger, reason = who_trigger
        with TestClient(app) as client:
            start.wait()
            return client.post(
                f"/api/v1/cases/{ref}/advance",
                json={"trigger": trigger, "reason": reason},
                headers={**api.headers(who), "If-Match": '"1"'},
            ).status_code

    api.token("carol"), api.token("cllr")
    with ThreadPoolExecutor(max_workers=2) as pool:
        statuses = sorted(
            pool.map(
                fire,
                [
                    ("carol", "submit", None),
                    ("cllr", "withdraw", "Council asked to withdraw: partnership dissolved"),
                ],
            )
        )

    assert statuses == [200, 412]
    history = api.get(f"/cases/{ref}/history", who="audrey").json()["items"]
    triggers = [h["trigger"] for h in history]
    assert triggers[0] == "create" and ("submit" in triggers) != ("withdraw" in triggers)


@pytest.mark.parametrize("value", ['"1"', "1", "*"])
def test_if_match_takes_the_etag_as_given_or_any_version(api, value):
    ref = api.world.bid()

    assert api.advance(ref, "submit", headers={"If-Match": value}).status_code == 200


@pytest.mark.parametrize(
    "value, problem",
    [
        ('W/"1"', "a weak ETag (W/...) cannot be matched"),
        ('"one"', "is not a version ETag"),
    ],
)
def test_an_if_match_that_is_not_a_version_is_refused(api, value, problem):
    ref = api.world.bid()
    before = api.world.snapshot()

    answer = api.advance(ref, "submit", headers={"If-Match": value})

    assert answer.status_code == 400 and problem in answer.json()["detail"]
    assert api.world.snapshot() == before


# --- refusals carry the service's words and its facts ---------------------------------------
def test_a_trigger_not_allowed_now_is_409_with_what_is_allowed(api):
    ref = api.world.bid()
    before = api.world.snapshot()

    answer = api.advance(ref, "offer", who="cllr")

    assert answer.status_code == 409
    problem = answer.json()
    assert problem["detail"] == (
        f"{ref} is Draft, so it cannot be 'Offer the award'. Allowed now: Submit the bid, Withdraw."
    )
    assert (problem["allowed"], problem["state"], problem["trigger"]) == (
        ["submit", "withdraw"],
        "draft",
        "offer",
    )
    assert api.world.snapshot() == before


def test_a_bid_breaking_its_category_rules_is_422_with_every_violation(api):
    ref = api.world.bid(arrangement=None, amount="20000")
    before = api.world.snapshot()

    answer = api.advance(ref, "submit", who="cllr")

    assert answer.status_code == 422
    problem = answer.json()
    assert problem["type"] == "urn:casework:problem:rule-refused"
    assert len(problem["violations"]) == 2
    assert all(v in problem["detail"] for v in problem["violations"])
    assert api.world.snapshot() == before


def test_a_refused_offer_says_what_remains_of_the_fund(api):
    code = load_programme(api.world, small_programme("api-1", fund="400000"))
    offer(api.world, recommended(api.world, amount="300000", programme=code))
    ref = recommended(api.world, amount="250000", programme=code)
    before = api.world.snapshot()

    answer = api.advance(ref, "offer", who="april")

    assert answer.status_code == 422
    problem = answer.json()
    assert "past the fund's £400,000" in problem["detail"]
    assert (
        problem["fund"]["fund"],
        problem["fund"]["committed"],
        problem["fund"]["remaining"],
    ) == ("400000.00", "300000.00", "100000.00")
    assert api.world.snapshot() == before


def test_a_trigger_that_needs_a_reason_is_refused_without_one(api):
    ref = api.world.bid()
    api.world.advance(ref, "submit")
    before = api.world.snapshot()

    refused = api.advance(ref, "declare_ineligible")
    done = api.advance(ref, "declare_ineligible", reason="Lead council is in Wales")

    assert refused.status_code == 422
    assert refused.json()["type"] == "urn:casework:problem:reason-required"
    assert done.status_code == 200 and done.json()["state"] == "ineligible"
    # the move's row, then the automatic checks run again (three for a shared arrangement)
    assert api.world.snapshot()["history"] == before["history"] + 1 + 3


@pytest.mark.parametrize(
    "body, problem",
    [
        ({}, "trigger: is required"),
        ({"trigger": ""}, "trigger: string should have at least 1 character"),
        ({"trigger": "submit", "as": "carol"}, "as: is not a field of this request"),
        ({"trigger": 7}, "trigger: input should be a valid string"),
        ([], "the JSON body: must be a JSON object"),
    ],
)
def test_a_malformed_body_is_400_naming_the_field_and_changes_nothing(api, body, problem):
    ref = api.world.bid()
    before = api.world.snapshot()

    answer = api.post(f"/cases/{ref}/advance", json=body)

    assert answer.status_code == 400
    assert problem in answer.json()["problems"]
    assert api.world.snapshot() == before


def test_a_body_that_is_not_json_is_400(api):
    ref = api.world.bid()

    answer = api.post(
        f"/cases/{ref}/advance",
        content=b"{trigger: submit",
        headers={"Content-Type": "application/json"},
    )

    assert answer.status_code == 400
    # Where it goes wrong, in words (it said "1: is not valid JSON": a bare position).
    assert answer.json()["problems"] == ["the JSON body is not valid JSON (at character 1)"]


# --- handing a case over -------------------------------------------------------------------
def test_a_caseworker_hands_a_case_over_with_if_match_and_others_are_refused(any_api):
    api = any_api
    api.world.person("cath", "caseworker")
    ref = api.world.bid()
    version = api.get(f"/cases/{ref}").headers["ETag"]
    before = api.world.snapshot()

    council = api.post(f"/cases/{ref}/assign", "cllr", json={"caseworker": "cath"})
    not_one = api.post(f"/cases/{ref}/assign", json={"caseworker": "ash"})
    malformed = api.post(f"/cases/{ref}/assign", json={"to": "cath"})
    assert (council.status_code, not_one.status_code, malformed.status_code) == (403, 422, 400)
    assert "ash is not a caseworker" in not_one.json()["detail"]
    assert api.world.snapshot() == before

    done = api.post(
        f"/cases/{ref}/assign",
        headers={"If-Match": version},
        json={"caseworker": "cath", "reason": "Carol is on leave in May."},
    )
    stale = api.post(
        f"/cases/{ref}/assign", headers={"If-Match": version}, json={"caseworker": "carol"}
    )

    assert done.status_code == 200 and done.json()["caseworker"] == "cath"
    assert done.headers["ETag"] == '"2"'
    assert stale.status_code == 412
    history = api.get(f"/cases/{ref}/history").json()["items"]
    assert (history[-1]["trigger"], history[-1]["payload"]) == (
        "assign",
        {"caseworker": "cath", "previous": "carol"},
    )
