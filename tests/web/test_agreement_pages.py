"""The grant agreement on the web: read before accepting, every version kept; variations."""

from __future__ import annotations

import hashlib
from io import BytesIO

from pypdf import PdfReader

import re
from datetime import timedelta

import pytest

from tests.web.site import bid_in_monitoring, recommended_bid, text_of
from workflow import clock
from workflow.services import agreements, lifecycle, variations
from workflow.services.calendar import london_day

# The new end date's three boxes (GOV.UK date input), left empty: the end is kept.
NO_END = {"variation-end-day": "", "variation-end-month": "", "variation-end-year": ""}


def highlighted(page_html: str, date: str) -> list[str]:
    """The boxes of a date input shown in error."""
    return re.findall(rf'input--error" id="{date}-(day|month|year)"', page_html)


def offered(world) -> str:
    ref = recommended_bid(world)
    world.advance(ref, "offer", by="april")
    return ref


def test_the_council_reads_the_agreement_and_accepts_it_from_its_page(site):
    ref = offered(site.world)
    cllr = site.as_("cllr")

    case_page = text_of(cllr.get(f"/cases/{ref}").text)
    page = cllr.get(f"/cases/{ref}/agreement")

    assert "Read the grant agreement and accept it" in case_page
    assert page.status_code == 200
    words = text_of(page.text)
    assert "Grant agreement, version 1" in words and "£250,000" in words
    assert "Conditions" in words and "Payment schedule" in words and "Accept the award" in words
    version = str(lifecycle.show(site.engine, ref)["version"])
    assert f'name="version" value="{version}"' in page.text
    accepted = cllr.post(f"/cases/{ref}/advance", {"trigger": "accept", "version": version})
    assert accepted.status_code == 303
    listed = agreements.listing(site.engine, ref)
    assert listed["accepted_version"]["version"] == 1
    assert "Version 1 (SHA-256" in text_of(cllr.get(f"/cases/{ref}").text)


def test_the_pdf_is_served_as_kept_and_every_version_stays_readable(site):
    ref = bid_in_monitoring(site.world)
    vref = variations.propose(
        site.engine, ref, amount="300000", reason="Two more districts.", actor="cllr"
    )["ref"]
    variations.countersign(site.engine, vref, "april")  # above £100,000: a second approver
    variations.decide(site.engine, vref, "approve", "aaron")
    cllr = site.as_("cllr")

    first = cllr.get(f"/cases/{ref}/agreement.pdf?version=1")
    second = cllr.get(f"/cases/{ref}/agreement.pdf")
    old_page = text_of(cllr.get(f"/cases/{ref}/agreement?version=1").text)

    assert first.headers["content-type"] == "application/pdf"
    versions = agreements.listing(site.engine, ref)["versions"]
    assert hashlib.sha256(first.content).hexdigest() == versions[0]["sha256"]
    assert hashlib.sha256(second.content).hexdigest() == versions[1]["sha256"]
    assert "£300,000" in PdfReader(BytesIO(second.content)).pages[0].extract_text()
    assert "Accepted by the council" in old_page and "£250,000" in old_page
    assert "The latest version" in text_of(cllr.get(f"/cases/{ref}/agreement").text)
    assert cllr.get(f"/cases/{ref}/agreement?version=9").status_code == 404
    assert cllr.get(f"/cases/{ref}/agreement?version=x").status_code == 400


def test_another_council_cannot_read_the_agreement(site):
    ref = offered(site.world)
    otto = site.as_("otto")

    assert otto.get(f"/cases/{ref}/agreement").status_code == 404
    assert otto.get(f"/cases/{ref}/agreement.pdf").status_code == 404


def test_a_variation_proposed_and_approved_on_the_case_page(site):
    ref = bid_in_monitoring(site.world)
    cllr, aaron = site.as_("cllr"), site.as_("aaron")

    proposed = cllr.post(
        f"/cases/{ref}/variations",
        {
            "variation-amount": "300000",
            **NO_END,
            "variation-reason": "Two more districts join.",
        },
    )
    variations.countersign(site.engine, f"{ref}/V1", "april")  # above £100,000
    page = text_of(aaron.get(f"/cases/{ref}").text)
    decided = aaron.post(
        f"/cases/{ref}/variations/1/decide", {"decision": "approve", "reason": "", "version": "2"}
    )

    assert proposed.status_code == 303
    assert "Variations" in page and "Awaiting a decision" in page
    assert "Approve the variation" in page
    assert decided.status_code == 303
    after = text_of(aaron.follow(decided).text)
    assert f"{ref}/V1 is now approved; agreement version 2 is drawn up." in after
    assert lifecycle.show(site.engine, ref)["amount"] == "300000.00"


def test_an_approver_is_offered_only_the_decisions_on_a_variation_that_can_succeed(site):
    ref = bid_in_monitoring(site.world)  # an award of £250,000
    variations.propose(site.engine, ref, amount="240000", reason="Less is needed.", actor="cllr")
    below = site.as_("aaron").get(f"/cases/{ref}").text
    variations.decide(site.engine, f"{ref}/V1", "reject", "aaron", reason="Keep the award.")
    variations.propose(site.engine, ref, amount="300000", reason="More is needed.", actor="cllr")
    above = site.as_("aaron").get(f"/cases/{ref}").text

    # A cut needs no countersignature: approving and rejecting are offered, countersigning
    # is not, and the page says why (it was a button that could only be refused).
    assert 'name="decision" value="approve"' in below
    assert 'name="decision" value="reject"' in below
    assert 'name="decision" value="countersign"' not in below
    assert "Countersign the variation: " in text_of(below) and "needs no countersignature" in below
    # A rise above the threshold is countersigned before it can be approved.
    assert 'name="decision" value="countersign"' in above
    assert 'name="decision" value="approve"' not in above
    assert "Approve the variation: " in text_of(above)


def test_a_refused_variation_on_the_page_says_why_and_writes_nothing(site):
    ref = bid_in_monitoring(site.world)
    cllr = site.as_("cllr")

    refused = cllr.post(
        f"/cases/{ref}/variations",
        {"variation-amount": "lots", **NO_END, "variation-reason": "More."},
    )

    assert refused.status_code == 400
    assert "amount" in text_of(refused.text)
    assert variations.list_variations(site.engine, case=ref) == []


@pytest.mark.parametrize(
    "amount, said",
    [
        ("250,000", "the award is already £250,000: give the new total"),
        ("0", "£0 is not an award; to end the award, an approver terminates it"),
        (
            "900000",
            "Shared arrangement awards are at most £500,000: a total of £900,000 is more than "
            "the programme allows",
        ),
    ],
)
def test_a_variation_that_varies_nothing_is_refused_on_the_page_saying_why(site, amount, said):
    ref = bid_in_monitoring(site.world)
    before = site.world.snapshot()

    refused = site.as_("cllr").post(
        f"/cases/{ref}/variations",
        {"variation-amount": amount, **NO_END, "variation-reason": "More districts."},
    )

    assert refused.status_code == 422
    assert f'<a href="#variations">The variation of {ref} was refused: {said}.</a>' in (
        refused.text
    )
    assert f'value="{amount.replace(",", "")}"' in refused.text  # what was typed is kept
    assert site.world.snapshot() == before  # no history row, no email
    assert variations.list_variations(site.engine, case=ref) == []


def test_a_new_end_date_the_award_already_has_is_refused_on_the_page(site):
    ref = bid_in_monitoring(site.world)
    end = london_day(clock.now()) + timedelta(days=400)
    variations.propose(site.engine, ref, end=end.isoformat(), reason="Later.", actor="cllr")
    variations.decide(site.engine, f"{ref}/V1", "approve", "aaron")
    before = site.world.snapshot()
    typed = {
        "variation-end-day": str(end.day),
        "variation-end-month": str(end.month),
        "variation-end-year": str(end.year),
    }

    refused = site.as_("cllr").post(
        f"/cases/{ref}/variations", {**typed, "variation-reason": "Later again."}
    )

    assert refused.status_code == 422
    assert "give a new end date, or leave it out" in text_of(refused.text)
    assert site.world.snapshot() == before
    assert len(variations.list_variations(site.engine, case=ref)) == 1


def test_a_variation_without_its_reason_is_asked_for_it_at_the_field_in_words(site):
    ref = bid_in_monitoring(site.world)
    cllr = site.as_("cllr")

    refused = cllr.post(
        f"/cases/{ref}/variations",
        {"variation-amount": "£260,000", **NO_END, "variation-reason": " "},
    )

    assert refused.status_code == 400
    assert '<a href="#variation-reason">Enter what changes and why</a>' in refused.text
    assert 'value="260000"' in refused.text  # what was typed is kept
    assert "--reason" not in refused.text
    assert "There is nothing you can do on this case now" not in text_of(refused.text)
    assert variations.list_variations(site.engine, case=ref) == []


def test_a_new_end_date_is_typed_as_day_month_and_year_and_goes_to_the_service(site):
    ref = bid_in_monitoring(site.world)
    cllr = site.as_("cllr")
    page = cllr.get(f"/cases/{ref}").text
    end = london_day(clock.now()) + timedelta(days=400)

    proposed = cllr.post(
        f"/cases/{ref}/variations",
        {
            "variation-end-day": str(end.day),
            "variation-end-month": end.strftime("%b"),  # a month may be written as a name
            "variation-end-year": f" {end.year} ",
            "variation-reason": "The works take longer.",
        },
    )

    assert '<legend class="fieldset__legend">New end date (optional)</legend>' in page
    for box in ("Day", "Month", "Year"):
        assert f">{box}</label>" in page
    assert 'name="variation-end-day" type="text" inputmode="numeric"' in page
    assert proposed.status_code == 303, text_of(proposed.text)
    (made,) = variations.list_variations(site.engine, case=ref)
    assert made["end_on"] == end.isoformat()


@pytest.mark.parametrize(
    "day, month, year, said, link, boxes",
    [
        ("30", "", "2030", "End date must include a month", "month", ["month"]),
        ("", "6", "", "End date must include a day and year", "day", ["day", "year"]),
        ("31", "2", "2030", "End date must be a real date", "day", ["day", "month", "year"]),
        ("30", "13", "2030", "End date must be a real date", "month", ["month"]),
        ("30", "6", "30", "End date must be a real date", "year", ["year"]),
    ],
)
def test_an_end_date_that_is_not_a_date_is_refused_at_its_boxes_kept_as_typed(
    site, day, month, year, said, link, boxes
):
    ref = bid_in_monitoring(site.world)
    typed = {"variation-end-day": day, "variation-end-month": month, "variation-end-year": year}

    refused = site.as_("cllr").post(
        f"/cases/{ref}/variations", {**typed, "variation-reason": "Longer works."}
    )

    assert refused.status_code == 400
    assert f'<a href="#variation-end-{link}">{said}</a>' in refused.text  # the summary
    assert f'id="variation-end-error"><span class="visually-hidden">Error:</span> {said}' in (
        refused.text
    )  # and at the field, its boxes in error highlighted
    assert highlighted(refused.text, "variation-end") == boxes
    for name, value in typed.items():
        assert f'name="{name}" type="text" inputmode="numeric" value="{value}"' in refused.text
    assert 'value="Longer works."' in refused.text or "Longer works." in refused.text
    assert variations.list_variations(site.engine, case=ref) == []


@pytest.mark.parametrize("days", [0, -1])
def test_an_end_date_not_in_the_future_is_refused_at_its_boxes_in_gov_uk_words(site, days):
    """The service's rule (a new end date after today) said as the Design System says it,
    in the summary linked to the day box and at the field with every box highlighted, not
    with ISO dates in the variations section; what was typed is kept."""
    ref = bid_in_monitoring(site.world)
    end = london_day(clock.now()) + timedelta(days=days)
    typed = {
        "variation-end-day": str(end.day),
        "variation-end-month": str(end.month),
        "variation-end-year": str(end.year),
    }

    refused = site.as_("cllr").post(
        f"/cases/{ref}/variations", {**typed, "variation-reason": "Shorter works."}
    )

    said = "End date must be in the future"
    assert refused.status_code == 400
    assert f'<a href="#variation-end-day">{said}</a>' in refused.text
    assert f'id="variation-end-error"><span class="visually-hidden">Error:</span> {said}' in (
        refused.text
    )
    assert highlighted(refused.text, "variation-end") == ["day", "month", "year"]
    assert end.isoformat() not in text_of(refused.text) and "is not after today" not in (
        refused.text
    )
    for name, value in typed.items():
        assert f'name="{name}" type="text" inputmode="numeric" value="{value}"' in refused.text
    assert "Shorter works." in refused.text
    assert variations.list_variations(site.engine, case=ref) == []


def test_an_offer_from_the_case_page_draws_its_pdf_before_taking_the_write_lock(site, monkeypatch):
    from tests.workflow.test_agreements import _drawing_spy, _sqlite_path, _write_without_waiting

    if not site.engine.url.drivername.startswith("sqlite"):
        return
    ref = recommended_bid(site.world)
    site.world.countersign(ref, offering="april")
    drawn = _drawing_spy(monkeypatch, lambda n: _write_without_waiting(_sqlite_path(site.engine)))
    version = str(lifecycle.show(site.engine, ref)["version"])

    done = site.as_("april").post(f"/cases/{ref}/advance", {"trigger": "offer", "version": version})

    assert done.status_code == 303
    assert lifecycle.show(site.engine, ref)["state"] == "award_offered"
    assert len(drawn) == 1
    assert [v["version"] for v in agreements.listing(site.engine, ref)["versions"]] == [1]


def test_an_approval_on_the_case_page_draws_its_pdf_ahead_and_keeps_the_pdf_it_serves(
    site, monkeypatch
):
    from tests.workflow.test_agreements import _drawing_spy, _sqlite_path, _write_without_waiting

    if not site.engine.url.drivername.startswith("sqlite"):
        return
    ref = bid_in_monitoring(site.world)
    variations.propose(site.engine, ref, amount="300000", reason="Two more.", actor="cllr")
    variations.countersign(site.engine, f"{ref}/V1", "april")  # above £100,000
    path = _sqlite_path(site.engine)
    drawn = _drawing_spy(monkeypatch, lambda n: _write_without_waiting(path))
    aaron = site.as_("aaron")

    decided = aaron.post(
        f"/cases/{ref}/variations/1/decide", {"decision": "approve", "reason": "", "version": "2"}
    )

    assert decided.status_code == 303
    assert len(drawn) == 1  # before the write lock: another connection wrote meanwhile
    pdf = aaron.get(f"/cases/{ref}/agreement.pdf?version=2")
    listed = agreements.listing(site.engine, ref)["versions"]
    assert [v["version"] for v in listed] == [1, 2]
    assert hashlib.sha256(pdf.content).hexdigest() == listed[1]["sha256"]
