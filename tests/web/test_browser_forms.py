"""The forms no other browser journey sends, sent from Chromium with JavaScript off.

Each is reached by clicking, filled by its label and sent by its button, so it carries the token
its own page printed and only what a browser sends: a caseworker suspends and reinstates an award
and an approver terminates it, each through the confirmation page; a caseworker queries one
return and waives another, records the annual review and a network area's contribution (typed as
people write money), hands a case over, holds and releases a payment and sends undelivered
messages again; an approver approves a payment on the case page; a council declines an offer,
withdraws a bid and removes a file it attached.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.web.live import CHROMIUM, CHROMIUM_ARGS, LiveServer
from tests.web.site import (
    PASSWORD,
    area_under_assessment,
    bid_in_monitoring,
    open_return,
    settings,
)
from workflow.runtime.sweep import sweep
from workflow.services import controls, lifecycle, monitoring, passwords, payments, reviews
from workflow.web import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: "
        "`apt-get install -y chromium` (scripts/test.sh does it) to run the journeys",
    ),
]
FIGURES = {"spend_to_date": "60000", "progress": "Shared team in post."}
EXPIRED = "This form has expired"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live(people):
    with LiveServer(create_app(people.engine, scheduler_every=None, settings=settings())) as server:
        yield server


def signed_in(browser, live, name: str, start: str):
    """A browser without JavaScript, signed in as `name` from `start` (which asks to sign in)."""
    context = browser.new_context(
        base_url=live.url, java_script_enabled=False, viewport={"width": 1100, "height": 900}
    )
    page = context.new_page()
    page.goto(start)
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith(start), page.url
    return page


def said(page) -> str:
    words = page.inner_text("main")
    assert EXPIRED not in words, words[:400]
    return words


def test_a_caseworker_suspends_reinstates_and_terminates_an_award_on_its_confirmation_page(
    people, live, browser
):
    ref = bid_in_monitoring(people)
    carol = signed_in(browser, live, "carol", f"/cases/{ref}")

    carol.get_by_role("button", name=re.compile("^Suspend")).click()
    assert "/confirm" in carol.url
    carol.get_by_label(re.compile("^Reason")).fill("The council has not sent its bank details.")
    carol.get_by_role("button", name=re.compile("^Yes, suspend")).click()
    assert f"{ref} is now Suspended" in said(carol)
    assert people.state(ref) == "suspended"

    carol.get_by_role("button", name=re.compile("^Reinstate")).click()
    assert f"{ref} is now In monitoring" in said(carol)
    assert people.state(ref) == "in_monitoring"

    carol.get_by_role("button", name=re.compile("^Suspend")).click()
    carol.get_by_label(re.compile("^Reason")).fill("No return for two quarters.")
    carol.get_by_role("button", name=re.compile("^Yes, suspend")).click()
    assert people.state(ref) == "suspended"

    april = signed_in(browser, live, "april", f"/cases/{ref}")
    april.get_by_role("button", name=re.compile("^Terminate")).click()
    april.get_by_role("button", name=re.compile("^Yes, terminate")).click()
    assert "Give the reason for ‘Terminate the award’" in said(april)  # asked again, nothing done
    assert people.state(ref) == "suspended"
    april.get_by_label(re.compile("^Reason")).fill("The council has left the arrangement.")
    april.get_by_role("button", name=re.compile("^Yes, terminate")).click()
    assert f"{ref} is now Terminated" in said(april)
    assert people.state(ref) == "terminated"


def test_a_caseworker_queries_one_return_and_waives_another(people, moment, live, browser):
    ref = bid_in_monitoring(people)
    q1 = open_return(people, moment, ref, 1)
    monitoring.submit_return(people.engine, q1, "cllr", figures=FIGURES)
    carol = signed_in(browser, live, "carol", f"/returns/{q1}")

    carol.get_by_label("Reason to query (required)").fill("Spend is below the plan: why?")
    carol.get_by_role("button", name=re.compile("^Query")).click()
    assert f"The return {q1} is now queried." in said(carol)
    assert monitoring.get_checkpoint(people.engine, q1)["state"] == "queried"

    q2 = f"{ref}/Q2"
    carol.goto(f"/returns/{q2}")
    carol.get_by_role("button", name=re.compile("^Waive the return")).click()
    assert f"/returns/{q2}/waive" in carol.url
    carol.get_by_label("Reason to waive (required)").fill("The award ends before it is due.")
    carol.get_by_role("button", name="Yes, waive the return").click()
    assert f"The return {q2} is now waived." in said(carol)
    assert monitoring.get_checkpoint(people.engine, q2)["state"] == "waived"


def test_a_caseworker_records_the_annual_review(people, moment, live, browser, monkeypatch):
    monkeypatch.setattr(controls, "sro_of", lambda conn, programme: "april")
    ref = bid_in_monitoring(people)
    for cp in monitoring.list_checkpoints(people.engine, case=ref):
        monitoring.decide_return(people.engine, cp["ref"], "waive", "carol", reason="Not needed.")
    moment.set(moment.at + timedelta(days=370))
    sweep(people.engine)
    carol = signed_in(browser, live, "carol", f"/cases/{ref}")

    carol.get_by_label(re.compile("^Continue")).check()
    carol.get_by_label("Why (required)", exact=True).fill("Returns in, spend as planned.")
    carol.get_by_role("button", name="Record the review").click()
    assert "annual review R1 recorded" in said(carol)
    assert reviews.list_reviews(people.engine, case=ref)[0]["decision"] == "continue"


def test_a_caseworker_records_an_areas_contribution_and_hands_the_case_over(people, live, browser):
    people.person("dev", "caseworker")
    passwords.sample_passwords(people.engine, password=PASSWORD, names=["dev"])
    ref = area_under_assessment(people)
    carol = signed_in(browser, live, "carol", f"/cases/{ref}")

    carol.get_by_label("Contribution agreed, in pounds").fill("£45,000")
    carol.get_by_role("button", name="Record the contribution").click()
    assert f"The contribution agreed with {ref} is recorded: £45,000." in said(carol)

    carol.get_by_label("Caseworker", exact=True).select_option("dev")
    carol.get_by_label("Note for the new caseworker (optional)").fill("Yours from Monday.")
    carol.get_by_role("button", name="Hand the case over").click()
    assert "now assigned to dev" in said(carol)


def test_an_approver_approves_a_payment_on_the_case_page(people, moment, live, browser):
    ref = bid_in_monitoring(people)
    for n in (1, 2):
        q = open_return(people, moment, ref, n)
        monitoring.submit_return(people.engine, q, "cllr", figures=FIGURES)
        monitoring.decide_return(people.engine, q, "accept", "carol")
    p2 = f"{ref}/P2"
    aaron = signed_in(browser, live, "aaron", f"/cases/{ref}")
    aaron.get_by_role("button", name=f"Approve the payment {p2}").click()
    assert f"{p2} is now approved" in said(aaron)
    assert payments.get_payment(people.engine, p2)["state"] == "approved"


def test_a_caseworker_sends_an_undelivered_message_again_from_the_inbox_and_the_outbox(
    people, live, browser
):
    from sqlalchemy import func, select, update

    from workflow.storage.tables import outbox

    ref = bid_in_monitoring(people)
    with people.engine.begin() as conn:
        first, second = conn.execute(
            select(outbox.c.id).where(outbox.c.case_ref == ref).order_by(outbox.c.id).limit(2)
        ).scalars()
        conn.execute(
            update(outbox)
            .where(outbox.c.id.in_([first, second]))
            .values(state="dead", last_error="550 no such mailbox")
        )
    carol = signed_in(browser, live, "carol", "/inbox")
    carol.get_by_role("button", name=f"Send again message {first}").click()
    assert "1 message will be sent again" in said(carol)
    carol.goto("/outbox")
    carol.get_by_role("button", name="Send all 1 again").click()
    assert "1 message will be sent again" in said(carol)
    with people.engine.begin() as conn:
        assert not conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.state == "dead")
        ).scalar()


def test_a_council_removes_a_file_it_attached(people, live, browser, tmp_path):
    doc = people.bid_document()
    ref = lifecycle.open_case(people.engine, "bid", doc, "cllr", draft=True)["ref"]
    cllr = signed_in(browser, live, "cllr", f"/apply/{ref}/evidence")
    pdf = tmp_path / "Business case.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n")
    cllr.get_by_label("Attach a file").set_input_files(str(pdf))
    cllr.get_by_role("button", name="Attach the file").click()
    assert "Business case.pdf" in said(cllr)
    cllr.get_by_role("button", name="Remove Business case.pdf").click()
    assert "Business case.pdf is removed." in said(cllr)
    assert cllr.get_by_role("button", name="Remove Business case.pdf").count() == 0
    assert not lifecycle.show(people.engine, ref)["application"].get("evidence")


def test_a_caseworker_holds_a_payment_with_a_reason_and_releases_it(people, moment, live, browser):
    ref = bid_in_monitoring(people)
    for n in (1, 2):
        q = open_return(people, moment, ref, n)
        monitoring.submit_return(people.engine, q, "cllr", figures=FIGURES)
        monitoring.decide_return(people.engine, q, "accept", "carol")
    p2 = f"{ref}/P2"
    carol = signed_in(browser, live, "carol", f"/cases/{ref}")
    carol.get_by_role("button", name=f"Hold the payment {p2}").click()
    assert f"'Hold the payment' on {p2} needs one" in said(carol)
    assert payments.get_payment(people.engine, p2)["state"] == "due"
    carol.get_by_label(f"Why hold {p2} (required)").fill("The council's bank details changed.")
    carol.get_by_role("button", name=f"Hold the payment {p2}").click()
    assert f"{p2} is now held" in said(carol)
    assert payments.get_payment(people.engine, p2)["state"] == "held"
    carol.get_by_role("button", name=re.compile("^Release")).click()
    assert f"{p2} is now due" in said(carol)
    assert payments.get_payment(people.engine, p2)["state"] == "due"


def test_a_council_declines_an_offer_and_withdraws_a_bid_on_their_confirmation_pages(
    people, live, browser
):
    from tests.web.site import recommended_bid

    offered = recommended_bid(people)
    people.advance(offered, "offer", by="april")
    submitted = people.bid()
    people.advance(submitted, "submit", by="cllr")
    cllr = signed_in(browser, live, "cllr", f"/cases/{offered}")
    cllr.get_by_role("button", name=re.compile("^Decline")).click()
    cllr.get_by_label(re.compile("^Reason")).fill("The partners could not agree the terms.")
    cllr.get_by_role("button", name=re.compile("^Yes, decline")).click()
    assert f"{offered} is now Declined" in said(cllr)
    assert people.state(offered) == "declined"

    cllr.goto(f"/cases/{submitted}")
    cllr.get_by_role("button", name=re.compile("^Withdraw")).click()
    cllr.get_by_label(re.compile("^Reason")).fill("We will apply in the next round.")
    cllr.get_by_role("button", name=re.compile("^Yes, withdraw")).click()
    assert f"{submitted} is now Withdrawn" in said(cllr)
    assert people.state(submitted) == "withdrawn"
