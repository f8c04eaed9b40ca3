"""A council applies on the web, one question a page, and answers a caseworker's question.

Drafts are saved at every page and seen by the lead council's people alone;
a page posted with a missing or malformed answer shows the error summary,
keeps what was typed and writes nothing.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from states import dates
from tests.web.site import text_of
from workflow.services import applications, lifecycle, passwords
from workflow.storage.tables import outbox

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"
BID_ANSWERS = [
    ("category", {"category": "shared_arrangement"}),
    ("title", {"title": "Joint procurement hub for three districts"}),
    ("partners", {"partners": ["E07000028", "E07000029"]}),
    ("amount", {"amount": "250000"}),
    ("transitional_costs", {"transitional_costs": "120000"}),
    ("annual_savings", {"annual_savings": "400000.50"}),
    ("arrangement", {"arrangement": "joint_procurement"}),
    ("innovation", {"innovation": "One buying team for three districts."}),
]


@pytest.fixture
def colleague(site):
    """A second person of the lead council (cllr's), to carry on with its drafts."""
    site.world.person("cleo", "council", org="E07000026")
    passwords.set_password(site.engine, "cleo", "correct horse battery staple")
    return site.as_("cleo")


def start_bid(v) -> str:
    """Choose the TCA programme and answer the first question: the case is opened."""
    assert v.get("/apply").status_code == 200
    chosen = v.post("/apply", {"programme": "tca-2013"})
    assert chosen.headers["location"] == "/apply/new/tca-2013"
    page = v.follow(chosen)
    assert "Which kind of award are you bidding for?" in text_of(page.text)
    opened = v.post("/apply/new/tca-2013", {"category": "shared_arrangement"})
    assert opened.status_code == 303, text_of(opened.text)[:600]
    ref = re.search(r"/apply/(TCA-2013-\d+)/title", opened.headers["location"]).group(1)
    v.follow(opened)
    return ref


def answer(v, ref: str, name: str, data: dict, *, status: int = 303):
    v.get(f"/apply/{ref}/{name}")
    version = re.search(r'name="version" value="(\d+)"', v.last).group(1)
    r = v.post(f"/apply/{ref}/{name}", {**data, "version": version})
    assert r.status_code == status, text_of(r.text)[:800]
    return r


def fill_bid(v, ref: str, answers=BID_ANSWERS[1:]) -> None:
    for name, data in answers:
        r = answer(v, ref, name, data)
    if answers[-1][0] == BID_ANSWERS[-1][0]:
        assert r.headers["location"] == f"/apply/{ref}/evidence"


def attach(v, ref: str, name: str = "Business case.pdf", data: bytes = PDF, status: int = 303):
    v.get(f"/apply/{ref}/evidence")
    version = re.search(r'name="version" value="(\d+)"', v.last).group(1)
    r = v.post(
        f"/apply/{ref}/evidence",
        {"version": version},
        files={"evidence": (name, data, "application/pdf")},
    )
    assert r.status_code == status, text_of(r.text)[:600]
    return r


def send(v, ref: str, *, status: int = 303):
    page = v.get(f"/apply/{ref}")
    version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
    trigger = re.search(r'name="trigger" value="(\w+)"', page.text).group(1)
    r = v.post(f"/apply/{ref}/send", {"version": version, "trigger": trigger})
    assert r.status_code == status, text_of(r.text)[:800]
    return r


def test_a_council_applies_a_question_a_page_and_submits_with_evidence(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    assert lifecycle.show(site.engine, ref)["state"] == "draft"
    fill_bid(cllr, ref)
    attach(cllr, ref)

    check = text_of(cllr.get(f"/apply/{ref}").text)
    assert "Check your answers before sending your bid" in check
    assert "Kind of award Shared arrangement" in check
    assert "Amount asked for £250,000" in check
    assert "Annual savings £400,000.50" in check
    assert "Kind of shared arrangement Joint procurement" in check
    assert "Business case.pdf" in check
    sent = send(cllr, ref)

    assert sent.headers["location"] == f"/cases/{ref}"
    assert "We have emailed your organisation a receipt" in text_of(cllr.follow(sent).text)
    case = lifecycle.show(site.engine, ref)
    assert case["state"] == "submitted"
    assert case["application"]["amount"] == "250000.00"
    assert case["application"]["evidence"][0]["name"] == "Business case.pdf"
    with site.engine.connect() as conn:
        receipt = conn.execute(select(outbox).where(outbox.c.kind == "case.submitted")).one()
    assert receipt.case_ref == ref and "Joint procurement" in receipt.body_text
    assert "Amount asked for:\n£250,000" in receipt.body_text
    # a receipt says when: the moment it was sent, as the case's history shows it
    assert f"at {dates.moment(receipt.created_at)}. Keep this" in " ".join(
        receipt.body_text.split()
    )
    assert "Business case.pdf" in receipt.body_text
    carol = site.as_("carol")
    assert ref in text_of(carol.get("/inbox").text)
    shown = carol.get(f"/cases/{ref}").text
    assert "Evidence Business case.pdf" in text_of(shown) and "{&#39;name&#39;" not in shown
    sha = case["application"]["evidence"][0]["sha256"]
    assert carol.get(f"/apply/{ref}/evidence/{sha}").content == PDF  # staff download it too
    assert (
        cllr.get(f"/apply/{ref}/evidence/{case['application']['evidence'][0]['sha256']}").content
        == PDF
    )


def test_check_your_answers_lists_each_evidence_file_on_its_own(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    attach(cllr, ref)
    attach(cllr, ref, name="Letters.pdf", data=PDF.replace(b"%%EOF", b"% letters\n%%EOF"))

    check = cllr.get(f"/apply/{ref}").text

    # One item each: never "Business case.pdfLetters.pdf" run together.
    assert "<li>Business case.pdf</li><li>Letters.pdf</li>" in check
    assert "Evidence files Business case.pdf Letters.pdf Change" in text_of(check)


def test_a_file_attached_again_is_said_to_be_attached_already_and_nothing_written(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    attach(cllr, ref)
    before = site.world.snapshot()

    again = attach(cllr, ref, status=422)

    assert '<a href="#evidence">' in again.text
    said = text_of(again.text)
    assert f"Business case.pdf is already attached to {ref}'s application" in said
    assert "The document is the same" not in said
    assert site.world.snapshot() == before


def test_only_the_category_s_questions_are_asked(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    answer(cllr, ref, "category", {"category": "esg_top_up"})
    cllr.get(f"/apply/{ref}")
    asked = set(re.findall(rf'href="/apply/{ref}/(\w+)(?:\?change=1)?"', cllr.last)) - {
        "evidence",
        "change",
    }

    assert asked == {"category", "title", "partners", "amount", "further_and_faster"}
    assert cllr.get(f"/apply/{ref}/innovation").status_code == 404


def test_a_draft_is_kept_between_visits_and_seen_by_the_lead_council_alone(site, colleague):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    fill_bid(cllr, ref, BID_ANSWERS[1:3])  # the title and the partners
    assert f'href="/apply/{ref}"' in cllr.get(f"/cases/{ref}").text  # continue from the case

    # Later, and someone else at the same council: the draft is listed and carries on.
    listed = text_of(colleague.get("/apply").text)
    assert ref in listed and "Joint procurement hub" in listed
    assert ref in text_of(colleague.get("/returns").text)
    fill_bid(colleague, ref, BID_ANSWERS[3:])
    assert lifecycle.show(site.engine, ref)["application"]["innovation"].startswith("One buying")

    # A partner named in the draft, and another council, see nothing of it anywhere.
    for name in ("pat", "otto"):
        other = site.as_(name)
        assert ref not in other.get("/apply").text
        assert ref not in other.get("/cases").text
        assert f'href="/cases/{ref}"' not in other.get(f"/cases?q={ref}").text
        assert ref not in other.get("/returns").text
        for path in (
            f"/cases/{ref}",
            f"/apply/{ref}",
            f"/apply/{ref}/title",
            f"/apply/{ref}/evidence",
            f"/cases/{ref}/answer",
        ):
            assert other.get(path).status_code == 404, (name, path)
        other.get("/apply")
        before = site.world.snapshot()
        assert (
            other.post(f"/apply/{ref}/title", {"title": "Taken over", "version": "1"}).status_code
            == 404
        )
        assert site.world.snapshot() == before

    # Once submitted, the partner sees the case (not the apply pages: only the lead changes it).
    send(cllr, ref)
    pat = site.as_("pat")
    assert pat.get(f"/cases/{ref}").status_code == 200
    assert pat.get(f"/apply/{ref}").status_code == 404
    # The lead's own application pages now send them to the case's page: nothing is left
    # to change there.
    for path in ("", "/title", "/change", "/evidence"):
        went = cllr.get(f"/apply/{ref}{path}")
        assert (went.status_code, went.headers["location"]) == (303, f"/cases/{ref}"), path


@pytest.mark.parametrize(
    "name, typed, words",
    [
        ("amount", "£250,00", "Amount asked for must be an amount in pounds, like 250000"),
        ("amount", "250000.505", "Amount asked for must be an amount in pounds, like 250000"),
        ("amount", "", "Enter how much you are asking for"),
        ("title", "   ", "Enter the title of your application"),
        ("title", "A title\u202ewith a bidi control", "Title"),
    ],
)
def test_a_missing_or_malformed_answer_is_shown_at_its_field_kept_and_nothing_written(
    site, name, typed, words
):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    before = site.world.snapshot()

    refused = answer(cllr, ref, name, {name: typed}, status=400)

    assert '<div class="error-summary"' in refused.text
    assert f'<a href="#{name}">{words}' in refused.text
    if typed.strip():
        assert f'value="{typed}"' in refused.text  # what was typed is kept
    assert site.world.snapshot() == before


def test_the_first_question_unanswered_opens_nothing(site):
    cllr = site.as_("cllr")
    cllr.get("/apply/new/tca-2013")
    before = site.world.snapshot()

    refused = cllr.post("/apply/new/tca-2013", {})

    assert refused.status_code == 400
    assert '<a href="#category-0">Select the kind of award you are bidding for' in refused.text
    assert site.world.snapshot() == before


def test_submitting_an_unfinished_bid_is_refused_with_what_is_missing(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    before = site.world.snapshot()

    refused = send(cllr, ref, status=422)

    words = text_of(refused.text)
    assert "There is a problem" in words
    assert "the bid has no title" in words and "how much it asks for" in words
    assert site.world.snapshot() == before
    assert lifecycle.show(site.engine, ref)["state"] == "draft"


def test_a_refused_evidence_file_is_shown_at_its_field_and_nothing_written(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    before = site.world.snapshot()

    refused = attach(cllr, ref, "payload.exe", b"MZ\x90\x00", status=400)

    assert '<a href="#evidence">' in refused.text
    assert "payload.exe is not a type we accept" in text_of(refused.text)
    assert site.world.snapshot() == before


def test_the_council_answers_a_question_after_amending_two_fields(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    fill_bid(cllr, ref)
    send(cllr, ref)
    site.world.advance(ref, "check", "start_assessment")
    site.world.advance(
        ref,
        "ask_clarification",
        reason="How will the savings be shared between the three councils?",
    )

    page = text_of(cllr.get(f"/cases/{ref}/answer").text)
    assert "Answer the question about your bid" in page
    assert "How will the savings be shared between the three councils?" in page
    answer(
        cllr,
        ref,
        "title",
        {"title": "Joint procurement hub for the three districts", "change": "1"},
    )
    # Two more on the one change page: saved together, one version.
    form = cllr.get(f"/apply/{ref}/change")
    assert (
        'name="amount" type="text" inputmode="decimal" spellcheck="false" value="250000"'
        in form.text
    )
    fields = dict(BID_ANSWERS[i] for i in range(len(BID_ANSWERS)))
    typed = {
        **{k: v for d in fields.values() for k, v in d.items()},
        "title": "Joint procurement hub for the three districts",
        "amount": "240000",
        "innovation": "Savings shared by population.",
    }
    version = re.search(r'name="version" value="(\d+)"', form.text).group(1)
    refused = cllr.post(f"/apply/{ref}/change", {**typed, "amount": "", "version": version})
    assert refused.status_code == 400 and '<a href="#amount">' in refused.text
    saved = cllr.post(f"/apply/{ref}/change", {**typed, "version": version})
    assert saved.status_code == 303, text_of(saved.text)[:600]
    sent = send(cllr, ref)

    assert "Your answer is sent" in text_of(cllr.follow(sent).text)
    assert lifecycle.show(site.engine, ref)["state"] == "under_assessment"
    changed = [v["changed"] for v in applications.versions(site.engine, ref)][-2:]
    assert changed == [["title"], ["amount", "innovation"]]
    page = text_of(site.as_("ash").get(f"/cases/{ref}").text)
    assert "Amount asked for Changed" in page or "Amount Changed" in page


def test_an_answer_the_rules_of_submit_refuse_is_linked_to_the_answer_and_nothing_written(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    fill_bid(cllr, ref)
    send(cllr, ref)
    site.world.advance(ref, "check", "start_assessment")
    site.world.advance(ref, "ask_clarification", reason="Is the amount right?")
    answer(cllr, ref, "amount", {"amount": "600000", "change": "1"})  # saved: a version
    before = site.world.snapshot()

    refused = send(cllr, ref, status=422)

    # The band is the rule of submit that runs again: said in words, linked to the amount.
    assert '<a href="#answer-amount">' in refused.text
    words = text_of(refused.text)
    assert "Shared arrangement asks at most £500,000; this bid asks £600,000" in words
    assert "(amount)" not in words
    assert site.world.snapshot() == before
    assert lifecycle.show(site.engine, ref)["state"] == "clarification_requested"


def test_the_case_page_shows_the_question_and_the_council_answers_it_in_words_on_apply(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    fill_bid(cllr, ref)
    send(cllr, ref)
    site.world.advance(ref, "check", "start_assessment")
    question = "How will the savings be shared between the three councils?"
    site.world.advance(ref, "ask_clarification", reason=question)

    case_page = cllr.get(f"/cases/{ref}").text
    staff_page = text_of(site.as_("carol").get(f"/cases/{ref}").text)
    check = cllr.get(f"/apply/{ref}")
    version = re.search(r'name="version" value="(\d+)"', check.text).group(1)
    sent = cllr.post(
        f"/apply/{ref}/send",
        {"version": version, "trigger": "answer", "reason": "By population, as agreed."},
    )

    # The question is on the case page, for the council and the caseworker alike; the
    # council has one way to answer (its application's page), not a second button that
    # sends a bare "reason".
    assert f"The question you are asked {question}" in text_of(case_page)
    assert f"The question the council is asked {question}" in staff_page
    assert case_page.count("Answer the question") == 1
    assert 'value="answer"' not in case_page
    assert "Your answer (optional)" in text_of(check.text)
    assert sent.status_code == 303
    answered = [h for h in lifecycle.case_history(site.engine, ref) if h["trigger"] == "answer"]
    assert answered[-1]["reason"] == "By population, as agreed."


def test_a_network_area_expresses_interest_with_partners_and_service_areas(site):
    cllr = site.as_("cllr")
    cllr.get("/apply")
    first = cllr.follow(cllr.post("/apply", {"programme": "pstn-2013"}))
    assert "What is the title of your application?" in text_of(first.text)
    opened = cllr.post("/apply/new/pstn-2013", {"title": "Troubled families, one front door"})
    ref = re.search(r"/apply/(PSTN-2013-\d+)/", opened.headers["location"]).group(1)
    answer(
        cllr,
        ref,
        "service_areas",
        {"service_areas": "troubled families\n\nhealth and social care\n"},
    )
    answer(cllr, ref, "how_to_succeed", {"how_to_succeed": "One team across the county."})
    refused = answer(
        cllr,
        ref,
        "partners",
        {"partner-rows": "2", "partners-0-name": "", "partners-0-evidence": "A letter"},
        status=400,
    )
    assert '<a href="#partners-0-name">' in refused.text and 'value="A letter"' in refused.text
    answer(
        cllr,
        ref,
        "partners",
        {
            "partner-rows": "3",
            "partners-0-name": "County police",
            "partners-0-evidence": "Signed letter",
            "partners-1-name": "NHS trust",
            "partners-1-evidence": "Board minute",
        },
    )
    r = answer(cllr, ref, "contribution", {"contribution": "50000"})
    assert r.headers["location"] == f"/apply/{ref}/evidence"
    send(cllr, ref)

    case = lifecycle.show(site.engine, ref)
    assert case["state"] == "expression_of_interest"
    assert case["application"]["service_areas"] == ["troubled families", "health and social care"]
    assert case["application"]["partners"][1] == {"name": "NHS trust", "evidence": "Board minute"}


def test_only_a_council_person_applies(site):
    carol = site.as_("carol")
    assert carol.get("/apply").status_code == 403


def test_an_answer_saved_over_a_colleague_s_newer_one_is_refused_and_kept(site, colleague):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    cllr.get(f"/apply/{ref}/title")
    seen = re.search(r'name="version" value="(\d+)"', cllr.last).group(1)
    answer(colleague, ref, "title", {"title": "Cleo's title"})
    before = site.world.snapshot()

    stale = cllr.post(f"/apply/{ref}/title", {"title": "Cllr's title", "version": seen})

    assert stale.status_code == 409
    assert "has changed since you looked at it" in text_of(stale.text)
    assert 'value="Cllr&#39;s title"' in stale.text
    assert site.world.snapshot() == before
    assert lifecycle.show(site.engine, ref)["title"] == "Cleo's title"


def test_an_amount_is_taken_with_a_pound_sign_and_commas_as_people_write_it(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)

    answer(cllr, ref, "amount", {"amount": "£250,000"})
    before = site.world.snapshot()
    again = answer(cllr, ref, "amount", {"amount": "250000"})

    assert lifecycle.show(site.engine, ref)["application"]["amount"] == "250000.00"
    assert again.headers["location"] == f"/apply/{ref}/transitional_costs"
    assert site.world.snapshot() == before  # the same amount, written either way


def test_an_answer_saved_again_unchanged_writes_nothing(site):
    cllr = site.as_("cllr")
    ref = start_bid(cllr)
    answer(cllr, ref, "amount", {"amount": "250000.5"})
    before = site.world.snapshot()

    again = answer(cllr, ref, "amount", {"amount": "250000.50"})

    assert again.headers["location"] == f"/apply/{ref}/transitional_costs"
    assert site.world.snapshot() == before
