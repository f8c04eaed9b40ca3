"""A council applies and answers in a real browser (Chromium, driven by Playwright), axe on every page.

A council officer starts a shared-arrangement bid, stops, and carries on in a
second session (the draft kept); attaches evidence and submits. The caseworker
asks a question; the council follows the email's link, changes two answers
on the change page and answers; the assessor sees the two fields marked as
changed. The same for a network area's expression of interest.
"""

from __future__ import annotations

import re

import pytest

from tests.smtp_server import SmtpTestServer
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, shoot
from tests.web.site import PASSWORD, settings
from workflow.runtime import mail
from workflow.services import applications, lifecycle
from workflow.web import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: "
        "`apt-get install -y chromium` (scripts/test.sh does it) to run the journeys",
    ),
]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def axe():
    from axe_playwright_python.sync_playwright import Axe

    checker = Axe()

    def check(page, what: str) -> None:
        results = checker.run(page)
        assert results.violations_count == 0, f"{what}: {results.generate_report()}"

    return check


@pytest.fixture
def live(people):
    with LiveServer(create_app(people.engine, scheduler_every=None, settings=settings())) as server:
        yield server


def session(browser, live, name: str, start: str = "/sign-in"):
    """A new browser session, signed in as `name` (from `start`, which may ask to sign in)."""
    context = browser.new_context(base_url=live.url, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.goto(start)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return context, page


def save(page, axe, what: str) -> None:
    axe(page, what)
    page.get_by_role("button", name=re.compile("^Save")).click()


def emails(people, smtp, to: str) -> list:
    from concurrent.futures import ThreadPoolExecutor
    from notifications.transports import SmtpTransport

    with ThreadPoolExecutor(1) as pool:  # Playwright's loop lives in this thread
        pool.submit(
            lambda: mail.deliver(
                people.engine,
                transport=SmtpTransport(smtp.host, smtp.port, timeout=10),
                sender="casework@localhost",
            )
        ).result(timeout=60)
    return [r.message for r in smtp.messages_to(to)]


def test_a_council_applies_across_two_sessions_then_answers_a_question(
    people, moment, live, browser, axe, monkeypatch, tmp_path
):
    monkeypatch.setenv("CASEWORK_BASE_URL", live.url)
    evidence = tmp_path / "Business case.pdf"
    evidence.write_bytes(PDF)
    council = "returns@e07000026.example.gov.uk"

    # First session: the council starts a bid and stops after its partners.
    first, cllr = session(browser, live, "cllr")
    cllr.get_by_role("link", name="Apply").click()
    axe(cllr, "apply")
    cllr.get_by_label(re.compile("Transformation Challenge Award 2013")).check()
    cllr.get_by_role("button", name="Start").click()
    # On a phone, a radio beside a long hint keeps its size (it used to shrink to fit).
    cllr.set_viewport_size({"width": 390, "height": 900})
    widths = cllr.eval_on_selector_all(
        "input[name=category]", "els => els.map(e => e.getBoundingClientRect().width)"
    )
    assert len(set(widths)) == 1 and widths[0] >= 24, widths
    cllr.set_viewport_size({"width": 1100, "height": 900})
    cllr.get_by_label("Shared arrangement").check()
    save(cllr, axe, "the category")
    ref = re.search(r"/apply/(TCA-2013-\d+)/title", cllr.url).group(1)
    cllr.get_by_label("What is the title of your application?").fill("Joint procurement hub")
    save(cllr, axe, "the title")
    cllr.get_by_label("Council E07000028").check()
    cllr.get_by_label("Council E07000029").check()
    save(cllr, axe, "the partners")
    shoot(cllr, "apply-01-amount-question")
    first.close()

    # Second session: the draft is listed; the council carries on where it stopped.
    second, cllr = session(browser, live, "cllr", "/apply")
    assert ref in cllr.inner_text("main")
    cllr.get_by_role("link", name=ref).click()
    axe(cllr, "check your answers, half done")
    assert "Not answered yet" in cllr.inner_text("main")
    cllr.get_by_role("link", name="Answer amount asked for").click()
    cllr.get_by_label("How much are you asking for?").fill("£250,00")
    save(cllr, axe, "the amount")
    assert "There is a problem" in cllr.inner_text("main")  # refused, kept, linked
    assert cllr.get_by_label("How much are you asking for?").input_value() == "£250,00"
    axe(cllr, "the amount refused")
    shoot(cllr, "apply-02-amount-refused")
    cllr.get_by_label("How much are you asking for?").fill("250000")
    save(cllr, axe, "the amount")
    for label, value in (
        ("What are the estimated transitional costs?", "120000"),
        ("What savings do you expect each year?", "400000"),
    ):
        cllr.get_by_label(label).fill(value)
        save(cllr, axe, label)
    cllr.get_by_label("Joint procurement").check()
    save(cllr, axe, "the arrangement")
    cllr.get_by_label("What is innovative about your proposal?").fill("One buying team.")
    save(cllr, axe, "the innovation")
    axe(cllr, "evidence")
    cllr.get_by_label("Attach a file").set_input_files(str(evidence))
    cllr.get_by_role("button", name="Attach the file").click()
    assert "Business case.pdf is attached." in cllr.inner_text("main")
    axe(cllr, "evidence attached")
    cllr.get_by_role("button", name="Continue").click()
    axe(cllr, "check your answers")
    shoot(cllr, "apply-03-check-your-answers")
    cllr.get_by_role("button", name="Submit the bid").click()
    assert "We have emailed your organisation a receipt" in cllr.inner_text("main")
    axe(cllr, "the case, submitted")
    second.close()

    with SmtpTestServer() as smtp:
        receipt = [m for m in emails(people, smtp, council) if "we have received" in m["Subject"]]
        assert receipt and "Joint procurement hub" in receipt[0].get_body(("plain",)).get_content()

        # The caseworker finds it in the inbox and asks a question.
        _ctx, carol = session(browser, live, "carol", "/inbox")
        assert ref in carol.inner_text("main")
        people.advance(ref, "check", "start_assessment")
        carol.goto(f"/cases/{ref}")
        axe(carol, "case under assessment")
        carol.get_by_label(re.compile("^Your question for the council")).fill(
            "How will the savings be shared between the three councils?"
        )
        carol.get_by_role("button", name="Ask the council a question").click()
        assert people.state(ref) == "clarification_requested"

        asked = [
            m
            for m in emails(people, smtp, council)
            if ref in m["Subject"] and "question" in m["Subject"].lower()
        ]
    assert asked, "the council was not emailed the question"
    link = re.search(rf"{re.escape(live.url)}/\S+", asked[0].get_body(("plain",)).get_content())

    # The council follows the email's link, changes two answers on one page and answers.
    third, cllr = session(browser, live, "cllr", link.group(0))
    assert "How will the savings be shared" in cllr.inner_text("main")
    axe(cllr, "the question")
    shoot(cllr, "apply-04-the-question")
    cllr.get_by_role("link", name=re.compile("^Change your answers")).click()
    axe(cllr, "change your answers")
    cllr.get_by_label("How much are you asking for?").fill("240000")
    cllr.get_by_label("What is innovative about your proposal?").fill(
        "One buying team; savings shared by population."
    )
    cllr.get_by_role("button", name="Save your changes").click()
    assert "Your changes are saved." in cllr.inner_text("main")
    cllr.get_by_role("button", name="Answer the question").click()
    assert "Your answer is sent" in cllr.inner_text("main")
    axe(cllr, "the case, answered")
    third.close()
    assert people.state(ref) == "under_assessment"
    assert applications.versions(people.engine, ref)[-1]["changed"] == ["amount", "innovation"]

    # The assessor sees the two fields marked as changed.
    _ctx, ash = session(browser, live, "ash", f"/cases/{ref}")
    changed = ash.locator(".table__row--changed")
    assert changed.count() == 2
    rows = " ".join(changed.nth(i).inner_text() for i in range(2))
    assert "Amount" in rows and "Innovation" in rows
    axe(ash, "the case, with what changed")
    shoot(ash, "apply-05-assessor-sees-changes")


def test_a_network_area_expresses_interest_across_two_sessions_then_answers_a_question(
    people, moment, live, browser, axe, monkeypatch, tmp_path
):
    monkeypatch.setenv("CASEWORK_BASE_URL", live.url)
    evidence = tmp_path / "Partners' letters.pdf"
    evidence.write_bytes(PDF)

    first, cllr = session(browser, live, "cllr", "/apply")
    cllr.get_by_label(re.compile("Public Service Transformation Network 2013")).check()
    cllr.get_by_role("button", name="Start").click()
    cllr.get_by_label("What is the title of your application?").fill("One front door for families")
    save(cllr, axe, "the title")
    ref = re.search(r"/apply/(PSTN-2013-\d+)/", cllr.url).group(1)
    cllr.get_by_label("Which service areas will you reform?").fill(
        "troubled families\nhealth and social care"
    )
    save(cllr, axe, "the service areas")
    first.close()

    second, cllr = session(browser, live, "cllr", "/apply")
    cllr.get_by_role("link", name=ref).click()
    cllr.get_by_role("link", name="Answer how you will succeed").click()
    cllr.get_by_label("How can your area succeed?").fill("One team across the county.")
    save(cllr, axe, "how to succeed")
    for n, (name, proof) in enumerate(
        (("County police", "Signed letter"), ("NHS trust", "Board minute"))
    ):
        cllr.get_by_label(f"Name of the partner body (partner {n + 1})").fill(name)
        cllr.get_by_label(f"Evidence that it is bought in (partner {n + 1})").fill(proof)
    save(cllr, axe, "the partners")
    cllr.get_by_label("What will you contribute to the network's running costs?").fill("50000")
    save(cllr, axe, "the contribution")
    cllr.get_by_label("Attach a file").set_input_files(str(evidence))
    cllr.get_by_role("button", name="Attach the file").click()
    cllr.get_by_role("button", name="Continue").click()
    axe(cllr, "check your answers")
    cllr.get_by_role("button", name="Submit the expression of interest").click()
    assert "We have emailed your organisation a receipt" in cllr.inner_text("main")
    second.close()

    case = lifecycle.show(people.engine, ref)
    assert case["state"] == "expression_of_interest"
    assert case["application"]["evidence"][0]["name"] == "Partners' letters.pdf"
    with SmtpTestServer() as smtp:
        council = "returns@e07000026.example.gov.uk"
        receipt = [m for m in emails(people, smtp, council) if "we have received" in m["Subject"]]
        assert receipt and "County police" in receipt[0].get_body(("plain",)).get_content()
        _ctx, carol = session(browser, live, "carol", "/inbox")
        assert ref in carol.inner_text("main")
        axe(carol, "inbox with the expression of interest")
        people.advance(ref, "start_assessment")
        carol.goto(f"/cases/{ref}")
        carol.get_by_label(re.compile("^Your question for the council")).fill(
            "Which service will the police run, and what will the county put in?"
        )
        carol.get_by_role("button", name="Ask the council a question").click()
        asked = [
            m
            for m in emails(people, smtp, council)
            if ref in m["Subject"] and "question" in m["Subject"].lower()
        ]
    assert asked, "the council was not emailed the question"
    link = re.search(rf"{re.escape(live.url)}/\S+", asked[0].get_body(("plain",)).get_content())

    third, cllr = session(browser, live, "cllr", link.group(0))
    assert "Which service will the police run" in cllr.inner_text("main")
    axe(cllr, "the question about the expression of interest")
    cllr.get_by_role("link", name=re.compile("^Change your answers")).click()
    axe(cllr, "change your answers")
    cllr.get_by_label("How can your area succeed?").fill(
        "One team across the county; the police run the front door."
    )
    cllr.get_by_label("What will you contribute to the network's running costs?").fill("60000")
    cllr.get_by_role("button", name="Save your changes").click()
    cllr.get_by_role("button", name="Answer the question").click()
    assert "Your answer is sent" in cllr.inner_text("main")
    third.close()
    assert people.state(ref) == "under_assessment"

    _ctx, ash = session(browser, live, "ash", f"/cases/{ref}")
    changed = ash.locator(".table__row--changed")
    assert changed.count() == 2
    axe(ash, "the expression of interest, with what changed")
    shoot(ash, "apply-06-assessor-sees-area-changes")
