"""Every page renders for every role that may see it, and says plainly when it may not."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from tests.web.site import (
    CAST,
    PASSWORD,
    area_under_assessment,
    bid_in_monitoring,
    open_return,
    recommended_bid,
    text_of,
)
from workflow.services import passwords
from workflow.storage.tables import outbox

STAFF = {"carol", "ash", "asha", "april", "aaron", "audrey", "adam"}
EVERYONE = set(CAST)
COUNCIL_BUT_OTTO = {"cllr", "pat"}

# path -> who gets 200; everyone else is refused (403, or 404 for a case not theirs).
PAGES = {
    "/inbox": {"carol", "ash", "asha", "april", "aaron"},
    "/cases": EVERYONE,
    "/cases/{bid}": STAFF | COUNCIL_BUT_OTTO,
    "/cases/{area}": STAFF | COUNCIL_BUT_OTTO - {"pat"},
    "/cases/{bid}/assessment": STAFF,
    "/cases/{bid}/application": STAFF | COUNCIL_BUT_OTTO,
    "/cases/{bid}/application?version=1": STAFF | COUNCIL_BUT_OTTO,
    "/returns": EVERYONE,
    "/returns?state=submitted&overdue=1": EVERYONE,
    "/returns/{bid}/Q1": STAFF | COUNCIL_BUT_OTTO,
    "/programmes": STAFF,
    "/programmes/tca-2013/ranking": STAFF,
    "/audit": {"carol", "audrey"},
    "/audit?programme=tca-2013&trigger=submit&since-day=1&since-month=1&since-year=2013": {
        "carol",
        "audrey",
    },
    "/audit/{bid}": {"carol", "audrey"},
    "/audit/verify": {"carol", "audrey"},
    "/audit/export?format=csv": {"carol", "audrey"},
    "/audit/export?format=json&case={bid}": {"carol", "audrey"},
    "/outbox": {"carol"},
    "/outbox/{message}": {"carol", "audrey"},
    "/healthz": EVERYONE,
    "/metrics": EVERYONE,
    "/sign-out": EVERYONE,
}


@pytest.fixture
def places(site, moment):
    world = site.world
    bid = bid_in_monitoring(world)
    open_return(world, moment, bid)
    recommended_bid(world)
    area = area_under_assessment(world)
    with site.engine.begin() as conn:  # one message that could not be delivered
        message = conn.execute(
            select(func.min(outbox.c.id)).where(outbox.c.case_ref == bid)
        ).scalar()
        conn.execute(
            update(outbox)
            .where(outbox.c.id == message)
            .values(state="dead", last_error="550 no such mailbox")
        )
    return {"bid": bid, "area": area, "message": message}


@pytest.fixture
def visitors(site):
    return {name: site.as_(name) for name in CAST}


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_for_each_role_that_may_see_it(site, places, visitors, path):
    url = path.format(**places)
    for name, visitor in visitors.items():
        page = visitor.get(url)

        if name in PAGES[path]:
            assert page.status_code == 200, f"{name} {url}: {text_of(page.text)[:400]}"
        else:
            assert page.status_code in (403, 404), f"{name} {url}"
            assert "Traceback" not in page.text
        if page.headers["content-type"].startswith("text/html"):
            assert len(re.findall(r"<h1[ >]", page.text)) == 1, f"{name} {url}"
            assert "<title>" in page.text and 'lang="en-GB"' in page.text


def test_a_page_not_for_your_role_says_who_it_is_for(site):
    refused = site.as_("cllr").get("/audit")

    assert refused.status_code == 403
    assert (
        "Only an auditor or a caseworker can read the audit history. You are signed in "
        "as cllr (council)." in text_of(refused.text)
    )


def test_an_unknown_page_is_not_found_in_plain_english(site):
    page = site.as_("carol").get("/no/such/page")

    assert page.status_code == 404
    assert "Page not found" in text_of(page.text)
    assert "Signed in as carol" in text_of(page.text) and 'href="/inbox"' in page.text


def test_a_page_that_needs_sign_in_sends_you_to_sign_in(site):
    for path in ("/inbox", "/cases", "/returns", "/audit", "/outbox", "/programmes"):
        answer = site.visitor().get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/sign-in?next={path}"


def test_the_assessor_inbox_shows_bids_to_score_and_the_approver_inbox_the_fund(site, places):
    ref = recommended_bid(site.world)
    scoring = site.world.bid(title="A bid still being scored")
    site.world.advance(scoring, "submit", "check", "start_assessment")

    assessor = text_of(site.as_("ash").get("/inbox").text)
    approver = text_of(site.as_("april").get("/inbox").text)

    assert "Bids to score" in assessor and scoring in assessor
    assert "Recommended bids to offer" in approver and ref in approver
    assert "£8,750,000 remaining" in approver  # £9m less the one offer of £250,000
    assert "Shared arrangement 1 30" in approver  # offers made, of the most allowed
    # The programme by its name, not its code (DESIGN section 12).
    assert "See the ranking of bids for the Transformation Challenge Award" in approver
    assert "tca-2013" not in approver


def test_the_approver_inbox_lists_the_variations_waiting_for_a_decision(site, places):
    from workflow.services import variations

    ref = bid_in_monitoring(site.world)
    before = text_of(site.as_("april").get("/inbox").text)
    variations.propose(site.engine, ref, amount="240000", reason="Less is needed.", actor="cllr")

    approver = text_of(site.as_("april").get("/inbox").text)

    assert "Variations to decide none" in before
    assert "Variations to decide 1" in approver and ref in approver


def test_the_caseworker_inbox_groups_what_needs_them(site, places):
    site.as_("cllr").post(
        f"/returns/{places['bid']}/Q1/submit", {"progress": "On track.", "spend_to_date": "0"}
    )

    inbox = text_of(site.as_("carol").get("/inbox").text)

    assert "Returns submitted 1" in inbox and f"{places['bid']}/Q1" in inbox
    assert "Messages that could not be sent 1" in inbox and "550 no such mailbox" in inbox
    assert "To recommend or reject none" in inbox


def test_the_inbox_filters_by_organisation(site, places):
    carol = site.as_("carol")

    theirs = text_of(carol.get("/inbox?org=E07000026").text)
    nobodys = text_of(carol.get("/inbox?org=E07000099").text)

    assert "Network areas to onboard or activate" in theirs
    assert places["area"] not in nobodys and "Escalated twice none" in nobodys


def test_cases_are_found_by_reference_state_and_organisation(site, places):
    carol = site.as_("carol")

    by_ref = carol.get(f"/cases?q={places['bid'][:-1]}").text
    by_state = carol.get("/cases?state=under_assessment").text
    by_org_name = carol.get("/cases?org=Council E07000026&kind=area").text
    by_title = carol.get("/cases?q=troubled").text

    assert f'href="/cases/{places["bid"]}"' in by_ref
    assert f'href="/cases/{places["area"]}"' in by_state
    assert f'href="/cases/{places["area"]}"' in by_org_name
    assert f'href="/cases/{places["bid"]}"' not in by_org_name
    assert f'href="/cases/{places["area"]}"' in by_title


def test_the_caseworker_inbox_shows_annual_reviews_due(site):
    from datetime import date, datetime, timedelta, timezone

    from workflow.runtime.sweep import sweep
    from workflow.services import reviews

    ref = bid_in_monitoring(site.world)
    due = date.fromisoformat(reviews.list_reviews(site.world.engine, case=ref)[0]["due"])

    before = text_of(site.as_("carol").get("/inbox").text)
    sweep(
        site.world.engine,
        now=datetime.combine(due + timedelta(days=1), datetime.min.time(), timezone.utc),
    )
    after = text_of(site.as_("carol").get("/inbox").text)

    assert "Annual reviews due none" in before
    assert "Annual reviews due 1" in after and ref in after


def test_finance_is_not_linked_to_an_assessment_it_may_not_open(site):
    """The case page's assessment summary links to /cases/REF/assessment, which finance may
    not open: finance sees neither, the caseworker both."""
    site.world.person("fay", "finance")
    passwords.sample_passwords(site.engine, password=PASSWORD)
    ref = site.world.bid()
    site.world.advance(ref, "submit", "check")

    fay, carol = site.as_("fay"), site.as_("carol")

    assert f"/cases/{ref}/assessment" not in fay.get(f"/cases/{ref}").text
    assert fay.get(f"/cases/{ref}/assessment").status_code == 403
    assert f"/cases/{ref}/assessment" in carol.get(f"/cases/{ref}").text


def test_a_page_not_found_does_not_send_people_to_the_command_line(site):
    """The command line's hint ("`casework programme list` shows the loaded ones") is for
    the command line; a web page says what is not there, in words."""
    page = site.as_("april").get("/programmes/tca/ranking")

    assert page.status_code == 404
    said = text_of(page.text)
    assert "There is no programme 'tca'." in said and "casework programme list" not in said


def test_a_message_page_does_not_claim_to_be_exactly_what_was_sent(site, places):
    """It is drawn again from the outbox row with the sender set now (CASEWORK_MAIL_FROM), so a
    message sent under another setting went with another From: the page says so."""
    said = text_of(site.as_("carol").get(f"/outbox/{places['message']}").text)

    assert "Exactly as the mail server received it" not in said
    assert "with the sender (From) as this server is set up now" in said


def test_a_list_of_cases_of_an_unknown_programme_says_there_is_no_such_programme(site, places):
    """A mistyped code is refused, as the command line and the API refuse it, not shown as a
    programme with no cases."""
    carol = site.as_("carol")

    unknown = carol.get("/cases?programme=unknown")
    known = carol.get("/cases?programme=tca-2013")

    assert unknown.status_code == 404
    said = text_of(unknown.text)
    assert "There is no programme 'unknown'." in said and "casework programme list" not in said
    assert known.status_code == 200 and f'href="/cases/{places["bid"]}"' in known.text


def test_a_list_of_cases_in_a_state_or_kind_that_names_nothing_is_refused_in_words(site, places):
    """As the command line and the API refuse it: it used to show every case, as "any state"."""
    carol = site.as_("carol")

    state = carol.get("/cases?state=sumbitted")
    kind = carol.get("/cases?kind=bids&state=")
    known = carol.get("/cases?state=&kind=")
    crossed = carol.get("/cases?state=selected&kind=bid")  # a pair the form lets people pick

    assert state.status_code == kind.status_code == 400
    said = text_of(state.text)
    assert "The case state 'sumbitted' was refused: it is not one of Draft (draft)," in said
    assert "did you mean submitted?" in said
    assert "The kind 'bids' was refused" in text_of(kind.text)
    assert known.status_code == 200 and f'href="/cases/{places["bid"]}"' in known.text
    assert crossed.status_code == 200 and f'href="/cases/{places["bid"]}"' not in crossed.text


@pytest.mark.parametrize(
    ("who", "path"),
    [("carol", "/inbox"), ("april", "/inbox"), ("pat", "/returns"), ("audrey", "/audit")],
)
def test_every_list_filtered_by_an_unknown_programme_says_there_is_no_such_programme(
    site, places, who, path
):
    """The inbox, the returns and the audit history refuse a mistyped programme code as the
    list of cases does (reads.refuse_unknown), not as a programme with nothing in it; a known
    programme still lists its rows."""
    visitor = site.as_(who)

    unknown = visitor.get(f"{path}?programme=unknown")
    known = visitor.get(f"{path}?programme=tca-2013")

    assert unknown.status_code == 404
    said = text_of(unknown.text)
    assert "There is no programme 'unknown'." in said and "casework programme list" not in said
    assert known.status_code == 200 and re.search(r'href="/\w+/TCA-2013-\d+', known.text)


def test_the_approver_inbox_lists_a_bid_the_fund_has_no_room_for_apart_saying_why(people):
    """A fund of £400,000 with two recommended bids of £250,000: once one is offered, the
    other cannot be; it is not among the bids to offer but among those that cannot be offered
    now, with the case page's own reason."""
    from tests.web.site import SMALL_ROUND, Site
    from workflow.services import programme_files as store

    with people.engine.begin() as conn:
        store.load(conn, SMALL_ROUND, "test.toml")
    first = recommended_bid(people, programme="tca-tiny")
    second = recommended_bid(people, programme="tca-tiny")
    april = Site(people).as_("april")

    before = text_of(april.get("/inbox?programme=tca-tiny").text)
    people.advance(first, "offer", by="aaron")
    inbox = april.get("/inbox?programme=tca-tiny").text
    after = text_of(inbox)
    case_page = text_of(april.get(f"/cases/{second}").text)

    assert "Recommended bids to offer 2" in before
    assert "Recommended bids that cannot be offered now none" in before
    assert "Recommended bids to offer none" in after
    assert "Recommended bids that cannot be offered now 1" in after
    why = "would commit £500,000, past the fund's £400,000 (£150,000 remains)"
    section = inbox.split('id="group-cannot_offer"')[1]
    assert f'href="/cases/{second}"' in section and why in text_of(section)
    assert why in case_page
