"""The caseworker and the assessors see what an amendment changed: on the case page (the
changed fields, before and after) and at /cases/REF/application?version=N (every field,
the changed ones marked); every version stays readable."""

from __future__ import annotations

import re

import pytest

from tests.web.site import text_of
from workflow.services import applications


@pytest.fixture
def asked(site):
    """A bid under assessment whose council was asked a question and amended two fields."""
    w = site.world
    ref = w.bid(by="cllr")
    w.advance(ref, "submit", "check", "start_assessment")
    w.advance(ref, "ask_clarification", by="ash", reason="How are the savings shared?")
    applications.amend(
        w.engine,
        ref,
        w.bid_document(
            annual_savings="450000", innovation="One buying team; savings shared by spend."
        ),
        "cllr",
    )
    return ref


def test_the_case_page_marks_the_two_changed_fields_for_an_assessor(site, asked):
    page = site.as_("ash").get(f"/cases/{asked}")
    assert page.status_code == 200
    text = text_of(page.text)
    assert "What changed in version 2 of the application" in text
    changed = re.findall(
        r'<tr class="table__row--changed"><th scope="row">([^<]+) <strong', page.text
    )
    assert changed == ["Annual savings", "Innovation"]
    assert "£400,000" in text and "£450,000" in text
    assert f'href="/cases/{asked}/application?version=2"' in page.text


def test_every_version_is_readable_field_by_field(site, asked):
    carol = site.as_("carol")
    second = carol.get(f"/cases/{asked}/application?version=2")
    assert second.status_code == 200
    assert text_of(second.text).count("Changed") == 2
    assert "Version 2 beside version 1, field by field" in text_of(second.text)
    first = carol.get(f"/cases/{asked}/application?version=1")
    assert first.status_code == 200 and "£400,000" in text_of(first.text)
    assert "Changed" not in text_of(first.text)
    assert "The application as it was opened by cllr" in text_of(first.text)
    assert carol.get(f"/cases/{asked}/application?version=9").status_code == 404
    for typo in ("abc", "0", "-1", "2.0"):  # refused, not the newest shown in its place
        refused = carol.get(f"/cases/{asked}/application?version={typo}")
        assert refused.status_code == 400, typo
        assert "is not a version number, like 1" in refused.text


def test_another_council_sees_no_version(site, asked):
    assert site.as_("otto").get(f"/cases/{asked}/application?version=1").status_code == 404
    assert site.as_("cllr").get(f"/cases/{asked}/application").status_code == 200


def test_a_case_never_amended_shows_no_changes(site):
    ref = site.world.bid(by="cllr")
    page = site.as_("carol").get(f"/cases/{ref}")
    assert "What changed" not in text_of(page.text)


def test_a_council_never_finds_another_councils_draft_in_the_list_or_the_search(site):
    ref = site.world.bid(by="cllr")
    otto = site.as_("otto")
    for path in ("/cases", f"/cases?q={ref}", "/cases?state=draft"):
        page = otto.get(path)
        assert page.status_code == 200 and f'href="/cases/{ref}"' not in page.text, path
    assert f'href="/cases/{ref}"' in site.as_("cllr").get("/cases?state=draft").text


def test_a_partner_sees_no_version_of_a_draft_until_it_is_submitted(site):
    ref = site.world.bid(by="cllr")
    pat = site.as_("pat")
    assert pat.get(f"/cases/{ref}/application?version=1").status_code == 404
    site.world.advance(ref, "submit", by="cllr")
    assert pat.get(f"/cases/{ref}/application?version=1").status_code == 200


def test_answers_saved_while_the_draft_was_written_are_not_shown_as_an_amendment(site):
    w = site.world
    ref = w.bid()
    applications.amend(w.engine, ref, w.bid_document(annual_savings="410000"), "cllr")
    w.advance(ref, "submit")

    page = text_of(site.as_("carol").get(f"/cases/{ref}").text)

    # Version 2 is the council's own draft, sent as it stood: nothing was amended since.
    assert "What changed in version" not in page
    assert "£410,000" in page


def test_answers_changed_one_at_a_time_are_all_shown_as_the_rounds_changes(site):
    """A council answering a question may save its answers one at a time (the answer page's
    change links): each is a version, and those who read the case see every field the round
    changed beside the application as it was asked about, not only the last one saved. A
    field changed and changed back is not shown as changed."""
    w = site.world
    ref = w.bid(by="cllr")
    w.advance(ref, "submit", "check", "start_assessment")
    w.advance(ref, "ask_clarification", by="ash", reason="How are the savings shared?")
    for changed in (
        {"transitional_costs": "135000"},
        {"transitional_costs": "135000", "amount": "600000"},
        {"transitional_costs": "135000"},  # the amount back as it was
        {"transitional_costs": "135000", "annual_savings": "450000"},
    ):
        applications.amend(w.engine, ref, w.bid_document(**changed), "cllr")
    w.advance(ref, "answer", by="cllr")

    page = site.as_("ash").get(f"/cases/{ref}")
    text = text_of(page.text)
    assert "What changed in versions 2 to 5 of the application" in text
    changed = re.findall(
        r'<tr class="table__row--changed"><th scope="row">([^<]+) <strong', page.text
    )
    assert changed == ["Transitional costs", "Annual savings"]
    assert "Version 1" in text and "Version 5 (now)" in text
    link = f'href="/cases/{ref}/application?version=5&amp;since=1"'
    assert link in page.text

    # The link shows the same comparison, every field, the two changed ones marked.
    whole = site.as_("ash").get(f"/cases/{ref}/application?version=5&since=1")
    assert whole.status_code == 200
    assert "Version 5 beside version 1, field by field" in text_of(whole.text)
    assert "2 fields changed from version 1" in text_of(whole.text)
    assert whole.text.count('class="table__row--changed"') == 2
    for wrong in ("5", "6", "abc"):
        refused = site.as_("ash").get(f"/cases/{ref}/application?version=5&since={wrong}")
        assert refused.status_code == 400, wrong


def test_a_round_that_changed_nothing_in_the_end_shows_no_changes(site):
    w = site.world
    ref = w.bid(by="cllr")
    w.advance(ref, "submit", "check", "start_assessment")
    w.advance(ref, "ask_clarification", by="ash", reason="Is the amount right?")
    applications.amend(w.engine, ref, w.bid_document(amount="300000"), "cllr")
    applications.amend(w.engine, ref, w.bid_document(), "cllr")  # as it was
    w.advance(ref, "answer", by="cllr", reason="Yes: the amount stands.")

    assert "What changed in" not in text_of(site.as_("ash").get(f"/cases/{ref}").text)


def test_the_history_names_each_amendments_version_and_fields(site, asked):
    """The case's history says which version each amendment made and what it changed (the
    case page links the version); the auditor's page adds the document's SHA-256."""
    (amended,) = [v for v in applications.versions(site.engine, asked) if v["version"] == 2]

    case_page = site.as_("ash").get(f"/cases/{asked}")
    assert (
        f'Application amended — <a href="/cases/{asked}/application?version=2">version 2</a>: '
        "Annual savings, Innovation</p>" in case_page.text
    )
    audit_page = text_of(site.as_("audrey").get(f"/audit/{asked}").text)
    assert "Version 2: Annual savings, Innovation" in audit_page
    assert f"Document SHA-256 {amended['sha256'][:12]}…" in audit_page
