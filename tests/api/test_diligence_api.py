"""The API's due diligence (DESIGN.md section 9): the checklist, and a caseworker's record."""

from __future__ import annotations

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
FRAUD = {"result": "pass", "rating": "low", "evidence": "Bank details confirmed."}


def _submitted(api) -> str:
    ref = api.world.bid()
    api.world.advance(ref, "submit")
    return ref


def test_the_checklist_says_what_is_still_needed_before_check(api):
    ref = _submitted(api)

    shown = api.get(f"/cases/{ref}/diligence")

    assert shown.status_code == 200
    body = shown.json()
    assert {c["check"]: c["status"] for c in body["checks"]} == {
        "lead_is_council": "passed",
        "no_duplicate_bid": "passed",
        "org_in_register": "passed",
        "fraud_risk": "missing",
    }
    assert body["passed"] is False
    assert body["still_needed"] == [
        "Fraud risk (fraud_risk) is not recorded yet: a caseworker records it with evidence"
    ]
    assert body["checks"][0]["last_run"]["on"] == "submit"


def test_a_caseworker_records_a_check_with_a_file_once_per_key_then_the_bid_is_checked(
    api, tmp_path, monkeypatch
):
    monkeypatch.setenv("CASEWORK_FILES", str(tmp_path / "files"))
    ref = _submitted(api)
    key = {"Idempotency-Key": "fraud-1"}

    first = api.post(
        f"/cases/{ref}/diligence/fraud_risk",
        headers=key,
        data=FRAUD,
        files={"file": ("checks.pdf", PDF, "application/pdf")},
    )
    rows = api.world.snapshot()["history"]
    again = api.post(
        f"/cases/{ref}/diligence/fraud_risk",
        headers=key,
        data=FRAUD,
        files={"file": ("checks.pdf", PDF, "application/pdf")},
    )

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers.get("idempotent-replayed") == "true"
    assert api.world.snapshot()["history"] == rows
    fraud = next(c for c in first.json()["checks"] if c["check"] == "fraud_risk")
    assert (
        fraud["recorded"]["by"] == "carol"
        and fraud["recorded"]["attachment"]["name"] == "checks.pdf"
    )
    assert first.json()["passed"] is True
    assert api.advance(ref, "check").status_code == 200


def test_check_is_refused_with_every_check_not_passed(api):
    ref = _submitted(api)

    refused = api.advance(ref, "check")

    assert refused.status_code == 422
    assert "Fraud risk (fraud_risk) is not recorded yet" in refused.json()["detail"]


def test_bad_records_are_refused_naming_the_rule_and_write_nothing(api):
    ref = _submitted(api)
    api.world.person("olive", "approver")
    before = api.world.snapshot()
    cases = [
        ("credit_check", FRAUD, "carol", 422, "'credit_check' is not a due-diligence check"),
        ("no_duplicate_bid", {**FRAUD}, "carol", 422, "takes no rating"),
        ("fraud_risk", {"result": "pass", "evidence": "ok"}, "carol", 422, "needs a rating"),
        ("fraud_risk", {**FRAUD, "evidence": "ok\x07"}, "carol", 422, "evidence"),  # states.text
        ("fraud_risk", {**FRAUD, "result": "perhaps"}, "carol", 400, "not pass or fail"),
        ("fraud_risk", FRAUD, "olive", 403, "only a caseworker may"),
        (
            "lead_is_council",
            {"result": "pass", "evidence": "ok"},
            "carol",
            422,
            "cannot be overridden",
        ),
    ]
    for check, data, who, status, words in cases:
        answer = api.post(f"/cases/{ref}/diligence/{check}", who, data=data)
        assert answer.status_code == status, (check, answer.text)
        assert words in answer.json()["detail"], (check, answer.text)
    assert api.world.snapshot() == before


def test_a_council_person_cannot_read_another_councils_checklist_or_any(api):
    ref = _submitted(api)
    assert api.get(f"/cases/{ref}/diligence", "cllr").status_code == 403
    assert api.get("/cases/TCA-2013-0099/diligence").status_code == 404


def test_the_document_describes_both_operations():
    from workflow.api import create_api
    from workflow.storage.db import make_engine

    paths = create_api(make_engine("sqlite://")).openapi()["paths"]

    assert paths["/cases/{ref}/diligence"]["get"]["operationId"] == "show_diligence"
    post = paths["/cases/{ref}/diligence/{check}"]["post"]
    assert post["operationId"] == "record_diligence"
    assert {p["name"] for p in post["parameters"]} >= {"Idempotency-Key", "ref", "check"}
    assert {"403", "404", "422"} <= set(post["responses"])
