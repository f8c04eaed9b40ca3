"""A browser journey (Chromium, Playwright, axe-core): the council reads its grant agreement and
accepts it; an approver then varies the award and both versions stay readable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.web.live import CHROMIUM, LiveServer, shoot
from tests.web.site import recommended_bid, settings
from tests.web.test_browser import axe, browser, person, sign_in  # noqa: F401,F811 (fixtures)
from workflow import clock
from workflow.services import agreements, lifecycle, variations
from workflow.services.calendar import london_day
from workflow.web import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM}: "
        "`apt-get install -y chromium` (scripts/test.sh does it) to run the journeys",
    ),
]


@pytest.fixture
def live(people):
    with LiveServer(create_app(people.engine, scheduler_every=None, settings=settings())) as server:
        yield server


def test_the_council_reads_the_agreement_then_accepts_it(
    people,
    moment,
    live,
    browser,  # noqa: F811
    axe,
):  # noqa: F811
    ref = recommended_bid(people)
    people.advance(ref, "offer", by="april")

    _ctx, council = person(browser, live)
    council.goto(f"/cases/{ref}")
    sign_in(council, "cllr")
    axe(council, "case, offered")
    council.get_by_role("link", name="Read the grant agreement and accept it").click()
    assert council.url == f"{live.url}/cases/{ref}/agreement"
    text = council.inner_text("main")
    assert "Grant agreement, version 1" in text and "Conditions" in text
    assert "£250,000" in text
    axe(council, "agreement, to accept")
    shoot(council, "agreement-01-to-accept")
    council.get_by_role("button", name="Accept the award").click()
    assert f"{ref} is now In monitoring." in council.inner_text("main")
    axe(council, "case, accepted")
    assert lifecycle.show(people.engine, ref)["state"] == "in_monitoring"
    assert agreements.listing(people.engine, ref)["accepted_version"]["version"] == 1

    # The council proposes a variation; an approver approves it; version 2 is drawn up.
    # The new end date is typed in its three boxes; a day February lacks is refused there.
    council.get_by_label("New total amount (optional)").fill("300000")
    council.get_by_label("What changes and why (required)").fill("Two more districts join.")
    end_date = council.get_by_role("group", name="New end date (optional)")
    end = london_day(clock.now()) + timedelta(days=400)
    end_date.get_by_label("Day").fill("30")
    end_date.get_by_label("Month").fill("2")
    end_date.get_by_label("Year").fill(str(end.year))
    council.get_by_role("button", name="Propose the variation").click()
    summary = council.locator(".error-summary")
    assert summary.inner_text().splitlines()[-1] == "End date must be a real date"
    axe(council, "case, variation end date refused")
    summary.get_by_role("link", name="End date must be a real date").click()
    assert council.evaluate("document.activeElement.id") == "variation-end-day"
    assert end_date.get_by_label("Year").input_value() == str(end.year)
    assert council.get_by_label("New total amount (optional)").input_value() == "300000"
    end_date.get_by_label("Day").fill(str(end.day))
    end_date.get_by_label("Month").fill(str(end.month))
    council.get_by_role("button", name="Propose the variation").click()
    assert f"{ref}/V1 is proposed" in council.inner_text("main")
    (proposed,) = variations.list_variations(people.engine, case=ref)
    assert proposed["end_on"] == end.isoformat()
    axe(council, "case, variation proposed")

    # £300,000 is above the £100,000 countersignature threshold: a second approver signs first.
    _ctx3, second = person(browser, live)
    second.goto(f"/cases/{ref}")
    sign_in(second, "april")
    axe(second, "case, variation to countersign")
    second.get_by_role("button", name="Countersign the variation V1").click()
    assert f"{ref}/V1 is countersigned" in second.inner_text("main")

    _ctx2, approver = person(browser, live)
    approver.goto(f"/cases/{ref}")
    sign_in(approver, "aaron")
    axe(approver, "case, variation to decide")
    approver.get_by_role("button", name="Approve the variation V1").click()
    assert "agreement version 2 is drawn up" in approver.inner_text("main")
    approver.goto(f"/cases/{ref}/agreement?version=1")
    assert "£250,000" in approver.inner_text("main")
    axe(approver, "agreement, version 1")
    approver.goto(f"/cases/{ref}/agreement")
    assert "£300,000" in approver.inner_text("main")
    axe(approver, "agreement, version 2")
    shoot(approver, "agreement-02-version-2")
