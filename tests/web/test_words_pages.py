"""Suspended cases hold the ladder, and an empty return is refused: as the web shows them."""

from datetime import datetime, timedelta, timezone

from tests.web.site import bid_in_monitoring, open_return, text_of
from workflow.services import monitoring
from workflow.runtime.sweep import sweep


def test_a_step_held_while_the_case_is_suspended_shows_in_its_history(site, moment):
    ref = bid_in_monitoring(site.world)
    open_return(site.world, moment, ref)
    site.world.advance(ref, "suspend", reason="Audit of the council's accounts")
    due = datetime.fromisoformat(monitoring.get_checkpoint(site.engine, f"{ref}/Q1")["due"])
    moment.set(due.replace(hour=10, tzinfo=timezone.utc) + timedelta(days=2))
    sweep(site.engine)

    page = text_of(site.as_("carol").get(f"/cases/{ref}").text)

    assert "Q1: Held: case suspended" in page
    assert "Q1: Overdue" not in page and "Q1: Mark overdue" not in page


def test_an_empty_return_is_refused_on_the_web_and_changes_nothing(site, moment):
    ref = bid_in_monitoring(site.world)
    due = open_return(site.world, moment, ref)
    cllr = site.as_("cllr")
    cllr.get(f"/returns/{due}")
    before = site.world.snapshot()

    refused = cllr.post(f"/returns/{due}/submit", {"risks": "  "})

    # Each figure the return needs is asked for at its field, in words, with no codes.
    assert refused.status_code == 400
    assert "Enter spend to date" in text_of(refused.text)
    assert "Enter progress" in text_of(refused.text)
    assert "spend_to_date" not in text_of(refused.text)
    assert site.world.snapshot() == before
    assert monitoring.get_checkpoint(site.engine, due)["state"] == "open"


def test_the_kind_of_shared_arrangement_is_shown_by_its_label(site):
    """ "linked_it" reads "Linked IT", as the application form asks it, not "Linked it"."""
    ref = site.world.bid(arrangement="linked_it")

    page = text_of(site.as_("carol").get(f"/cases/{ref}").text)

    assert "Linked IT" in page and "Linked it" not in page
