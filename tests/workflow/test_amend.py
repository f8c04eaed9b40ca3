"""Application versions and amendments (DESIGN section 10): every version kept and readable,
each amendment a no-state history row `amend`, refusals that write nothing."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from states.documents import document_hash
from workflow.errors import CaseNotFound, ConflictError, Malformed, PermissionDenied, RuleViolation
from workflow.services import applications, lifecycle
from workflow.services.chain import verify
from workflow.storage.tables import application_versions, case_orgs, cases


@pytest.fixture
def w(any_world):
    any_world.cast()
    any_world.org("E07000030")
    any_world.person("nell", "council", org="E07000030")  # another council altogether
    any_world.person("pat", "council", org="E07000028")  # a partner council's person
    return any_world


def _snapshot(w):
    with w.engine.connect() as conn:
        return {
            **w.snapshot(),
            "versions": conn.execute(
                select(func.count()).select_from(application_versions)
            ).scalar(),
            "documents": [
                tuple(r)
                for r in conn.execute(
                    select(
                        cases.c.ref, cases.c.application, cases.c.title, cases.c.amount_pence
                    ).order_by(cases.c.id)
                )
            ],
            "case_orgs": sorted(tuple(r) for r in conn.execute(select(case_orgs))),
        }


def _whole(w):
    with w.engine.connect() as conn:
        assert verify(conn).ok


def test_version_1_is_what_was_opened(w):
    ref = w.bid(by="cllr")
    [v1] = applications.versions(w.engine, ref)
    assert (v1["version"], v1["actor"], v1["changed"]) == (1, "cllr", [])
    got = applications.version_of(w.engine, ref, 1)
    assert got["document"] == lifecycle.show(w.engine, ref)["application"]
    assert got["sha256"] == document_hash(got["document"]) == v1["sha256"]
    assert got["latest"] == 1


def test_an_amendment_is_version_2_and_a_history_row_naming_the_changed_fields(w):
    ref = w.bid(by="cllr")
    original = lifecycle.show(w.engine, ref)
    doc = w.bid_document(amount="240000", title="Joint procurement hub for four districts")

    done = applications.amend(w.engine, ref, doc, "cllr", reason="A fourth district joined.")

    assert (done["application_version"], done["changed"]) == (2, ["title", "amount"])
    assert (done["state"], done["version"]) == ("draft", original["version"] + 1)
    assert done["amount"] == "240000.00" and done["title"].endswith("four districts")
    row = lifecycle.case_history(w.engine, ref)[-1]
    assert (row["trigger"], row["from_state"], row["to_state"]) == ("amend", "draft", "draft")
    assert (row["actor"], row["role"], row["reason"]) == (
        "cllr",
        "council",
        "A fourth district joined.",
    )
    now = applications.version_of(w.engine, ref)
    assert row["payload"] == {
        "application_version": 2,
        "document_sha256": now["sha256"],
        "changed": ["title", "amount"],
    }
    assert now["sha256"] == document_hash(now["document"])
    # version 1 is still what was opened
    assert applications.version_of(w.engine, ref, 1)["document"] == original["application"]
    assert lifecycle.show(w.engine, ref)["application"] == now["document"]
    _whole(w)


def test_the_comparison_is_field_by_field_with_the_changed_ones_marked(w):
    ref = w.bid(by="cllr")
    applications.amend(w.engine, ref, w.bid_document(amount="240000", innovation=None), "carol")
    fields = {f["field"]: f for f in applications.compare(w.engine, ref, 1, 2)["fields"]}
    assert fields["amount"] == {
        "field": "amount",
        "before": "250000.00",
        "after": "240000.00",
        "changed": True,
    }
    assert fields["innovation"]["changed"] and fields["innovation"]["after"] is None
    assert not fields["title"]["changed"]
    assert [f for f, v in fields.items() if v["changed"]] == ["amount", "innovation"]


def test_a_caseworker_may_amend_and_a_bid_waiting_for_an_answer_may_be_amended(w):
    ref = w.bid(by="carol")
    w.advance(ref, "submit", "check", "start_assessment")
    w.advance(ref, "ask_clarification", reason="Which districts share the hub?")
    applications.amend(
        w.engine, ref, w.bid_document(innovation="Three councils, one team."), "cllr"
    )
    applications.amend(w.engine, ref, w.bid_document(innovation="Three, then four."), "carol")
    assert [v["version"] for v in applications.versions(w.engine, ref)] == [1, 2, 3]
    assert [r["trigger"] for r in lifecycle.case_history(w.engine, ref)][-2:] == ["amend", "amend"]
    _whole(w)


def test_amending_in_another_state_is_refused_and_writes_nothing(w):
    ref = w.bid(by="cllr")
    w.advance(ref, "submit")
    before = _snapshot(w)
    with pytest.raises(
        RuleViolation,
        match="cannot be amended: only while it is 'Draft' or 'Waiting for the council's answer'",
    ):
        applications.amend(w.engine, ref, w.bid_document(amount="1000"), "cllr")
    assert _snapshot(w) == before


def test_another_councils_case_is_not_found_and_a_partner_may_not_amend(w):
    ref = w.bid(by="cllr")
    before = _snapshot(w)
    with pytest.raises(CaseNotFound):
        applications.amend(w.engine, ref, w.bid_document(amount="1000"), "nell")
    with pytest.raises(CaseNotFound):
        applications.version_of(w.engine, ref, 1, actor="nell")
    with pytest.raises(CaseNotFound):  # a draft is its lead's alone: a partner sees nothing
        applications.amend(w.engine, ref, w.bid_document(amount="1000"), "pat")
    with pytest.raises(
        PermissionDenied, match="only a caseworker or a person of the lead council may"
    ):
        applications.amend(w.engine, ref, w.bid_document(amount="1000"), "ash")
    assert _snapshot(w) == before
    w.advance(ref, "submit", "check", "start_assessment")
    w.advance(ref, "ask_clarification", reason="Which councils share the savings?")
    before = _snapshot(w)
    with pytest.raises(PermissionDenied, match="pat is not a person of E07000026"):
        applications.amend(w.engine, ref, w.bid_document(amount="1000"), "pat")
    assert _snapshot(w) == before


def test_a_stale_version_a_bad_document_a_moved_lead_or_no_change_are_refused(w):
    ref = w.bid(by="cllr")
    version = lifecycle.show(w.engine, ref)["version"]
    applications.amend(
        w.engine, ref, w.bid_document(amount="1000"), "cllr", expected_version=version
    )
    before = _snapshot(w)
    with pytest.raises(ConflictError, match="has changed since you looked at it"):
        applications.amend(
            w.engine, ref, w.bid_document(amount="2000"), "cllr", expected_version=version
        )
    with pytest.raises(Malformed, match="amount: "):
        applications.amend(w.engine, ref, w.bid_document(amount="£2,000"), "cllr")
    with pytest.raises(RuleViolation, match="an amendment cannot move it to E07000028"):
        applications.amend(
            w.engine, ref, w.bid_document(lead="E07000028", partners=["E07000029"]), "carol"
        )
    with pytest.raises(RuleViolation, match="the same as"):
        applications.amend(w.engine, ref, w.bid_document(amount="1000"), "cllr")
    with pytest.raises(Malformed, match="reason"):
        applications.amend(
            w.engine, ref, w.bid_document(amount="3000"), "cllr", reason="bad\x07bell"
        )
    assert _snapshot(w) == before


def test_changed_partners_change_who_sees_the_case(w):
    ref = w.bid(by="cllr")  # past the draft, which its partners may not see
    w.advance(ref, "submit", "check", "start_assessment")
    w.advance(ref, "ask_clarification", reason="Who are the partners?")
    applications.amend(w.engine, ref, w.bid_document(partners=["E07000029", "E07000030"]), "cllr")
    assert lifecycle.show(w.engine, ref)["partners"] == ["E07000029", "E07000030"]
    assert ref in [c["ref"] for c in lifecycle.list_cases(w.engine, org="E07000030")]
    assert ref not in [c["ref"] for c in lifecycle.list_cases(w.engine, org="E07000028")]
    assert applications.version_of(w.engine, ref, 2, actor="nell")["version"] == 2
    with pytest.raises(CaseNotFound):
        applications.version_of(w.engine, ref, 1, actor="pat")


def test_an_area_draft_is_amended_too(w):
    w.org("E08000003")
    w.person("mo", "council", org="E08000003")
    doc = {
        "programme": "pstn-2013",
        "title": "Greater Manchester",
        "lead": "E08000003",
        "service_areas": ["troubled families"],
        "how_to_succeed": "Together.",
        "partners": [{"name": "GMP", "evidence": "A letter."}],
        "contribution": "50000",
    }
    ref = lifecycle.open_case(w.engine, "area", doc, "mo")["ref"]
    done = applications.amend(
        w.engine, ref, {**doc, "service_areas": ["troubled families", "health"]}, "mo"
    )
    assert done["changed"] == ["service_areas"]
    _whole(w)


def test_an_unknown_version_is_not_found(w):
    ref = w.bid(by="cllr")
    with pytest.raises(applications.VersionNotFound, match="its versions are 1 to 1"):
        applications.version_of(w.engine, ref, 2)


def test_the_database_refuses_to_change_or_remove_a_version(w):
    ref = w.bid(by="cllr")
    for sql in ("UPDATE application_versions SET sha256 = 'x'", "DELETE FROM application_versions"):
        with pytest.raises(DBAPIError, match="append-only"):
            with w.engine.begin() as conn:
                conn.execute(text(sql))
    assert applications.versions(w.engine, ref)[0]["version"] == 1


# --- the clarification loop ------------------------------------------------------
def _under_assessment(w) -> str:
    ref = w.bid(by="cllr")
    w.advance(ref, "submit", "check", "start_assessment")
    return ref


def test_asking_needs_the_question_and_emails_it_to_the_lead_council(w):
    from workflow.errors import ReasonRequired
    from workflow.storage.tables import outbox

    ref = _under_assessment(w)
    before = _snapshot(w)
    with pytest.raises(ReasonRequired):
        lifecycle.advance(w.engine, ref, "ask_clarification", "ash")
    assert _snapshot(w) == before

    lifecycle.advance(
        w.engine, ref, "ask_clarification", "ash", reason="How will the savings be shared?"
    )
    with w.engine.connect() as conn:
        [mail] = conn.execute(
            select(outbox).where(outbox.c.kind == "case.clarification_requested")
        ).all()
    assert mail.to_addrs == ["returns@e07000026.example.gov.uk"]
    assert mail.cc_addrs == ["carol@casework.example.gov.uk"]
    assert "How will the savings be shared?" in mail.body_text
    assert f"/cases/{ref}/answer" in mail.body_text and f"/cases/{ref}/answer" in mail.body_html


def test_the_council_answers_with_an_amendment_and_the_rules_of_submit_run_again(w):
    from workflow.errors import GuardFailed

    ref = _under_assessment(w)
    lifecycle.advance(
        w.engine, ref, "ask_clarification", "carol", reason="Is £250,000 the whole cost?"
    )
    # An amendment the document rules accept but the category's rules do not.
    applications.amend(w.engine, ref, w.bid_document(amount="600000"), "cllr")
    before = _snapshot(w)
    with pytest.raises(GuardFailed, match="Shared arrangement"):
        lifecycle.advance(w.engine, ref, "answer", "cllr", reason="It is now £600,000.")
    assert _snapshot(w) == before

    applications.amend(w.engine, ref, w.bid_document(amount="300000"), "cllr")
    done = lifecycle.advance(w.engine, ref, "answer", "cllr", reason="£300,000 in all.")
    assert done["state"] == "under_assessment" and done["amount"] == "300000.00"
    triggers = [r["trigger"] for r in lifecycle.case_history(w.engine, ref)]
    assert triggers[-5:] == ["start_assessment", "ask_clarification", "amend", "amend", "answer"]
    assert [v["version"] for v in applications.versions(w.engine, ref)] == [1, 2, 3]
    assert applications.version_of(w.engine, ref, 1)["document"]["amount"] == "250000.00"
    with pytest.raises(RuleViolation, match="cannot be amended"):
        applications.amend(w.engine, ref, w.bid_document(amount="310000"), "cllr")
    _whole(w)


def test_two_amendments_of_one_version_at_once_one_wins_and_the_other_writes_nothing(w):
    import threading

    ref = w.bid(by="cllr")
    version = lifecycle.show(w.engine, ref)["version"]
    start, outcomes = threading.Barrier(2), []

    def amend(amount: str, who: str) -> None:
        start.wait()
        try:
            applications.amend(
                w.engine, ref, w.bid_document(amount=amount), who, expected_version=version
            )
            outcomes.append("done")
        except ConflictError:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=amend, args=("1000", "cllr")),
        threading.Thread(target=amend, args=("2000", "carol")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["conflict", "done"]
    assert [v["version"] for v in applications.versions(w.engine, ref)] == [1, 2]
    assert [r["trigger"] for r in lifecycle.case_history(w.engine, ref)] == ["create", "amend"]
    _whole(w)
