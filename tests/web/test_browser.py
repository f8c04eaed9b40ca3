"""Journeys in a real browser (Chromium, driven by Playwright), checked by axe-core on every page.

A council officer follows the reminder's link, signs in and submits the
return with a file; the caseworker finds it in the inbox and accepts it; the
auditor opens the case and sees both rows and an intact chain. Two approvers
offer against the same last funds: one is refused, with the balance shown.
"""

from __future__ import annotations

import re

import pytest

from tests.smtp_server import SmtpTestServer
from tests.web.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, shoot
from tests.web.site import (
    PASSWORD,
    SMALL_ROUND,
    bid_in_monitoring,
    open_return,
    recommended_bid,
    settings,
)
from workflow.services import assessment, monitoring
from workflow.runtime import mail
from workflow.services import programme_files as programme_store
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

    checker, seen = Axe(), []

    def check(page, what: str) -> None:
        results = checker.run(page)
        seen.append(what)
        assert results.violations_count == 0, f"{what}: {results.generate_report()}"

    check.seen = seen
    return check


@pytest.fixture
def live(people):
    with LiveServer(create_app(people.engine, scheduler_every=None, settings=settings())) as server:
        yield server


def person(browser, live, *, javascript: bool = True):
    context = browser.new_context(
        base_url=live.url, java_script_enabled=javascript, viewport={"width": 1100, "height": 900}
    )
    return context, context.new_page()


def sign_in(page, name: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_return_from_reminder_to_accepted_and_audited(
    people, moment, live, browser, axe, monkeypatch, tmp_path
):
    monkeypatch.setenv("CASEWORK_BASE_URL", live.url)
    ref = bid_in_monitoring(people)
    with SmtpTestServer() as smtp:
        due = open_return(people, moment, ref)
        _in_a_thread(
            lambda: mail.deliver(people.engine, transport=_smtp(smtp), sender="casework@localhost")
        )
        received = smtp.messages_to("returns@e07000026.example.gov.uk")
    opened = [r.message for r in received if "monitoring return is open" in r.message["Subject"]]
    link = re.search(
        r"http://127\.0\.0\.1:\d+/returns/\S+", opened[0].get_body(("plain",)).get_content()
    )
    evidence = tmp_path / "Q1 spend and savings.pdf"
    evidence.write_bytes(PDF)

    # The council officer, with JavaScript turned off: the reminder's link, sign-in, the return.
    council_ctx, council = person(browser, live, javascript=False)
    council.goto(link.group(0))
    assert council.url.startswith(f"{live.url}/sign-in?next=/returns/{ref}/Q1")
    shoot(council, "01-sign-in")
    sign_in(council, "cllr")
    assert council.url == f"{live.url}/returns/{due}"
    shoot(council, "02-council-return-open")
    council.get_by_label("Spend to date", exact=True).fill("125000")
    council.get_by_label("Savings to date (optional)").fill("40000.50")
    council.get_by_label("Progress", exact=True).fill("The shared team started in July.")
    council.get_by_label("Evidence file (optional)").set_input_files(str(evidence))
    council.get_by_role("button", name="Submit the return").click()
    assert f"The return {due} has been submitted with {evidence.name}." in council.inner_text(
        "main"
    )
    shoot(council, "03-council-return-submitted")
    _audit_with_javascript(browser, live, axe, [f"/returns/{due}"], "cllr")

    # The caseworker: the inbox, the return, accept.
    _ctx, carol = person(browser, live)
    carol.goto("/inbox")
    sign_in(carol, "carol")
    assert carol.url == f"{live.url}/inbox"
    submitted = carol.locator(
        "section", has=carol.get_by_role("heading", name=re.compile("Returns submitted"))
    )
    assert "1" in submitted.locator(".count").inner_text()
    axe(carol, "inbox")
    shoot(carol, "04-caseworker-inbox")
    submitted.get_by_role("link", name=due).click()
    axe(carol, "return, submitted")
    shoot(carol, "05-caseworker-return")
    carol.get_by_role("button", name="Accept the return").click()
    assert f"The return {due} is now accepted." in carol.inner_text("main")
    axe(carol, "return, accepted")
    carol.goto(f"/cases/{ref}")
    axe(carol, "case")
    shoot(carol, "06-caseworker-case")

    # The auditor: search, the case, its history with an intact chain.
    _ctx, audrey = person(browser, live)
    audrey.goto("/sign-in")
    sign_in(audrey, "audrey")
    assert audrey.url == f"{live.url}/cases"
    axe(audrey, "cases")
    audrey.get_by_label("Reference or title").fill(ref)
    audrey.get_by_role("button", name="Search").click()
    axe(audrey, "case search")
    audrey.get_by_role("link", name=ref, exact=True).click()
    axe(audrey, "case, as an auditor")
    audrey.get_by_role("link", name="Check this history's chain of hashes").click()
    page_text = audrey.inner_text("main")
    assert "The chain holds" in page_text
    rows = audrey.locator("tbody tr")
    cells = [rows.nth(i).inner_text() for i in range(rows.count())]
    assert any("Q1: Send the return" in c and "cllr" in c for c in cells)
    assert any("Q1: Accept the return" in c and "carol" in c for c in cells)
    assert all("✓ Intact" in c for c in cells)
    axe(audrey, "audit of a case")
    shoot(audrey, "07-auditor-history")
    council_ctx.close()
    assert monitoring.get_checkpoint(people.engine, due)["state"] == "accepted"


def _audit_with_javascript(browser, live, axe, paths, name):
    """axe-core runs in the page, so the pages the no-script journey saw are checked here."""
    ctx, page = person(browser, live)
    page.goto("/sign-in")
    axe(page, "sign-in")
    sign_in(page, name)
    for path in paths:
        page.goto(path)
        axe(page, path)
    page.goto("/returns")
    axe(page, "your returns")
    ctx.close()


def _in_a_thread(work) -> None:
    """Playwright's sync API keeps an event loop in this thread; delivery runs its own."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(work).result(timeout=60)


def _smtp(server):
    from notifications.transports import SmtpTransport

    return SmtpTransport(server.host, server.port, timeout=10)


def test_two_approvers_offer_against_the_last_funds_and_one_is_refused_with_the_balance(
    people, moment, live, browser, axe
):
    with people.engine.begin() as conn:
        programme_store.load(conn, SMALL_ROUND, "small.toml")
    first = recommended_bid(people, programme="tca-tiny")
    second = recommended_bid(people, programme="tca-tiny")
    _ctx, april = person(browser, live)
    _ctx, aaron = person(browser, live)
    april.goto("/programmes/tca-tiny/ranking")
    sign_in(april, "april")
    aaron.goto(f"/cases/{second}")
    sign_in(aaron, "aaron")
    axe(april, "ranking")
    shoot(april, "08-approver-ranking")
    axe(aaron, "case with an offer to make")

    april.get_by_role("button", name=f"Offer {first}").click()
    aaron.get_by_role("button", name="Offer the award").click()

    assert "£250,000" in april.inner_text("main")  # committed after the first offer
    axe(april, "ranking after an offer")
    summary = aaron.locator(".error-summary").inner_text()
    assert "would commit £500,000, past the fund's £400,000 (£150,000 remains)" in summary
    assert "The fund has £150,000 remaining of £400,000" in aaron.inner_text("main")
    axe(aaron, "refused offer")
    shoot(aaron, "09-approver-offer-refused")
    assert people.state(first) == "award_offered" and people.state(second) == "recommended"


def test_an_assessor_declares_and_scores_and_the_caseworker_moderates(people, live, browser, axe):
    ref = people.bid()
    people.advance(ref, "submit", "check", "start_assessment")
    for name in ("ash", "asha"):
        _ctx, page = person(browser, live)
        page.goto(f"/cases/{ref}/assessment")
        sign_in(page, name)
        axe(page, f"assessment, before {name} declares")
        page.get_by_label("No, I have no conflict of interest").check()
        page.get_by_role("button", name="Record my declaration").click()
        for criterion, mark in (
            ("Level of innovation", "4"),
            ("Transitional costs", "3"),
            ("Prospective savings", "4"),
        ):
            page.get_by_role("group", name=re.compile(criterion)).get_by_label(
                mark, exact=True
            ).check()
        axe(page, f"assessment, {name} scoring")
        page.get_by_role("button", name="Record my scores").click()
        assert "Your scores are recorded." in page.inner_text("main")
        if name == "ash":
            shoot(page, "11-assessor-scored")
    _ctx, carol = person(browser, live)
    carol.goto(f"/cases/{ref}")
    sign_in(carol, "carol")
    carol.get_by_role("button", name="Moderate the scores").click()

    assert f"{ref} is now Moderated." in carol.inner_text("main")
    axe(carol, "case, moderated")


def test_an_assessor_who_scored_declares_a_conflict_found_since(people, live, browser, axe):
    ref = people.bid()
    people.advance(ref, "submit", "check", "start_assessment")
    assessment.declare(people.engine, ref, "ash", conflict=False)
    assessment.score(people.engine, ref, "ash", innovation=4, costs=3, savings=4)
    _ctx, page = person(browser, live)
    page.goto(f"/cases/{ref}/assessment")
    sign_in(page, "ash")
    axe(page, "assessment, after scoring")

    page.get_by_role("button", name="Declare a conflict of interest").click()
    assert "needs its reason: say what the conflict is" in page.inner_text(".error-summary")
    page.get_by_label("What is the conflict?").fill("My partner now works for the lead council.")
    page.get_by_role("button", name="Declare a conflict of interest").click()

    main = page.inner_text("main")
    assert "You declared a conflict of interest: My partner now works for the lead council." in main
    assert re.search(r"ash\s+set aside", main)
    axe(page, "assessment, score set aside")
    shoot(page, "12-assessor-late-conflict")


def test_signing_in_and_moving_around_with_the_keyboard_only(people, live, browser, axe):
    _ctx, page = person(browser, live)
    page.goto("/sign-in")

    page.keyboard.press("Tab")
    skip = page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # past the service name, to the first field
    page.keyboard.type("carol")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live.url}/inbox")

    assert skip == "Skip to main content"
    outline = page.evaluate("""() => { const a = document.querySelector('.nav__link');
        a.focus(); return getComputedStyle(a).backgroundColor; }""")
    assert outline == "rgb(255, 221, 0)"  # focus is shown in yellow, as GOV.UK does
    axe(page, "inbox by keyboard")


def test_a_refused_form_puts_its_problems_first_and_links_each_to_its_field(
    people, moment, live, browser, axe
):
    ref = bid_in_monitoring(people)
    due = open_return(people, moment, ref)
    _ctx, page = person(browser, live)
    page.goto(f"/returns/{due}")
    sign_in(page, "cllr")

    page.get_by_label("Spend to date", exact=True).fill("a thousand")
    page.get_by_role("button", name="Submit the return").click()
    page.locator(".error-summary a").first.click()

    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.id") == "spend_to_date"
    axe(page, "return with an error")
    shoot(page, "10-return-with-an-error")


def test_a_second_approver_countersigns_and_the_first_then_offers(
    people, moment, live, browser, axe
):
    ref = recommended_bid(people)  # £250,000: above the £100,000 threshold
    _ctx, april = person(browser, live)
    _ctx, aaron = person(browser, live)
    april.goto("/inbox")
    sign_in(april, "april")
    aaron.goto(f"/cases/{ref}")
    sign_in(aaron, "aaron")

    assert "Recommended bids to countersign" in april.inner_text("main")
    axe(april, "approver's inbox: a bid to countersign")
    axe(aaron, "case to countersign")
    aaron.get_by_role("button", name="Countersign the offer").click()
    assert people.state(ref) == "recommended"
    axe(aaron, "case after the countersignature")
    shoot(aaron, "10-approver-countersigned")

    april.goto("/inbox")
    april.get_by_role("link", name=ref).first.click()
    axe(april, "case to offer, countersigned")
    april.get_by_role("button", name="Offer the award").click()

    assert people.state(ref) == "award_offered"
    axe(april, "case offered")
    shoot(april, "11-approver-offered-after-countersignature")
