"""What people trip on when they first use the web app: links that lead nowhere, words
that are not theirs. Each test is one person meeting a page as they would in a browser."""

from __future__ import annotations

import re

import pytest

from tests.web.site import PASSWORD, bid_in_monitoring, open_return, scored_bid, text_of
from workflow.services import applications, lifecycle, monitoring, passwords

_NAV = re.compile(r'<nav class="nav" aria-label="Main">(.*?)</nav>', re.S)


@pytest.mark.parametrize(
    "name, role",
    [
        ("carol", "caseworker"),
        ("ash", "assessor"),
        ("april", "approver"),
        ("audrey", "auditor"),
        ("adam", "admin"),
        ("cllr", "council"),
        ("fay", "finance"),
    ],
)
def test_every_link_in_a_persons_navigation_opens_a_page_they_may_see(site, name, role):
    """Finance was offered "Programmes", which only refused them ("You cannot see this
    page"): the navigation now offers each person only pages their roles open."""
    if name == "fay":
        site.world.person("fay", "finance")
        passwords.set_password(site.engine, "fay", PASSWORD)
    visitor = site.as_(name)
    start = visitor.get("/cases")
    nav = _NAV.search(start.text)
    assert nav, f"{name} ({role}) has no navigation"
    links = re.findall(r'href="([^"]+)"', nav.group(1))
    assert links, nav.group(1)
    for href in links:
        page = visitor.get(href)
        assert page.status_code == 200, (role, href, page.status_code, text_of(page.text)[:200])


def test_the_caseworker_is_asked_for_the_question_not_a_reason(site):
    """Asking the council a question, the box holds the question the council is emailed:
    it says so, and left empty it asks for the question, keeping the rest of the page."""
    ref = scored_bid(site.world)
    carol = site.as_("carol")
    page = carol.get(f"/cases/{ref}")
    box = re.search(
        r'<label[^>]*for="reason-ask_clarification"[^>]*>(.*?)</label>', page.text, re.S
    )
    assert box and text_of(box.group(1)) == "Your question for the council (required)"
    assert "your reason" not in text_of(page.text).lower()

    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    refused = carol.post(
        f"/cases/{ref}/advance",
        {"trigger": "ask_clarification", "version": version, "reason": "  "},
    )
    assert refused.status_code == 422
    summary = text_of(refused.text)
    assert f"Enter your question for the council ({ref})." in summary
    assert '<a href="#reason-ask_clarification">Enter your question' in refused.text
    assert site.world.state(ref) == "under_assessment"

    asked = carol.post(
        f"/cases/{ref}/advance",
        {"trigger": "ask_clarification", "version": version, "reason": "Who signs off?"},
    )
    assert asked.status_code == 303
    assert "Who signs off?" in text_of(carol.follow(asked).text)


def test_an_applications_versions_name_the_programme_not_its_code(site):
    """The version page's table showed "Programme  tca-2013": people read its name."""
    w = site.world
    ref = w.bid(by="cllr")
    applications.amend(w.engine, ref, w.bid_document(annual_savings="450000"), "cllr")
    for version in (1, 2):
        page = site.as_("carol").get(f"/cases/{ref}/application?version={version}")
        assert page.status_code == 200
        row = re.search(r'<th scope="row">Programme</th>(.*?)</tr>', page.text, re.S)
        assert row, version
        assert "Transformation Challenge Award 2013" in text_of(row.group(1))
        assert "tca-2013" not in text_of(row.group(1))


def test_a_partner_named_without_its_evidence_is_refused_at_the_evidence_box(site):
    """A network area's partner row with a name and no evidence was saved as it was, and
    only the submission, pages later, said the partner had no evidence. The partners
    question now says so at once, at that row's evidence box, keeping the name typed and
    saving nothing; the change-all page likewise."""
    from tests.web.test_apply import answer

    cllr = site.as_("cllr")
    cllr.get("/apply")
    cllr.post("/apply", {"programme": "pstn-2013"})
    opened = cllr.post("/apply/new/pstn-2013", {"title": "Troubled families, one front door"})
    ref = re.search(r"/apply/(PSTN-2013-\d+)/", opened.headers["location"]).group(1)
    before = lifecycle.show(site.engine, ref)["version"]

    half = {
        "partner-rows": "2",
        "partners-0-name": "County police",
        "partners-0-evidence": "",
        "partners-1-name": "NHS trust",
        "partners-1-evidence": "Board minute",
    }
    refused = answer(cllr, ref, "partners", half, status=400)
    assert '<a href="#partners-0-evidence">Enter the evidence that County police is bought in' in (
        refused.text
    )
    assert 'value="County police"' in refused.text and 'value="NHS trust"' in refused.text
    assert not lifecycle.show(site.engine, ref)["application"].get("partners")

    cllr.get(f"/apply/{ref}/change")
    version = re.search(r'name="version" value="(\d+)"', cllr.last).group(1)
    changed = cllr.post(
        f"/apply/{ref}/change",
        {"version": version, "title": "Troubled families, one front door", **half},
    )
    assert changed.status_code == 400
    assert "Enter the evidence that County police is bought in" in text_of(changed.text)
    assert lifecycle.show(site.engine, ref)["version"] == before


def test_waiving_a_return_asks_are_you_sure_first(site, moment):
    """A waived return is final, yet "Waive the return" sat beside "Accept" and acted at
    once. It now goes to a page that asks for the reason and "are you sure?"; "No" goes
    back with nothing changed, and a waive posted without that confirmation is asked too."""
    ref = bid_in_monitoring(site.world)
    q1 = f"{ref}/Q1"
    open_return(site.world, moment, ref)
    carol = site.as_("carol")
    page = carol.get(f"/returns/{q1}")
    assert f'<form method="get" action="/returns/{q1}/waive"' in page.text
    before = site.world.snapshot()

    asked = carol.get(f"/returns/{q1}/waive")
    assert asked.status_code == 200
    text = text_of(asked.text)
    assert "Waive the return: are you sure?" in text and "This cannot be undone." in text
    assert f'href="/returns/{q1}">No, go back' in asked.text
    version = re.search(r'name="version" value="(\d+)"', asked.text).group(1)

    # Posted straight at the decision, unconfirmed: asked first, the reason kept.
    unconfirmed = carol.post(
        f"/returns/{q1}/decide",
        {"trigger": "waive", "version": version, "reason": "The council merged."},
    )
    assert "Waive the return: are you sure?" in text_of(unconfirmed.text)
    assert ">The council merged.</textarea>" in unconfirmed.text
    assert site.world.snapshot() == before

    done = carol.post(
        f"/returns/{q1}/decide",
        {
            "trigger": "waive",
            "version": version,
            "reason": "The council merged.",
            "confirmed": "yes",
        },
    )
    assert done.status_code == 303
    assert monitoring.get_checkpoint(site.engine, q1)["state"] == "waived"
    # Once waived there is nothing to confirm: the page sends the caseworker back.
    assert carol.get(f"/returns/{q1}/waive").headers["location"] == f"/returns/{q1}"


def test_an_approver_s_inbox_lists_the_payments_to_approve(site):
    """A payment that fell due appeared nowhere an approver looks but /payments: the
    inbox's "What needs you" now counts it and lists its case, where it is approved."""
    ref = bid_in_monitoring(site.world)  # accepted: its first payment is due
    inbox = site.as_("aaron").get("/inbox")
    text = text_of(inbox.text)
    assert "Payments to approve 1" in text, text[:2000]
    section = inbox.text[inbox.text.index('id="group-payments"') :]
    assert f'href="/cases/{ref}"' in section[:3000]
    assert "Approve the payment" in site.as_("aaron").get(f"/cases/{ref}").text

    pays = site.as_("aaron").get("/payments")
    version = re.search(r'name="version" value="(\d+)"', pays.text).group(1)
    approved = site.as_("aaron").post(
        f"/cases/{ref}/payments/1/approve", {"version": version, "next": "/payments"}
    )
    assert approved.status_code == 303, text_of(approved.text)[:400]
    assert "Payments to approve none" in text_of(site.as_("aaron").get("/inbox").text)


def test_a_bid_sent_unfinished_is_told_what_to_answer_in_words_linked_to_each_answer(site):
    """Submitting a draft with answers missing listed the rules' refusals with their field
    codes, "the bid has no title (title)", each linked to the submit button. The council
    reads the words alone, each linked to that answer's Answer link on the page."""
    from tests.web.test_apply import send, start_bid

    cllr = site.as_("cllr")
    ref = start_bid(cllr)  # a shared arrangement: its category alone is answered
    refused = send(cllr, ref, status=422)
    summary = re.search(r'<ul class="error-summary__list">(.*?)</ul>', refused.text, re.S)
    assert summary
    lines = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary.group(1))
    assert ("answer-title", f"{ref} cannot be &#39;Submit the bid&#39;: the bid has no title") in (
        lines
    ), lines
    assert ("answer-amount", "The bid does not say how much it asks for") in lines, lines
    for anchor, _words in lines:
        assert f'id="{anchor}"' in refused.text, anchor
    assert not re.search(r"\([a-z]+_[a-z_]+\)|\((title|amount)\)", text_of(summary.group(1)))
    assert lifecycle.show(site.engine, ref)["state"] == "draft"


def test_a_draft_without_a_title_is_never_shown_as_an_empty_heading(site):
    """A draft whose council has not yet answered the title had an empty <h1> (and a page
    title "REF: "), and a blank cell in the lists: each now says "No title yet"."""
    from tests.web.test_apply import start_bid

    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    case = cllr.get(f"/cases/{ref}")
    assert "<h1>No title yet</h1>" in case.text
    assert f"<title>{ref}: No title yet" in case.text
    listed = cllr.get("/cases")
    row = re.search(rf'href="/cases/{ref}">{ref}</a></td>\s*<td[^>]*>([^<]*)</td>', listed.text)
    assert row and row.group(1) == "No title yet"
    waiting = cllr.get("/returns")
    row = re.search(rf">{ref}</a></td><td>([^<]*)</td>", waiting.text)
    assert row and row.group(1) == "No title yet"
    confirm = cllr.get(f"/cases/{ref}/confirm?trigger=withdraw")
    assert "<p>No title yet</p>" in confirm.text


def test_the_case_page_says_what_stops_a_move_without_field_codes(site):
    """A draft's case page said "Submit the bid: The bid has no title (title) (and 2
    more)": the council reads the words alone."""
    from tests.web.test_apply import start_bid

    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    blocked = re.search(r'<li id="blocked-submit">(.*?)</li>', cllr.get(f"/cases/{ref}").text, re.S)
    assert blocked
    said = text_of(blocked.group(1))
    assert said.startswith("Submit the bid: The bid has no title (and "), said
    assert not re.search(r"\((title|amount|[a-z]+_[a-z_]+)\)", said), said


def test_the_assessment_page_says_what_the_tolerance_means(site):
    """The assessment page listed "Tolerance 2", which an assessor cannot act on: it now
    says how far the assessors' scores may differ before a moderator agrees one."""
    ref = scored_bid(site.world)
    text = text_of(site.as_("ash").get(f"/cases/{ref}/assessment").text)
    assert "Spread allowed 2 points: a wider spread needs a moderator’s agreed score" in text
    assert "Tolerance" not in text
