"""The pages speak to people: labels for codes, times as "2:56am", people's paragraphs, the
statements every service links to, the mail that was sent, and a ranking that adds up.

Each test here failed before issue 22's change to the pages.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from notifications.transports import FileTransport
from tests.web.site import Site, area_under_assessment, bid_in_monitoring, recommended_bid, text_of
from workflow.services import areas
from workflow.runtime import mail


def test_times_read_as_people_write_them_in_england(people, moment):
    moment.set(datetime(2013, 6, 4, 1, 56, tzinfo=timezone.utc))  # 2:56am in summer time
    ref = people.bid()

    page = text_of(Site(people).as_("carol").get(f"/cases/{ref}").text)

    assert "Opened 2:56am, 4 June 2013" in page
    assert "02:56" not in page


def test_a_case_page_shows_labels_not_codes(people):
    ref = recommended_bid(people)

    page = text_of(Site(people).as_("carol").get(f"/cases/{ref}").text)

    assert "State Recommended" in page and "Programme Transformation Challenge Award 2013" in page
    assert "Category Shared arrangement" in page
    for code in ("under_assessment", "award_offered", "shared_arrangement", "tca-2013 ", "Version"):
        assert code not in page, code


def test_line_breaks_typed_in_an_application_read_as_paragraphs(people):
    ref = people.bid(
        innovation="One buying team\nfor three districts.\n\nA joint board keeps\n"
        "each council's say."
    )

    html = Site(people).as_("carol").get(f"/cases/{ref}").text

    assert '<p class="paragraph">One buying team for three districts.</p>' in html
    assert '<p class="paragraph">A joint board keeps each council&#39;s say.</p>' in html


def test_the_audit_filters_hint_is_an_example_not_a_value(people):
    html = Site(people).as_("audrey").get("/audit").text

    assert re.search(r'id="since-hint">For example, 31 3 2014<', html)
    boxes = re.findall(r'<input[^>]*id="since-(?:day|month|year)"[^>]*>', html)
    assert len(boxes) == 3 and all('value=""' in box for box in boxes)


def test_every_page_has_the_phase_banner_and_links_to_the_statements(people):
    visitor = Site(people).visitor()

    sign_in = visitor.get("/sign-in").text
    statements = {path: visitor.get(path) for path in ("/accessibility", "/privacy", "/cookies")}

    assert "Beta" in text_of(sign_in) and "This is a new service" in text_of(sign_in)
    for path, answer in statements.items():
        assert f'<a href="{path}">' in sign_in, path
        assert answer.status_code == 200, path
    assert "axe-core" in text_of(statements["/accessibility"].text)
    assert "casework_session" in statements["/cookies"].text
    assert "data controller" in text_of(statements["/privacy"].text)


def test_the_messages_page_shows_the_mail_that_was_sent_with_a_filter(people, tmp_path):
    ref = bid_in_monitoring(people)
    mail.deliver(people.engine, transport=FileTransport(tmp_path), sender="casework@localhost")
    carol = Site(people).as_("carol")

    every = text_of(carol.get("/outbox").text)
    offers = text_of(carol.get("/outbox?kind=bid.award_offered").text)
    other = text_of(carol.get("/outbox?case=TCA-2013-0099").text)

    assert re.search(rf"Sent 2 .*Award offered .*award of £250,000 offered for {ref}", every)
    assert "Award offered" in offers
    assert "No message of that kind or case has been sent." in other


def test_the_rankings_running_total_adds_each_row_and_its_caption_is_the_programmes_name(people):
    first, second = recommended_bid(people), recommended_bid(people, amount="300000")
    people.advance(first, "offer", by="april")

    page = text_of(Site(people).as_("april").get("/programmes/tca-2013/ranking").text)

    assert page.count("Transformation Challenge Award 2013") >= 1 and "tca-2013 Ranking" not in page
    assert re.search(rf"{first} .*£250,000 £250,000 .*{second} .*£300,000 £550,000", page)


def test_the_network_programme_counts_agreed_contributions_as_its_income(people):
    ref = area_under_assessment(people)
    people.advance(ref, "select", by="april")
    people.advance(ref, "onboard")
    areas.record_contribution(people.engine, ref, "50000", "carol")

    page = text_of(Site(people).as_("carol").get("/programmes").text)

    assert "£50,000 agreed contributions: the network's income" in page


def test_the_ranking_offers_only_what_would_fit_and_says_why_not_beside_the_rest(people):
    from tests.web.site import SMALL_ROUND
    from workflow.services import programme_files as store

    with people.engine.begin() as conn:
        store.load(conn, SMALL_ROUND, "test.toml")
    first = recommended_bid(people, programme="tca-tiny")
    second = recommended_bid(people, programme="tca-tiny")
    people.advance(first, "offer", by="april")

    html = Site(people).as_("aaron").get("/programmes/tca-tiny/ranking").text

    assert f'action="/cases/{second}/advance"' not in html
    assert "past the fund" in text_of(html)


def test_an_escalated_return_reads_escalated_to_its_level(people, moment):
    from datetime import timedelta
    from workflow.runtime.sweep import sweep
    from tests.web.site import open_return

    ref = bid_in_monitoring(people)
    due = open_return(people, moment, ref)
    moment.set(moment.at + timedelta(days=13 + 8))
    sweep(people.engine)

    case_page = text_of(Site(people).as_("carol").get(f"/cases/{ref}").text)
    return_page = text_of(Site(people).as_("carol").get(f"/returns/{due}").text)

    assert "Escalated to level 1" in case_page and "Escalated to level 1" in return_page
    assert "escalated · escalation level" not in return_page
