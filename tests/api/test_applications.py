"""The API opens, amends and reads applications (DESIGN section 10): 201 with Location and
ETag, Idempotency-Key replays, If-Match required and 412 when stale, every version readable,
refusals that write nothing, and a council that never sees another council's draft."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.workflow.test_amend import _snapshot
from workflow.api import MOUNT
from workflow.services.chain import verify
from workflow.storage.tables import application_versions


@pytest.fixture
def api(any_api):
    any_api.world.org("E07000030", name="Eden District Council")
    any_api.world.person("nell", "council", org="E07000030")
    return any_api


def put(api, ref, document, who="cllr", headers=None):
    return api.client.put(
        f"{MOUNT}/cases/{ref}/application", json=document, headers=api.headers(who, headers)
    )


def test_the_api_creates_amends_and_submits_a_bid_with_replays_and_a_stale_if_match(api):
    w = api.world
    doc = w.bid_document()
    key = {"Idempotency-Key": "open-hub-bid-1"}
    made = api.post("/cases", "cllr", headers=key, json=doc)
    assert made.status_code == 201, made.text
    ref = made.json()["ref"]
    assert made.headers["location"] == f"/api/v1/cases/{ref}"
    assert made.headers["etag"] == '"1"' and made.json()["state"] == "draft"
    once = w.snapshot()
    again = api.post("/cases", "cllr", headers=key, json=doc)
    assert again.status_code == 201 and again.json() == made.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == made.headers["location"]
    assert w.snapshot() == once  # one case, not two

    amended = put(
        api,
        ref,
        {**doc, "amount": 240000.5},
        headers={"If-Match": made.headers["etag"], "Idempotency-Key": "amend-1"},
    )
    assert amended.status_code == 200, amended.text
    assert amended.json()["application_version"] == 2 and amended.json()["changed"] == ["amount"]
    assert amended.json()["amount"] == "240000.50" and amended.headers["etag"] == '"2"'
    replay = put(
        api,
        ref,
        {**doc, "amount": 240000.5},
        headers={"If-Match": made.headers["etag"], "Idempotency-Key": "amend-1"},
    )
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"

    before = _snapshot(w)
    stale = put(api, ref, {**doc, "amount": "230000"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == "application/problem+json"
    assert "nothing of yours was written" in stale.json()["detail"]
    missing = put(api, ref, {**doc, "amount": "230000"})
    # RFC 6585: the change must be conditional; the problem says what to send and where from.
    assert missing.status_code == 428, missing.text
    assert missing.headers["content-type"] == "application/problem+json"
    said = missing.json()
    assert said["type"].endswith("precondition-required") and said["status"] == 428
    assert "If-Match" in said["detail"] and f"GET /cases/{ref}" in said["detail"]
    assert _snapshot(w) == before

    first = api.get(f"/cases/{ref}/application", "cllr", params={"version": 1})
    assert first.status_code == 200 and first.json()["document"]["amount"] == "250000.00"
    assert first.headers["etag"] == '"2"' and first.json()["latest"] == 2
    now = api.get(f"/cases/{ref}/application", "cllr").json()
    assert (now["version"], now["changed"], now["document"]["amount"]) == (
        2,
        ["amount"],
        "240000.50",
    )
    submitted = api.advance(ref, "submit", "cllr", headers={"If-Match": '"2"'})
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"
    history = api.get(f"/cases/{ref}/history", "audrey").json()["items"]
    # (due diligence's own rows follow a submission)
    assert [h["trigger"] for h in history][:3] == ["create", "amend", "submit"]
    assert history[1]["payload"]["document_sha256"] == now["sha256"]
    with w.engine.connect() as conn:
        assert verify(conn).ok


def test_refusals_give_the_reason_and_write_nothing(api):
    w = api.world
    ref = api.post("/cases", "cllr", json=w.bid_document()).json()["ref"]
    before = _snapshot(w)
    other = put(api, ref, w.bid_document(amount="1000"), who="nell", headers={"If-Match": '"1"'})
    assert other.status_code == 404
    bad = put(
        api, ref, w.bid_document(amount="£1,000", lead="E99999999"), headers={"If-Match": '"1"'}
    )
    assert bad.status_code == 422 and bad.json()["type"].endswith("document-refused")
    assert any(p.startswith("amount:") for p in bad.json()["problems"])
    assert any(p.startswith("lead:") for p in bad.json()["problems"])
    not_json = api.client.put(
        f"{MOUNT}/cases/{ref}/application",
        content=b"{amount: 1",
        headers=api.headers("cllr", {"If-Match": '"1"', "Content-Type": "application/json"}),
    )
    assert not_json.status_code == 400
    for_another = api.post("/cases", "nell", json=w.bid_document())
    assert (
        for_another.status_code == 403
        and "not a person of E07000026" in for_another.json()["detail"]
    )
    unknown = api.post("/cases", "cllr", json=w.bid_document(programme="nope-2013"))
    assert unknown.status_code == 422 and "programme" in unknown.json()["detail"]
    assert _snapshot(w) == before
    api.advance(ref, "submit", "cllr")
    before = _snapshot(w)
    late = put(api, ref, w.bid_document(amount="1000"), headers={"If-Match": '"2"'})
    assert late.status_code == 422 and "cannot be amended" in late.json()["detail"]
    assert _snapshot(w) == before


def test_a_council_never_sees_another_councils_draft(api):
    w = api.world
    ref = api.post("/cases", "cllr", json=w.bid_document()).json()["ref"]
    for path in (
        f"/cases/{ref}",
        f"/cases/{ref}/application",
        f"/cases/{ref}/application?version=1",
    ):
        assert api.get(path, "nell").status_code == 404, path
    assert ref not in [c["ref"] for c in api.get("/cases", "nell").json()["items"]]
    assert ref in [c["ref"] for c in api.get("/cases", "cllr").json()["items"]]


def test_an_area_is_opened_from_its_expression_of_interest(api):
    w = api.world
    w.org("E08000003", name="Manchester City Council")
    w.person("mo", "council", org="E08000003")
    eoi = {
        "programme": "pstn-2013",
        "title": "Greater Manchester",
        "lead": "E08000003",
        "service_areas": ["troubled families"],
        "how_to_succeed": "Together.",
        "partners": [{"name": "GMP", "evidence": "A letter."}],
        "contribution": 50000,
    }
    made = api.post("/cases", "mo", json=eoi)
    assert made.status_code == 201, made.text
    assert made.json()["kind"] == "area" and made.json()["ref"].startswith("PSTN-2013-")


def test_evidence_is_attached_as_an_amendment(api, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEWORK_FILES", str(tmp_path / "files"))
    w = api.world
    ref = api.post("/cases", "cllr", json=w.bid_document()).json()["ref"]
    files = {"file": ("costs.csv", b"item,cost\nhub,120000\n", "text/csv")}
    done = api.post(
        f"/cases/{ref}/application/evidence", "cllr", files=files, headers={"If-Match": '"1"'}
    )
    assert done.status_code == 200, done.text
    assert done.json()["changed"] == ["evidence"]
    [kept] = done.json()["application"]["evidence"]
    assert (kept["name"], kept["size"]) == ("costs.csv", 21)
    before = _snapshot(w)
    exe = api.post(
        f"/cases/{ref}/application/evidence",
        "cllr",
        files={"file": ("costs.pdf", b"MZ\x90\x00", "application/pdf")},
    )
    assert exe.status_code == 400 and "not one" in exe.json()["detail"]
    assert _snapshot(w) == before
    # From a stale page too, the file is refused for what it is (RFC 9110 judges If-Match
    # after the request's own checks), not answered 412: a fresh version would not help.
    stale = api.post(
        f"/cases/{ref}/application/evidence",
        "cllr",
        files={"file": ("costs.exe", b"MZ\x90\x00", "application/octet-stream")},
        headers={"If-Match": '"1"'},
    )
    assert stale.status_code == 400 and "costs.exe" in stale.json()["detail"], stale.text
    assert _snapshot(w) == before
    with w.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(application_versions)).scalar() == 2
    assert (
        json.loads(
            json.dumps(api.get(f"/cases/{ref}/application", "cllr", params={"version": 1}).json())
        )["document"].get("evidence")
        is None
    )


def test_a_document_cannot_list_evidence_that_was_never_uploaded(api, tmp_path, monkeypatch):
    monkeypatch.setenv("CASEWORK_FILES", str(tmp_path / "files"))
    w = api.world
    ref = api.post("/cases", "cllr", json=w.bid_document()).json()["ref"]
    before = _snapshot(w)
    forged = put(
        api,
        ref,
        w.bid_document(evidence=[{"name": "a.pdf", "sha256": "0" * 64}]),
        headers={"If-Match": '"1"'},
    )
    assert forged.status_code == 422 and "evidence[0]" in forged.json()["detail"]
    assert _snapshot(w) == before
    files = {"file": ("costs.csv", b"item,cost\nhub,120000\n", "text/csv")}
    kept = api.post(f"/cases/{ref}/application/evidence", "cllr", files=files).json()
    # Listed already: kept when the rest of the document changes.
    again = put(
        api,
        ref,
        {**kept["application"], "amount": "260000"},
        headers={"If-Match": f'"{kept["version"]}"'},
    )
    assert again.status_code == 200 and again.json()["changed"] == ["amount"]
