"""A browser journey (Chromium, Playwright, axe-core): the council reads its grant agreement and
accepts it; an approver then varies the award and both versions stay readable."""

from __future__ import annotations

import pytest

from tests.web.live import CHROMIUM, LiveServer, shoot
from tests.web.site import recommended_bid, settings
from tests.web.test_browser import axe, browser, person, sign_in  # noqa: F401,F811 (fixtures)
from workflow.services import agreements, lifecycle
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
    council.get_by_label("New total amount (optional)").fill("300000")
    council.get_by_label("What changes and why (required)").fill("Two more districts join.")
    council.get_by_role("button", name="Propose the variation").click()
    assert f"{ref}/V1 is proposed" in council.inner_text("main")
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
