"""Payments on the web: the case's schedule, finance's payments to pay, an approver's to
approve, a council's own; refusals shown on the page and nothing written."""

from __future__ import annotations

from tests.web.site import PASSWORD, bid_in_monitoring, text_of
from workflow.services import passwords
from tests.workflow.payments_world import snapshot
from workflow.services import payments


def finance(site) -> None:
    site.world.person("fiona", "finance")
    passwords.sample_passwords(site.engine, password=PASSWORD)


def test_an_approver_approves_finance_pays_and_the_council_sees_it_paid(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    pay = f"{ref}/P1"

    schedule = text_of(site.as_("cllr").get(f"/cases/{ref}").text)
    assert "Payment schedule" in schedule and "When the agreement is accepted" in schedule
    assert "When the Q2 return is accepted" in schedule and "Not yet due" in schedule

    april = site.as_("aaron")
    to_approve = april.get("/payments")
    assert pay in text_of(to_approve.text) and "Payments to approve" in text_of(to_approve.text)
    approved = april.post(f"/cases/{ref}/payments/1/approve", {"version": "1", "then": "/payments"})
    assert approved.status_code == 303 and approved.headers["location"] == "/payments"

    fiona = site.as_("fiona")
    inbox = fiona.get("/payments")
    assert "Approved payments to pay" in text_of(inbox.text) and pay in text_of(inbox.text)
    paid = fiona.post(
        f"/cases/{ref}/payments/1/pay",
        {"version": "2", "reference": "BACS 2013/0042", "then": "/payments"},
    )
    assert paid.status_code == 303
    assert payments.get_payment(site.engine, pay)["state"] == "paid"

    ours = text_of(site.as_("cllr").get("/payments").text)
    assert pay in ours and "Paid" in ours and "BACS 2013/0042" in ours
    assert "Fell due" in ours and "Due since" not in ours  # reads true of a paid payment too
    figures = text_of(site.as_("carol").get("/programmes").text)
    assert "Paid" in figures and "£125,000" in figures


def test_a_refused_payment_is_said_on_the_page_and_writes_nothing(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    payments.move(site.engine, f"{ref}/P1", "approve", "aaron")
    before = snapshot(site.world)
    answer = site.as_("fiona").post(
        f"/cases/{ref}/payments/1/pay", {"version": "2", "reference": "BACS\u00071"}
    )
    assert answer.status_code in (400, 422)
    assert "remittance reference" in text_of(answer.text)
    assert snapshot(site.world) == before
    own = site.as_("carol").post(f"/cases/{ref}/payments/1/approve", {"version": "2"})
    assert own.status_code in (403, 409)
    assert snapshot(site.world) == before


def test_finance_paying_from_the_list_is_asked_for_the_reference_there_and_comes_back_to_it(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    payments.move(site.engine, f"{ref}/P1", "approve", "aaron")
    fiona = site.as_("fiona")
    fiona.get("/payments")
    before = snapshot(site.world)

    blank = fiona.post(
        f"/cases/{ref}/payments/1/pay", {"version": "2", "reference-P1": " ", "then": "/payments"}
    )
    refused = fiona.post(
        f"/cases/{ref}/payments/1/pay",
        {"version": "2", "reference-P1": "BACS\u00071", "then": "/payments"},
    )
    assert snapshot(site.world) == before
    paid = fiona.post(
        f"/cases/{ref}/payments/1/pay",
        {"version": "2", "reference-P1": "BACS 2013/0042", "then": "/payments"},
    )

    # The refusals are the payments page again, each at the payment's own field.
    assert blank.status_code == 400 and "Approved payments to pay" in text_of(blank.text)
    assert f'<a href="#reference-P1">Enter the remittance reference for {ref}/P1</a>' in blank.text
    assert 'id="reference-P1-error"' in blank.text
    assert refused.status_code in (400, 422)
    assert "Approved payments to pay" in text_of(refused.text)
    assert paid.status_code == 303 and paid.headers["location"] == "/payments"
    assert payments.get_payment(site.engine, f"{ref}/P1")["state"] == "paid"


def test_a_blank_remittance_reference_on_the_case_page_is_asked_for_at_its_field(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    payments.move(site.engine, f"{ref}/P1", "approve", "aaron")
    fiona = site.as_("fiona")
    fiona.get(f"/cases/{ref}")
    before = snapshot(site.world)

    blank = fiona.post(f"/cases/{ref}/payments/1/pay", {"version": "2", "reference-P1": ""})

    assert blank.status_code == 400
    assert f'<a href="#reference-P1">Enter the remittance reference for {ref}/P1</a>' in blank.text
    assert snapshot(site.world) == before


def test_finance_downloads_the_approved_payments_as_a_payment_run(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    payments.move(site.engine, f"{ref}/P1", "approve", "aaron")
    fiona = site.as_("fiona")

    listed = fiona.get("/payments")
    run = fiona.get("/payments/run.csv")

    assert '<a href="/payments/run.csv" download>' in listed.text
    assert run.status_code == 200 and run.headers["content-type"].startswith("text/csv")
    assert "attachment" in run.headers["content-disposition"]
    lines = run.text.splitlines()
    assert lines[0] == "payee_code,org_id,name,amount,reference,case"
    assert len(lines) == 2 and lines[1].endswith(f",{ref}/P1,{ref}")
    assert site.as_("aaron").get("/payments/run.csv").status_code == 403


def test_a_bid_not_yet_offered_an_award_shows_no_payment_schedule(site):
    """Payments exist from the offer on (DESIGN.md section 8): a submitted or recommended bid
    has no schedule and nothing "paid so far"; the offer brings it."""
    from tests.web.site import recommended_bid

    submitted = site.world.bid()
    site.world.advance(submitted, "submit")
    recommended = recommended_bid(site.world)
    carol = site.as_("carol")

    for ref in (submitted, recommended):
        said = text_of(carol.get(f"/cases/{ref}").text)
        assert "Payment schedule" not in said and "Paid so far" not in said
    site.world.advance(recommended, "offer", by="april")
    offered = text_of(carol.get(f"/cases/{recommended}").text)
    assert "Payment schedule" in offered and "Paid so far: £0 of £250,000" in offered


def test_the_pages_offer_no_payment_move_that_would_be_refused(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    site.world.person("cara", "caseworker", "approver")
    passwords.sample_passwords(site.engine, password=PASSWORD)
    from workflow.services import assignment

    assignment.assign(site.engine, ref, "cara", "carol")
    approve = f'action="/cases/{ref}/payments/1/approve"'
    # Its own caseworker, an approver too, is not offered the approval another must give.
    assert approve not in site.as_("cara").get("/payments").text
    assert approve not in site.as_("cara").get(f"/cases/{ref}").text
    assert approve in site.as_("aaron").get("/payments").text
    # A suspended case's held payment: its release waits for the case's reinstatement.
    site.world.advance(ref, "suspend", by="cara", reason="Return missing")
    page = site.as_("cara").get(f"/cases/{ref}").text
    assert "Held" in text_of(page)
    assert f'action="/cases/{ref}/payments/1/release"' not in page


def test_the_history_says_which_payment_and_which_variation_each_row_is_about(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    payments.move(site.engine, f"{ref}/P1", "approve", "aaron")
    from workflow.services import variations

    variations.propose(site.engine, ref, reason="A fourth district joins the hub.", actor="cllr")
    for who, path in (("carol", f"/cases/{ref}"), ("carol", f"/audit/{ref}")):
        page = text_of(site.as_(who).get(path).text)
        # A case holds several payments and variations: each of their rows names its own.
        assert "P1: Payment due" in page and "P1: Approve the payment" in page, path
        assert "V1: Variation proposed" in page, path


def test_a_terminated_awards_recovery_is_on_its_case_page(site):
    ref = bid_in_monitoring(site.world)
    finance(site)
    payments.move(site.engine, f"{ref}/P1", "approve", "aaron")
    payments.move(site.engine, f"{ref}/P1", "pay", "fiona", reference="BACS 1")
    site.world.advance(ref, "suspend", reason="No return")
    site.world.advance(ref, "terminate", by="aaron", reason="No return for a year")
    payments.recover(site.engine, ref, "100000", "carol")

    for who in ("carol", "cllr"):
        page = text_of(site.as_(who).get(f"/cases/{ref}").text)
        assert "Recovery" in page and "to recover £25,000" in page, who
        assert "Paid £125,000; eligible spend £100,000" in page
    history = text_of(site.as_("carol").get(f"/cases/{ref}").text)
    assert "Recovery recorded" in history  # and its row in the case's history
