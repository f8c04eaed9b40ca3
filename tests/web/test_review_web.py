"""The annual review on the case page (DESIGN.md section 9): staff see every review of an
award; the caseworker records the one that is due with its decision and reason; a refusal is
said at its field and writes nothing; the council does not see the review."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.web.site import bid_in_monitoring, text_of
from workflow import clock
from workflow.runtime.sweep import sweep
from workflow.services import lifecycle, monitoring, reviews, variations
from workflow.services.calendar import london_day


@pytest.fixture
def due(site, moment) -> str:
    """An award whose first annual review is due (its returns waived, so nothing suspends it);
    april is the programme's senior responsible owner."""
    ref = bid_in_monitoring(site.world)
    site.world.name_sro("april")
    for cp in monitoring.list_checkpoints(site.engine, case=ref):
        monitoring.decide_return(
            site.engine, cp["ref"], "waive", "carol", reason="Not needed for this test."
        )
    moment.set(moment.at + timedelta(days=370))
    sweep(site.engine)
    assert reviews.list_reviews(site.engine, case=ref)[0]["status"] == "due"
    return ref


def version_of(site, ref: str) -> str:
    return str(lifecycle.show(site.engine, ref)["version"])


def test_the_caseworker_records_the_due_review_on_the_case_page(site, due):
    carol = site.as_("carol")
    page = text_of(carol.get(f"/cases/{due}").text)
    assert "Annual review" in page and "Record annual review R1" in page
    assert "Due" in page and "What does the review decide?" in page

    done = carol.post(
        f"/cases/{due}/review",
        {
            "review-decision": "continue",
            "review-reason": "Returns in, spend as planned.",
            "version": version_of(site, due),
        },
    )

    assert done.status_code == 303 and done.headers["location"].endswith("#review")
    after = text_of(carol.follow(done).text)
    assert f"{due}: annual review R1 recorded: Continue." in after
    assert "Recorded" in after and "recorded by carol" in after
    assert "Record annual review R1" not in after
    assert reviews.list_reviews(site.engine, case=due)[0]["decision"] == "continue"


def test_amend_with_a_new_amount_proposes_a_variation(site, due):
    carol = site.as_("carol")
    done = carol.post(
        f"/cases/{due}/review",
        {
            "review-decision": "amend",
            "review-reason": "Costs fell: the award can come down.",
            "review-amount": "200000",
            "version": version_of(site, due),
        },
    )

    assert done.status_code == 303
    assert f"{due}/V1 is proposed" in text_of(carol.follow(done).text)
    proposed = variations.list_variations(site.engine, case=due, actor_name="carol")
    assert [v["amount"] for v in proposed] == ["200000.00"]


@pytest.mark.parametrize(
    "data, status, words",
    [
        (
            {"review-decision": "continue", "review-reason": ""},
            400,
            "Enter why: what the review found",
        ),
        (
            {"review-decision": "maybe", "review-reason": "Why not."},
            400,
            "Select what the review decides",
        ),
        (
            {"review-reason": ""},
            400,
            "Select what the review decides Enter why: what the review found",
        ),
        (
            {"review-decision": "continue", "review-reason": "Fine.", "review-amount": "100"},
            400,
            "a new amount or end date goes with the decision amend only",
        ),
    ],
)
def test_a_bad_review_is_refused_at_its_field_and_writes_nothing(site, due, data, status, words):
    before = site.world.snapshot()

    refused = site.as_("carol").post(
        f"/cases/{due}/review", {**data, "version": version_of(site, due)}
    )

    assert refused.status_code == status, refused.text
    assert words in text_of(refused.text)
    assert site.world.snapshot() == before


def test_amend_with_a_new_end_date_typed_as_day_month_and_year(site, due):
    carol = site.as_("carol")
    end = london_day(clock.now()) + timedelta(days=200)
    form = carol.get(f"/cases/{due}").text

    done = carol.post(
        f"/cases/{due}/review",
        {
            "review-decision": "amend",
            "review-reason": "The works run late: the award runs longer.",
            "review-end-day": f"{end.day:02}",
            "review-end-month": str(end.month),
            "review-end-year": str(end.year),
            "version": version_of(site, due),
        },
    )

    assert "New end date, if the decision is amend (optional)</legend>" in form
    assert 'id="review-end-year" name="review-end-year"' in form
    assert done.status_code == 303, text_of(done.text)
    (proposed,) = variations.list_variations(site.engine, case=due, actor_name="carol")
    assert proposed["end_on"] == end.isoformat()


@pytest.mark.parametrize(
    "day, month, year, said, link, boxes",
    [
        ("1", "", "", "End date must include a month and year", "month", ["month", "year"]),
        ("29", "2", "2031", "End date must be a real date", "day", ["day", "month", "year"]),
        ("x", "2", "2031", "End date must be a real date", "day", ["day"]),
    ],
)
def test_an_end_date_that_is_not_a_date_is_refused_at_its_boxes_and_writes_nothing(
    site, due, day, month, year, said, link, boxes
):
    before = site.world.snapshot()
    typed = {"review-end-day": day, "review-end-month": month, "review-end-year": year}

    refused = site.as_("carol").post(
        f"/cases/{due}/review",
        {
            "review-decision": "amend",
            "review-reason": "Late works.",
            **typed,
            "version": version_of(site, due),
        },
    )

    assert refused.status_code == 400
    assert f'<a href="#review-end-{link}">{said}</a>' in refused.text
    assert f'id="review-end-error"><span class="visually-hidden">Error:</span> {said}' in (
        refused.text
    )
    found = re.findall(r'input--error" id="review-end-(day|month|year)"', refused.text)
    assert found == boxes
    for name, value in typed.items():
        assert f'name="{name}" type="text" inputmode="numeric" value="{value}"' in refused.text
    assert site.world.snapshot() == before


def test_an_amended_end_date_not_in_the_future_is_refused_at_its_boxes_in_gov_uk_words(site, due):
    """As a variation's proposal refuses it (the amendment proposes one), in the Design
    System's words at the boxes, not the service's with ISO dates in the review section."""
    before = site.world.snapshot()
    today = london_day(clock.now())
    typed = {
        "review-end-day": str(today.day),
        "review-end-month": str(today.month),
        "review-end-year": str(today.year),
    }

    refused = site.as_("carol").post(
        f"/cases/{due}/review",
        {
            "review-decision": "amend",
            "review-reason": "Late works.",
            **typed,
            "version": version_of(site, due),
        },
    )

    said = "End date must be in the future"
    assert refused.status_code == 400
    assert f'<a href="#review-end-day">{said}</a>' in refused.text
    assert f'id="review-end-error"><span class="visually-hidden">Error:</span> {said}' in (
        refused.text
    )
    found = re.findall(r'input--error" id="review-end-(day|month|year)"', refused.text)
    assert found == ["day", "month", "year"]
    assert "is not after today" not in refused.text
    for name, value in typed.items():
        assert f'name="{name}" type="text" inputmode="numeric" value="{value}"' in refused.text
    assert site.world.snapshot() == before


def test_a_review_left_empty_is_asked_for_in_words_at_each_field(site, due):
    refused = site.as_("carol").post(f"/cases/{due}/review", {"version": version_of(site, due)})

    assert refused.status_code == 400
    assert '<a href="#review-decision">Select what the review decides</a>' in refused.text
    assert '<a href="#review-reason">Enter why: what the review found</a>' in refused.text
    assert "continue, amend, stop" not in refused.text


def test_a_stale_page_is_refused(site, due):
    stale = str(int(version_of(site, due)) - 1)

    refused = site.as_("carol").post(
        f"/cases/{due}/review",
        {"review-decision": "continue", "review-reason": "Fine.", "version": stale},
    )

    assert refused.status_code == 409


def test_the_council_does_not_see_the_review_and_cannot_record_it(site, due):
    council = site.as_("cllr")
    assert "Annual review" not in text_of(council.get(f"/cases/{due}").text)

    refused = council.post(
        f"/cases/{due}/review",
        {
            "review-decision": "continue",
            "review-reason": "All fine.",
            "version": version_of(site, due),
        },
    )

    assert refused.status_code == 403
    assert reviews.list_reviews(site.engine, case=due)[0]["decision"] is None


def test_the_review_form_offers_only_decisions_that_can_be_recorded(site, due):
    """A suspended award takes no variation, so "amend" (which proposes one) would be refused:
    the form does not offer it, nor its amount and end date, and says why; continue and stop
    are offered and recorded."""
    site.world.advance(due, "suspend", reason="Second quarter's return not received")
    carol = site.as_("carol")

    page = carol.get(f"/cases/{due}").text
    said = text_of(page)

    assert "Record annual review R1" in said
    assert 'value="amend"' not in page and 'name="review-amount"' not in page
    assert 'value="continue"' in page and 'value="stop"' in page
    assert "a variation can be proposed only on an award in monitoring" in said
    done = carol.post(
        f"/cases/{due}/review",
        {
            "review-decision": "continue",
            "review-reason": "Returns in, spend as planned.",
            "version": version_of(site, due),
        },
    )
    assert done.status_code == 303
    assert reviews.list_reviews(site.engine, case=due)[0]["decision"] == "continue"


def test_amend_with_a_new_amount_while_a_variation_waits_is_refused_on_the_page(site, due):
    variations.propose(site.engine, due, reason="Scope widened.", actor="cllr")
    before = site.world.snapshot()

    refused = site.as_("carol").post(
        f"/cases/{due}/review",
        {
            "review-decision": "amend",
            "review-reason": "Costs fell: the award can come down.",
            "review-amount": "200000",
            "version": version_of(site, due),
        },
    )

    assert refused.status_code == 422
    assert (
        f"{due}/V1 is still waiting for a decision, so the new amount cannot be proposed now"
        in text_of(refused.text)
    )
    assert 'value="200000"' in refused.text  # what was typed is kept
    assert site.world.snapshot() == before
    assert reviews.list_reviews(site.engine, case=due)[0]["decision"] is None
