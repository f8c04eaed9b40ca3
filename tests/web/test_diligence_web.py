"""Due diligence on the web (DESIGN.md section 9): the checklist on the case page, and a
caseworker recording a check; a browser journey to the bid found eligible (axe clean)."""

from __future__ import annotations

import pytest

from tests.web.site import text_of

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n"


# Councils under the names the register of English councils gives them.
COUNCILS = {
    "E07000030": "Eden District Council",
    "E07000031": "South Lakeland District Council",
    "E07000027": "Barrow-in-Furness Borough Council",
}


def _submitted(world) -> str:
    for code, name in COUNCILS.items():
        world.org(code, name=name)
    ref = world.bid(lead="E07000030", partners=["E07000031", "E07000027"])
    world.advance(ref, "submit")
    return ref


def test_the_case_page_shows_the_checklist_and_what_is_still_needed(site):
    ref = _submitted(site.world)

    page = text_of(site.as_("carol").get(f"/cases/{ref}").text)

    assert "Due diligence" in page
    assert (
        "Still needed before the bid can be found eligible: Fraud risk is not recorded yet" in page
    )
    assert "Lead is a council" in page and "Run by casework" in page
    assert "Record the check" in page
    # Check eligibility is not offered until every check has passed, and says why.
    assert "Check eligibility: Fraud risk is not recorded yet" in page
    # A page names checks by their labels; the codes are the command line's (DESIGN 12).
    assert "fraud_risk" not in page


def test_a_bid_that_stopped_before_its_checks_passed_is_not_told_what_is_still_needed(site):
    """Ineligible, it has nothing left to do: no "still needed before it can be found
    eligible ... or declare it ineligible", and no schedule of payments that will never be."""
    ref = _submitted(site.world)
    site.world.advance(ref, "declare_ineligible", reason="Fraud risk not evidenced.")

    page = text_of(site.as_("carol").get(f"/cases/{ref}").text)

    assert "Due diligence" in page and "Not every check passed" in page
    assert "Still needed" not in page and "declare " + ref not in page
    assert "Payment schedule" not in page and "Waits for its event" not in page


def test_a_caseworker_records_a_check_and_the_bid_can_then_be_checked(site):
    ref = _submitted(site.world)
    carol = site.as_("carol")
    carol.get(f"/cases/{ref}")

    done = carol.post(
        f"/cases/{ref}/diligence",
        {
            "check": "fraud_risk",
            "result": "pass",
            "rating": "low",
            "evidence": "Bank details confirmed with the s151 officer.",
        },
        files={"evidence-file": ("checks.pdf", PDF, "application/pdf")},
    )

    assert done.status_code == 303
    page = text_of(carol.follow(done).text)
    assert f"Recorded on {ref}: Fraud risk, passed." in page
    assert "Pass, recorded by carol" in page and "Rated low" in page
    assert "Evidence file: checks.pdf" in page
    assert "Every check has passed: the bid can be found eligible." in page
    checked = carol.post(f"/cases/{ref}/advance", {"trigger": "check", "version": "2"})
    assert checked.status_code == 303 and site.world.state(ref) == "eligible"
    # The history says which check each row recorded and how it came out, as the command
    # line's does, on the case page and the case's audit page alike.
    for path in (f"/cases/{ref}", f"/audit/{ref}"):
        shown = text_of(carol.get(path).text)
        assert "Due diligence recorded: Fraud risk, passed" in shown
        assert "Due diligence recorded: Lead is a council, passed" in shown


@pytest.mark.parametrize(
    "data,who,status,words",
    [
        (
            {"check": "fraud_risk", "result": "pass", "evidence": "ok"},
            "carol",
            400,
            "Select the rating of fraud risk: low, medium or high",
        ),
        (
            {"check": "no_duplicate_bid", "result": "pass", "rating": "low", "evidence": "ok"},
            "carol",
            400,
            "No duplicate bid is passed or failed, not rated: choose No rating",
        ),
        (
            {"check": "fraud_risk", "rating": "low", "evidence": "ok"},
            "carol",
            400,
            "Select whether the check passed or failed",
        ),
        (
            {"check": "fraud_risk", "result": "pass", "rating": "low", "evidence": " "},
            "carol",
            400,
            "Enter the evidence: what the result rests on",
        ),
        (
            {"check": "fraud_risk", "result": "pass", "rating": "low", "evidence": "ok\x1b"},
            "carol",
            400,
            "evidence",
        ),
        (
            {"check": "made_up", "result": "pass", "evidence": "ok"},
            "carol",
            422,
            "'made_up' is not a due-diligence check of tca-2013",
        ),
        (
            {"check": "fraud_risk", "result": "pass", "rating": "low", "evidence": "ok"},
            "april",
            403,
            "only a caseworker may",
        ),
    ],
)
def test_a_bad_record_is_refused_on_the_page_and_writes_nothing(site, data, who, status, words):
    ref = _submitted(site.world)
    visitor = site.as_(who)
    visitor.get(f"/cases/{ref}")
    before = site.world.snapshot()

    refused = visitor.post(f"/cases/{ref}/diligence", data)

    assert refused.status_code == status
    assert words in text_of(refused.text)
    assert site.world.snapshot() == before


def test_a_record_left_empty_names_each_field_in_words_at_that_field(site):
    ref = _submitted(site.world)
    carol = site.as_("carol")
    carol.get(f"/cases/{ref}")

    refused = carol.post(f"/cases/{ref}/diligence", {"check": "fraud_risk", "evidence": ""})

    assert refused.status_code == 400
    for field, words in (
        ("result", "Select whether the check passed or failed"),
        ("rating", "Select the rating of fraud risk: low, medium or high"),
        ("evidence", "Enter the evidence: what the result rests on"),
    ):
        assert f'<a href="#{field}">{words}</a>' in refused.text
        assert f'id="{field}-error"' in refused.text
    assert "fraud_risk" not in text_of(refused.text)


def test_declaring_a_bid_ineligible_after_a_failed_check_names_the_check_in_words(site):
    first = site.world.bid()
    site.world.advance(first, "submit")
    ref = site.world.bid(title="The same hub again")
    site.world.advance(ref, "submit")
    carol = site.as_("carol")

    confirm = carol.get(f"/cases/{ref}/confirm?trigger=declare_ineligible&version=2")

    assert confirm.status_code == 200
    page = text_of(confirm.text)
    assert (
        f'Failed the due diligence check "No duplicate bid": Council E07000026 '
        f"already has a bid in Shared arrangement in Transformation Challenge Award 2013 "
        f"({first})" in page
    )
    assert "no_duplicate_bid" not in page  # the reason is emailed to the council as written


def test_a_council_person_sees_no_checklist(site):
    ref = site.world.bid()
    site.world.advance(ref, "submit")
    page = text_of(site.as_("cllr").get(f"/cases/{ref}").text)
    assert "Due diligence" not in page


# --- in a real browser ----------------------------------------------------------------------
@pytest.mark.slow
def test_a_caseworker_records_the_checks_and_marks_the_bid_eligible_in_a_browser(people, tmp_path):
    from tests.web.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, shoot
    from tests.web.site import PASSWORD, settings
    from workflow.web import create_app

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    first = people.bid()
    people.advance(first, "submit")
    for code, name in COUNCILS.items():
        people.org(code, name=name)
    # The same lead's second shared arrangement: a duplicate, and one of its councils
    # named as no council in the register is (both overridable, with evidence).
    ref = people.bid(title="A second procurement hub", partners=["E07000031"])
    people.advance(ref, "submit")
    evidence = tmp_path / "bank-letter.pdf"
    evidence.write_bytes(PDF)
    checker = Axe()

    def axe(page, what):
        results = checker.run(page)
        assert results.violations_count == 0, f"{what}: {results.generate_report()}"

    with (
        LiveServer(create_app(people.engine, scheduler_every=None, settings=settings())) as live,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for width in (1100, 390):
            context = browser.new_context(
                base_url=live.url, viewport={"width": width, "height": 900}
            )
            page = context.new_page()
            page.goto(f"/cases/{ref}")
            page.get_by_label("Name").fill("carol")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            axe(page, f"case page with its checklist at {width}px")
            width_used = page.evaluate("document.documentElement.scrollWidth")
            assert width_used <= max(width, 390), f"{width_used}px wide at {width}px"
            context.close()

        context = browser.new_context(base_url=live.url, viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.goto(f"/cases/{ref}")
        page.get_by_label("Name").fill("carol")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        main = page.inner_text("main")
        assert "No duplicate bid failed" in main and "no_duplicate_bid" not in main
        assert "Check eligibility" not in [b.inner_text() for b in page.get_by_role("button").all()]

        # A record with no evidence is refused, with the problem linked to its field.
        page.get_by_label("Check", exact=True).select_option(label="Fraud risk")
        page.get_by_label("Pass", exact=True).check()
        page.get_by_label("Rating").select_option(label="Low")
        page.get_by_role("button", name="Record the check").click()
        assert "Enter the evidence: what the result rests on" in page.inner_text(".error-summary")
        axe(page, "a refused record")

        for check, rating, words, upload in (
            ("Fraud risk", "Low", "Bank details confirmed with the s151 officer.", True),
            ("No duplicate bid", None, "A different service: the first bid is for waste.", False),
            (
                "In the register of English councils",
                None,
                "Allerdale, Carlisle and Copeland are district councils of Cumbria.",
                False,
            ),
        ):
            page.get_by_label("Check", exact=True).select_option(label=check)
            page.get_by_label("Pass", exact=True).check()
            page.get_by_label("Rating").select_option(label=rating or "No rating")
            page.get_by_label("Evidence: what the result rests on").fill(words)
            if upload:
                page.get_by_label("Evidence file (optional)").set_input_files(str(evidence))
            page.get_by_role("button", name="Record the check").click()
            assert f"Recorded on {ref}: {check}" in page.inner_text("main")
        main = page.inner_text("main")
        assert "Every check has passed: the bid can be found eligible." in main
        assert "Evidence file: bank-letter.pdf" in main
        axe(page, "every check passed")
        shoot(page, "20-caseworker-due-diligence")

        page.get_by_role("button", name="Check eligibility").click()
        assert f"{ref} is now Eligible." in page.inner_text("main")
        axe(page, "bid found eligible")
        context.close()
        browser.close()
    assert people.state(ref) == "eligible"
