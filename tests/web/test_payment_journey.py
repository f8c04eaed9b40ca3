"""A payment's journey in a real browser, checked by axe-core on every page: the council's
returns are accepted, an approver approves the Q2 tranche, finance pays it with its
remittance reference, and the council sees it paid."""

from __future__ import annotations

import pytest

from tests.web.site import PASSWORD, bid_in_monitoring, open_return
from tests.web.test_browser import axe, browser, live, person, sign_in  # noqa: F401 (fixtures)
from tests.web.live import CHROMIUM
from workflow.services import monitoring, passwords, payments

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]
FIGURES = {"spend_to_date": "60000", "progress": "Shared team in post."}


def test_returns_accepted_an_approver_approves_finance_pays_the_council_sees_it_paid(
    people, moment, live, browser, axe
):  # noqa: F811
    people.person("fiona", "finance")
    passwords.sample_passwords(people.engine, password=PASSWORD)
    ref = bid_in_monitoring(people)
    for n in (1, 2):
        q = open_return(people, moment, ref, n)
        monitoring.submit_return(people.engine, q, "cllr", figures=FIGURES)
        monitoring.decide_return(people.engine, q, "accept", "carol")
    p2 = f"{ref}/P2"
    assert payments.get_payment(people.engine, p2)["state"] == "due"

    _ctx, aaron = person(browser, live)
    aaron.goto("/payments")
    sign_in(aaron, "aaron")
    assert p2 in aaron.inner_text("main")
    axe(aaron, "payments to approve")
    aaron.get_by_role("button", name=f"Approve the payment {p2}").click()
    assert f"{p2} is now approved" in aaron.inner_text("main")
    axe(aaron, "payments after an approval")

    _ctx, fiona = person(browser, live)
    fiona.goto("/payments")
    sign_in(fiona, "fiona")
    assert "Approved payments to pay" in fiona.inner_text("main")
    axe(fiona, "approved payments to pay")
    fiona.get_by_label(f"Remittance reference for {p2}").fill("BACS 2014/0042")
    fiona.get_by_role("button", name=f"Record the payment {p2}").click()
    assert f"{p2} is now paid" in fiona.inner_text("main")
    axe(fiona, "payments after paying")

    _ctx, council = person(browser, live)
    council.goto("/payments")
    sign_in(council, "cllr")
    ours = council.inner_text("main")
    assert p2 in ours and "BACS 2014/0042" in ours and "Paid" in ours
    axe(council, "the council's payments")
    council.goto(f"/cases/{ref}")
    assert "Payment schedule" in council.inner_text("main")
    axe(council, "case with its payment schedule")
    assert payments.get_payment(people.engine, p2)["reference"] == "BACS 2014/0042"
