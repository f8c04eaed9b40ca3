"""Every action a role may take works through the web, and every other is refused, changing nothing.

The rules come from the definitions (who may fire what), so this walks them:
for each transition, a case is brought to its source state through the
services, everyone who may not fire it tries and is refused, then each who
may fires it on a case of their own.
"""

from __future__ import annotations

import re

import pytest

from workflow.services.access import LEAD_ONLY

from states import AREA, BID, T
from tests.web.site import (
    CAST,
    PASSWORD,
    SMALL_ROUND,
    Site,
    area_under_assessment,
    bid_in_monitoring,
    open_return,
    text_of,
)
from workflow.services import areas, assessment, lifecycle, monitoring, passwords, directory
from workflow.services.engine import acting_role

REASON = "Because the rules of this test say so."
SCORERS = ("ash", "asha")


def bid_in(world, state: str) -> str:
    """A bid in `state`, reached through the services as people would reach it."""
    if state in ("award_offered", "in_monitoring", "suspended"):
        ref = _to_recommended(world)
        world.advance(ref, "offer", by="april")
        if state != "award_offered":
            world.advance(ref, "accept", by="cllr")
        if state == "suspended":
            world.advance(ref, "suspend", reason="Second quarter's return not received")
        return ref
    ref = world.bid()
    steps = {"draft": [], "submitted": ["submit"], "eligible": ["submit", "check"]}
    if state in steps:
        world.advance(ref, *steps[state])
        if state == "submitted":  # its due diligence done: ready to be checked
            world.pass_diligence(ref)
        return ref
    world.advance(ref, "submit", "check", "start_assessment")
    if state == "clarification_requested":
        world.advance(ref, "ask_clarification", reason="Which councils share the hub?")
        return ref
    _score(world, ref)
    if state == "moderated":
        world.advance(ref, "moderate")
    elif state == "recommended":
        world.advance(ref, "moderate", "recommend")
    return ref


def unscored(world) -> str:
    """A bid under assessment that nobody has declared on or scored yet."""
    ref = world.bid()
    world.advance(ref, "submit", "check", "start_assessment")
    return ref


def _to_recommended(world) -> str:
    return bid_in(world, "recommended")


def _score(world, ref: str) -> None:
    for name in SCORERS:
        assessment.declare(world.engine, ref, name, conflict=False)
        assessment.score(world.engine, ref, name, innovation=4, costs=3, savings=4)


def area_in(world, state: str) -> str:
    if state == "draft":
        return lifecycle.open_case(world.engine, "area", _area_document(), "carol")["ref"]
    if state == "expression_of_interest":
        ref = lifecycle.open_case(world.engine, "area", _area_document(), "carol")["ref"]
        world.advance(ref, "submit")
        return ref
    ref = area_under_assessment(world)
    if state == "under_assessment":
        return ref
    if state == "clarification_requested":
        world.advance(ref, "ask_clarification", reason="Which partners have signed?")
        return ref
    world.advance(ref, "select", by="april")
    if state == "selected":
        return ref
    world.advance(ref, "onboard")
    areas.record_contribution(world.engine, ref, "50000", "carol")
    if state == "onboarding":
        return ref
    world.advance(ref, "activate")
    if state == "suspended":
        world.advance(ref, "suspend", reason="The partnership board has stopped meeting")
    return ref


def _area_document() -> dict:
    return {
        "programme": "pstn-2013",
        "title": "Troubled families, one front door",
        "lead": "E07000026",
        "service_areas": ["troubled families"],
        "how_to_succeed": "One team across the county.",
        "partners": [
            {"name": "County police", "evidence": "Signed letter"},
            {"name": "NHS trust", "evidence": "Board minute"},
        ],
        "contribution": "50000",
    }


def prepared(world, kind: str, t: T) -> str:
    source = t.sources[0]
    ref = bid_in(world, source) if kind == "bid" else area_in(world, source)
    if kind == "bid" and t.trigger == "complete":  # the rules need every return settled
        for cp in monitoring.list_checkpoints(world.engine, case=ref):
            monitoring.decide_return(world.engine, cp["ref"], "waive", "carol", reason=REASON)
    return ref


def may_fire(world, name: str, t: T) -> bool:
    with world.engine.connect() as conn:
        actor = directory.actor(conn, name)
    return acting_role(t, actor, "E07000026") is not None


TRANSITIONS = [("bid", t) for t in BID.transitions] + [("area", t) for t in AREA.transitions]


@pytest.mark.parametrize(
    "kind, t", TRANSITIONS, ids=lambda v: v if isinstance(v, str) else v.trigger
)
def test_each_trigger_is_refused_to_those_who_may_not_fire_it_and_works_for_those_who_may(
    site, kind, t
):
    world = site.world
    visitors = {name: site.as_(name) for name in CAST}
    refused_ref = prepared(world, kind, t)
    allowed = [n for n in CAST if may_fire(world, n, t)]
    assert allowed, f"nobody in the cast may fire {kind} {t.trigger}"

    for name in CAST:
        if name in allowed:
            continue
        before = world.snapshot()
        answer = visitors[name].post(
            f"/cases/{refused_ref}/advance", {"trigger": t.trigger, "reason": REASON}
        )
        # a council not involved in the case is told it does not exist (areas have no partner
        # councils), and so is a partner while the case is a draft (its lead's alone)
        unseen = name == "otto" or (name == "pat" and (kind == "area" or t.sources[0] in LEAD_ONLY))
        assert answer.status_code == (404 if unseen else 403), (name, text_of(answer.text)[:300])
        assert world.snapshot() == before, name

    for name in allowed:
        ref = refused_ref if name == allowed[0] else prepared(world, kind, t)
        if kind == "bid" and t.trigger == "offer":  # £250,000: the other approver countersigns
            world.countersign(ref, offering=name)
        # The council reads the grant agreement before it accepts: that button is on its page.
        where = f"/cases/{ref}/agreement" if t.trigger == "accept" else f"/cases/{ref}"
        # The lead council answers a question beside its application, on /apply.
        if t.trigger == "answer" and CAST[name].startswith("council (lead"):
            where = f"/apply/{ref}"
        page = visitors[name].get(where)
        assert f'name="trigger" value="{t.trigger}"' in page.text, (name, t.trigger)
        data = {"trigger": t.trigger, "reason": REASON}
        if t.confirm:  # first "are you sure?", with the reason asked for
            before = world.snapshot()
            asked = visitors[name].get(f"/cases/{ref}/confirm?trigger={t.trigger}")
            assert asked.status_code == 200 and "are you sure?" in text_of(asked.text), name
            assert world.snapshot() == before
            data["confirmed"] = "yes"
        done = visitors[name].post(f"/cases/{ref}/advance", data)
        assert done.status_code == 303, (name, text_of(done.text)[:400])
        assert world.state(ref) == t.dest, name
        definition = BID if kind == "bid" else AREA
        label, said = definition.state_label(t.dest), text_of(visitors[name].follow(done).text)
        if t.dest in t.sources:  # the state kept (a countersignature): what was done is said
            assert f"{ref}'s offer is countersigned: another approver may now make it." in said
        else:  # the new state by its label, as the command line and the summary say it
            assert f"{ref} is now {label}." in said


def test_the_case_page_offers_only_the_buttons_this_person_may_press(site):
    ref = bid_in(site.world, "submitted")

    caseworker = site.as_("carol").get(f"/cases/{ref}").text
    council = site.as_("cllr").get(f"/cases/{ref}").text
    auditor = site.as_("audrey").get(f"/cases/{ref}").text

    assert set(_buttons(caseworker)) == {"check", "declare_ineligible", "withdraw"}
    assert set(_buttons(council)) == {"withdraw"}
    assert _buttons(auditor) == []


def _buttons(html: str) -> list[str]:
    import re

    return re.findall(r'name="trigger" value="([a-z_]+)"', html)


def test_an_action_that_cannot_be_undone_asks_are_you_sure_and_needs_a_reason(site):
    ref = bid_in(site.world, "submitted")
    carol = site.as_("carol")
    page = carol.get(f"/cases/{ref}").text
    before = site.world.snapshot()

    straight = carol.post(f"/cases/{ref}/advance", {"trigger": "declare_ineligible"})
    confirm = carol.get(f"/cases/{ref}/confirm?trigger=declare_ineligible&version=2")
    empty = carol.post(
        f"/cases/{ref}/advance",
        {"trigger": "declare_ineligible", "reason": "  ", "confirmed": "yes", "version": "2"},
    )

    # the case page's button leads to the confirmation page, not to the change itself
    assert re.search(
        r'<form method="get" action="/cases/[^"]+/confirm"[^>]*>\s*'
        r'<input type="hidden" name="trigger" value="declare_ineligible">',
        page,
    )
    assert straight.status_code == 200 and "Declare ineligible: are you sure?" in text_of(
        straight.text
    )
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "Declare ineligible: are you sure?" in words and "This cannot be undone." in words
    assert (
        'name="confirmed" value="yes"' in confirm.text
        and 'for="reason">Reason (required)' in confirm.text
    )
    assert empty.status_code == 422
    assert '<a href="#reason">Give the reason for ‘Declare ineligible’' in empty.text
    assert 'id="reason-error"' in empty.text
    assert site.world.snapshot() == before

    done = carol.post(
        f"/cases/{ref}/advance",
        {
            "trigger": "declare_ineligible",
            "version": "2",
            "reason": "Fraud risk found.",
            "confirmed": "yes",
        },
    )
    assert done.status_code == 303 and site.world.state(ref) == "ineligible"


def test_suspending_asks_for_a_reason_and_a_confirmation_first(site):
    ref = bid_in(site.world, "in_monitoring")
    carol = site.as_("carol")
    before = site.world.snapshot()

    page = carol.get(f"/cases/{ref}").text
    asked = carol.get(f"/cases/{ref}/confirm?trigger=suspend")
    no_reason = carol.post(f"/cases/{ref}/advance", {"trigger": "suspend", "confirmed": "yes"})

    assert 'name="trigger" value="suspend"' in page and 'method="get" action="/cases/' in page
    assert "Payments are held" in text_of(asked.text)
    assert no_reason.status_code == 422
    assert site.world.snapshot() == before


def test_an_areas_suspension_page_says_what_an_area_loses_not_a_bids_payments(site):
    ref = area_in(site.world, "active")
    carol = site.as_("carol")

    asked = text_of(carol.get(f"/cases/{ref}/confirm?trigger=suspend").text)

    assert "work with the network is paused" in asked
    assert "Payments are held" not in asked  # a network area has no payments to hold


def test_an_action_that_would_be_refused_is_not_offered_and_says_what_is_missing(site, moment):
    ref = bid_in(site.world, "in_monitoring")
    carol = site.as_("carol")

    page = carol.get(f"/cases/{ref}").text

    assert 'name="trigger" value="complete"' not in page
    assert (
        "Mark as complete: 4 returns are still to be accepted or waived: Q1, Q2, Q3 and Q4."
        in text_of(page)
    )
    # a confirmation page for something that would not succeed sends people back to the case
    assert carol.get(f"/cases/{ref}/confirm?trigger=terminate").status_code == 303


def test_a_refusal_with_several_reasons_names_the_action_once(site):
    ref = bid_in(site.world, "in_monitoring")
    carol = site.as_("carol")
    before = site.world.snapshot()

    refused = carol.post(f"/cases/{ref}/advance", {"trigger": "complete"})

    assert refused.status_code == 422
    assert text_of(refused.text).count("cannot be 'Mark as complete'") == 1
    assert site.world.snapshot() == before


def test_an_approver_who_assessed_is_told_why_they_cannot_offer(site):
    site.world.person("amy", "assessor", "approver")
    passwords.sample_passwords(site.engine, password=PASSWORD)
    ref = site.world.bid()
    site.world.advance(ref, "submit", "check", "start_assessment")
    for name in ("amy", "asha"):
        assessment.declare(site.engine, ref, name, conflict=False)
        assessment.score(site.engine, ref, name, innovation=4, costs=3, savings=4)
    site.world.advance(ref, "moderate", "recommend")

    page = site.as_("amy").get(f"/cases/{ref}").text

    assert 'name="trigger" value="offer"' not in page
    assert "Offer the award: You assessed" in text_of(page)


def test_a_rule_that_fails_is_shown_in_the_services_own_words(site):
    ref = site.world.bid(category="shared_arrangement", arrangement=None)
    carol = site.as_("carol")
    before = site.world.snapshot()

    refused = carol.post(f"/cases/{ref}/advance", {"trigger": "submit"})

    assert refused.status_code == 422
    words = text_of(refused.text)
    assert "There is a problem" in words and f"{ref} cannot be 'Submit the bid'" in words
    assert "arrangement" in words
    assert site.world.snapshot() == before


def test_a_page_left_open_while_someone_else_moved_the_case_is_refused(site):
    ref = bid_in(site.world, "submitted")
    carol = site.as_("carol")
    carol.get(f"/cases/{ref}")
    stale_version = "2"
    site.world.advance(ref, "check")
    before = site.world.snapshot()

    refused = carol.post(
        f"/cases/{ref}/advance",
        {
            "trigger": "withdraw",
            "version": stale_version,
            "reason": "Council asked to withdraw: partnership dissolved",
            "confirmed": "yes",
        },
    )

    assert refused.status_code == 409
    assert "has changed since you looked at it" in text_of(refused.text)
    assert site.world.snapshot() == before


def test_returns_are_submitted_by_the_lead_council_or_a_caseworker_only(site, moment):
    ref = bid_in_monitoring(site.world)
    open_return(site.world, moment, ref)
    for name in CAST:
        before = site.world.snapshot()
        answer = site.as_(name).post(
            f"/returns/{ref}/Q1/submit", {"progress": "Going well.", "spend_to_date": "0"}
        )
        if name in ("cllr", "carol"):
            assert answer.status_code == 303, name
            # submitted: the caseworker queries it, so the next person can submit again
            monitoring.decide_return(site.engine, f"{ref}/Q1", "query", "carol", reason=REASON)
        else:
            assert answer.status_code == (404 if name == "otto" else 403), name
            assert site.world.snapshot() == before, name


@pytest.mark.parametrize("decision", ["accept", "query", "waive"])
def test_returns_are_decided_by_a_caseworker_only(site, moment, decision):
    ref = bid_in_monitoring(site.world)
    open_return(site.world, moment, ref)
    monitoring.submit_return(
        site.engine, f"{ref}/Q1", "cllr", figures={"progress": "Fine.", "spend_to_date": "0"}
    )
    for name in CAST:
        if name == "carol":
            continue
        before = site.world.snapshot()
        answer = site.as_(name).post(
            f"/returns/{ref}/Q1/decide", {"trigger": decision, "reason": REASON}
        )
        assert answer.status_code == (404 if name == "otto" else 403), name
        assert site.world.snapshot() == before, name

    done = site.as_("carol").post(
        f"/returns/{ref}/Q1/decide",
        {"trigger": decision, "reason": REASON, "confirmed": "yes"},  # waive asks first
    )

    assert done.status_code == 303
    assert (
        monitoring.get_checkpoint(site.engine, f"{ref}/Q1")["state"]
        == {"accept": "accepted", "query": "queried", "waive": "waived"}[decision]
    )


def test_only_assessors_declare_and_score_and_only_a_caseworker_agrees_a_score(site):
    ref = unscored(site.world)
    score = {"innovation": "4", "costs": "3", "savings": "5"}
    for name in CAST:
        if name in ("ash", "asha"):
            continue
        before = site.world.snapshot()
        visitor = site.as_(name)
        declared = visitor.post(f"/cases/{ref}/declare", {"conflict": "no"})
        scored = visitor.post(f"/cases/{ref}/score", score)
        assert declared.status_code in (403, 404) and scored.status_code in (403, 404), name
        assert site.world.snapshot() == before, name

    ash = site.as_("ash")
    assert ash.post(f"/cases/{ref}/declare", {"conflict": "no"}).status_code == 303
    assert ash.post(f"/cases/{ref}/score", score).status_code == 303
    refused = ash.post(
        f"/cases/{ref}/agree-score",
        {**{f"agreed-{k}": v for k, v in score.items()}, "agreed-reason": REASON},
    )
    assert refused.status_code == 403

    table = text_of(site.as_("carol").get(f"/cases/{ref}/assessment").text)
    assert "ash 4 3 5 12.00" in table


def test_a_conflict_of_interest_needs_its_reason_and_stops_scoring(site):
    ref = unscored(site.world)
    ash = site.as_("ash")
    ash.get(f"/cases/{ref}/assessment")
    before = site.world.snapshot()

    no_reason = ash.post(f"/cases/{ref}/declare", {"conflict": "yes", "reason": ""})
    assert no_reason.status_code == 422
    assert '<a href="#reason">' in no_reason.text
    assert site.world.snapshot() == before

    assert (
        ash.post(
            f"/cases/{ref}/declare", {"conflict": "yes", "reason": "My sister leads the bid."}
        ).status_code
        == 303
    )
    page = ash.get(f"/cases/{ref}/assessment").text
    assert "Record my scores" not in page
    refused = ash.post(f"/cases/{ref}/score", {"innovation": "5", "costs": "5", "savings": "5"})
    assert refused.status_code == 403
    assert "declared a conflict of interest" in text_of(refused.text)


def test_an_assessor_who_scored_declares_a_conflict_found_since_and_the_score_is_set_aside(site):
    ref = unscored(site.world)
    ash = site.as_("ash")
    ash.post(f"/cases/{ref}/declare", {"conflict": "no"})
    ash.post(f"/cases/{ref}/score", {"innovation": "5", "costs": "4", "savings": "5"})
    page = ash.get(f"/cases/{ref}/assessment").text
    assert "If a conflict of interest comes to light" in page
    assert "Your score will be set aside" in page
    before = site.world.snapshot()

    no_reason = ash.post(f"/cases/{ref}/declare", {"conflict": "yes", "reason": " "})
    assert no_reason.status_code == 422 and '<a href="#reason">' in no_reason.text
    assert site.world.snapshot() == before

    done = ash.post(
        f"/cases/{ref}/declare",
        {"conflict": "yes", "reason": "My partner joined the lead council."},
    )
    assert done.status_code == 303
    after = text_of(ash.follow(done).text)
    assert "You declared a conflict of interest: My partner joined the lead council." in after
    assert "If a conflict of interest comes to light" not in after
    assert "ash set aside" in after and "5 4 5 14.00" in after
    assert "Combined score Not scored yet" in after
    inbox = text_of(site.as_("carol").get("/inbox").text)
    assert re.search(
        rf"{ref} .* Under assessment £250,000 0 of the 2 needed \(waiting for "
        rf"assessors\)",
        inbox,
    )


def test_an_assessor_who_declared_no_conflict_is_asked_for_scores_before_any_late_conflict(
    site,
):
    ref = unscored(site.world)
    ash = site.as_("ash")
    ash.post(f"/cases/{ref}/declare", {"conflict": "no"})

    page = ash.get(f"/cases/{ref}/assessment").text

    # The task in hand comes first; declaring a conflict that comes to light is below it.
    assert page.index("Your scores") < page.index("If a conflict of interest comes to light")


def test_a_score_left_out_is_named_and_linked(site):
    ref = unscored(site.world)
    ash = site.as_("ash")
    ash.post(f"/cases/{ref}/declare", {"conflict": "no"})

    refused = ash.post(f"/cases/{ref}/score", {"innovation": "4", "costs": "3"})

    assert refused.status_code == 400
    assert '<a href="#savings">Prospective savings: choose a score from 0 to 5</a>' in refused.text


def test_only_a_caseworker_records_an_areas_contribution(site):
    ref = area_in(site.world, "onboarding")
    for name in CAST:
        if name == "carol":
            continue
        before = site.world.snapshot()
        answer = site.as_(name).post(f"/cases/{ref}/contribution", {"contribution": "60000"})
        assert answer.status_code == (404 if name in ("otto", "pat") else 403), name
        assert site.world.snapshot() == before, name

    carol = site.as_("carol")
    before = site.world.snapshot()
    malformed = carol.post(f"/cases/{ref}/contribution", {"contribution": "sixty thousand"})
    assert malformed.status_code == 400
    assert (
        '<a href="#contribution">Contribution agreed must be an amount in pounds' in malformed.text
    )
    assert 'value="sixty thousand"' in malformed.text  # what was typed is kept
    assert site.world.snapshot() == before

    # Money as people write it, as the case page shows it back.
    done = carol.post(f"/cases/{ref}/contribution", {"contribution": "£60,000"})
    assert done.status_code == 303
    assert "is recorded: £60,000" in text_of(carol.follow(done).text)


def test_a_caseworker_hands_a_case_to_another_and_no_one_else_can(site):
    site.world.person("cath", "caseworker")
    ref = bid_in(site.world, "submitted")
    for name in CAST:
        if name == "carol":
            continue
        assert 'action="/cases/' + ref + '/assign"' not in site.as_(name).get(f"/cases/{ref}").text
        before = site.world.snapshot()
        answer = site.as_(name).post(f"/cases/{ref}/assign", {"caseworker": "cath"})
        # otto's council has no part in the bid, so to him it does not exist
        assert answer.status_code == (404 if name == "otto" else 403), name
        assert site.world.snapshot() == before, name

    carol = site.as_("carol")
    page = carol.get(f"/cases/{ref}").text
    assert '<option value="cath">cath</option>' in page
    version = lifecycle.show(site.engine, ref)["version"]
    stale = carol.post(f"/cases/{ref}/assign", {"caseworker": "cath", "version": str(version - 1)})
    refused = carol.post(f"/cases/{ref}/assign", {"caseworker": "ash", "version": str(version)})
    done = carol.post(
        f"/cases/{ref}/assign",
        {
            "caseworker": "cath",
            "version": str(version),
            "assign-reason": "Carol is on leave in May.",
        },
    )

    assert stale.status_code == 409 and "has changed since you looked at it" in text_of(stale.text)
    assert refused.status_code == 422
    assert '<a href="#caseworker">ash is not a caseworker' in refused.text
    assert done.status_code == 303
    shown = text_of(carol.follow(done).text)
    assert "is now assigned to cath" in shown
    assert "Handed over — to cath" in shown and "Carol is on leave in May." in shown
    assert lifecycle.show(site.engine, ref)["caseworker"] == "cath"


def test_only_a_caseworker_sends_undelivered_messages_again(site):
    from sqlalchemy import update
    from workflow.storage.tables import outbox

    bid_in(site.world, "award_offered")
    with site.engine.begin() as conn:
        conn.execute(update(outbox).values(state="dead", last_error="550 no such mailbox"))
    for name in ("audrey", "april", "cllr", "adam"):
        before = site.world.snapshot()
        answer = site.as_(name).post("/outbox/retry", {"all": "dead"})
        assert answer.status_code == 403, name
        assert site.world.snapshot() == before

    carol = site.as_("carol")
    done = carol.post("/outbox/retry", {"id": "1"})

    assert done.status_code == 303
    assert "1 message will be sent again" in text_of(carol.follow(done).text)


def test_two_approvers_offering_against_the_last_funds_one_is_refused_with_the_balance(people):
    from tests.web.site import recommended_bid
    from workflow.services import programme_files as store

    with people.engine.begin() as conn:
        store.load(conn, SMALL_ROUND, "test.toml")
    first = recommended_bid(people, programme="tca-tiny")
    second = recommended_bid(people, programme="tca-tiny")
    site = Site(people)
    april, aaron = site.as_("april"), site.as_("aaron")
    april.get("/programmes/tca-tiny/ranking")
    aaron.get(f"/cases/{second}")

    won = april.post(
        f"/cases/{first}/advance", {"trigger": "offer", "next": "/programmes/tca-tiny/ranking"}
    )
    lost = aaron.post(f"/cases/{second}/advance", {"trigger": "offer"})

    assert won.status_code == 303 and won.headers["location"] == "/programmes/tca-tiny/ranking"
    assert lost.status_code == 422
    words = text_of(lost.text)
    assert "would commit £500,000, past the fund's £400,000 (£150,000 remains)" in words
    assert "The fund has £150,000 remaining of £400,000" in words
    assert people.state(second) == "recommended"


def test_an_approver_countersigns_through_the_web_and_another_then_offers(site):
    ref = bid_in(site.world, "recommended")  # £250,000, above the £100,000 threshold
    april, aaron = site.as_("april"), site.as_("aaron")

    before_inbox = text_of(april.get("/inbox").text)
    page = april.get(f"/cases/{ref}").text
    assert 'name="trigger" value="countersign"' in page
    assert 'name="trigger" value="offer"' not in page
    assert "it needs a second approver's countersignature" in text_of(page)
    assert "Recommended bids to countersign 1" in before_inbox
    assert "Recommended bids to offer none" in before_inbox

    signed = aaron.post(f"/cases/{ref}/advance", {"trigger": "countersign"})
    assert signed.status_code == 303
    assert site.world.state(ref) == "recommended"
    mine = aaron.get(f"/cases/{ref}").text
    assert 'name="trigger" value="offer"' not in mine  # aaron signed: not his to offer
    assert "You countersigned" in text_of(mine)
    after_inbox = text_of(april.get("/inbox").text)
    assert "Recommended bids to countersign none" in after_inbox
    assert "Recommended bids to offer 1" in after_inbox

    before = site.world.snapshot()
    again = aaron.post(f"/cases/{ref}/advance", {"trigger": "countersign"})
    assert again.status_code == 403 and "already countersigned" in text_of(again.text)
    assert site.world.snapshot() == before

    offered = april.post(f"/cases/{ref}/advance", {"trigger": "offer"})
    assert offered.status_code == 303
    assert site.world.state(ref) == "award_offered"


def test_a_score_that_is_not_a_whole_number_is_named_and_nothing_written(site):
    ref = unscored(site.world)
    ash = site.as_("ash")
    ash.post(f"/cases/{ref}/declare", {"conflict": "no"})
    before = site.world.snapshot()

    refused = ash.post(f"/cases/{ref}/score", {"innovation": "4", "costs": "²", "savings": "2.5"})

    assert refused.status_code == 400  # was a 500 for "²", which str.isdigit() takes
    shown = text_of(refused.text)
    assert "Costs: '²' is not a whole number from 0 to 5" in shown
    assert "Savings: '2.5' is not a whole number from 0 to 5" in shown
    assert site.world.snapshot() == before


def test_a_countersignature_the_offer_will_never_need_is_not_listed_as_not_possible_yet(site):
    """£80,000 is not above the programme's £100,000 threshold and the fraud risk is low: the
    offer needs no countersignature, so the case page neither offers one nor lists it as
    "not possible yet". Above the threshold it is offered."""
    from tests.web.site import recommended_bid

    below = recommended_bid(site.world, amount="80000", transitional_costs="40000")
    above = bid_in(site.world, "recommended")  # £250,000
    april = site.as_("april")

    page = april.get(f"/cases/{below}").text

    assert 'name="trigger" value="offer"' in page
    assert 'value="countersign"' not in page and 'id="blocked-countersign"' not in page
    assert "Countersign the offer" not in text_of(page)
    assert 'name="trigger" value="countersign"' in april.get(f"/cases/{above}").text


def test_the_case_page_says_why_the_offer_needs_a_countersignature_and_who_gave_it(site):
    from tests.web.site import recommended_bid

    ref = bid_in(site.world, "recommended")  # £250,000, above the £100,000 threshold
    below = recommended_bid(site.world, amount="80000", transitional_costs="40000")
    april, aaron = site.as_("april"), site.as_("aaron")

    waiting = text_of(april.get(f"/cases/{ref}").text)
    assert (
        "Countersignature The offer of £250,000 is above the programme's countersignature "
        "threshold of £100,000: a second approver countersigns it, one who neither makes "
        "the offer nor assessed the bid. Still needed before the offer: An offer of £250,000 "
        "is above the programme's countersignature threshold of £100,000" in waiting
    )
    aaron.post(f"/cases/{ref}/advance", {"trigger": "countersign"})
    signed = text_of(april.get(f"/cases/{ref}").text)
    assert re.search(r"Countersigned by aaron, \S+, \d+ \w+ \d{4}\.", signed)
    assert "Still needed before the offer" not in signed
    assert "Every countersignature the offer needs is given" in signed

    april.post(f"/cases/{ref}/advance", {"trigger": "offer"})
    offered = text_of(april.get(f"/cases/{ref}").text)
    assert "Countersigned by aaron" in offered
    assert "Every countersignature the offer needs is given" not in offered  # it is made
    # An offer that needs none has no such section; the council sees none.
    assert 'id="countersignature"' not in april.get(f"/cases/{below}").text
    assert 'id="countersignature"' not in site.as_("cllr").get(f"/cases/{ref}").text


def test_only_the_sro_is_asked_to_countersign_a_high_risk_bid_the_others_are_told_why(site):
    from workflow.services import diligence

    world = site.world
    ref = world.bid(amount="60000", transitional_costs="40000")
    world.advance(ref, "submit")
    diligence.record(
        world.engine,
        ref,
        "fraud_risk",
        "carol",
        result="pass",
        rating="high",
        evidence="The council's s151 officer changed twice this year.",
    )
    world.advance(ref, "check", "start_assessment")
    for name in ("ash", "asha"):
        assessment.declare(world.engine, ref, name, conflict=False)
        assessment.score(world.engine, ref, name, innovation=4, costs=3, savings=4)
    world.advance(ref, "moderate", "recommend")
    world.name_sro("aaron")

    theirs = text_of(site.as_("aaron").get("/inbox").text)
    others = text_of(site.as_("april").get("/inbox").text)

    assert "Recommended bids to countersign 1" in theirs
    assert "Recommended bids to countersign none" in others
    assert "Recommended bids that cannot be offered now 1" in others
    assert (
        f"{ref}'s fraud risk is rated high: it needs the countersignature of the programme's "
        f"senior responsible owner, aaron" in others
    )
    page = text_of(site.as_("april").get(f"/cases/{ref}").text)
    assert (
        "The fraud risk is rated high: the programme's senior responsible owner, aaron, "
        "countersigns it, whatever its amount." in page
    )
