"""On the web, an action that cannot be undone asks "are you sure?" and, where its definition
needs one (DESIGN.md section 12), a reason: the page asks what the command line and the API
require, no more and no less."""

from __future__ import annotations

import re

import pytest

from tests.irreversible import MOVES, ready
from tests.web.site import recommended_bid, text_of
from workflow.services import lifecycle


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.id)
def test_the_confirmation_refuses_it_without_a_reason_and_does_it_with_one(site, move):
    ref = ready(site.world, move)
    visitor = site.as_(move.by)
    version = str(lifecycle.show(site.engine, ref)["version"])
    before = site.world.snapshot()

    asked = visitor.get(f"/cases/{ref}/confirm?trigger={move.trigger}&version={version}")
    empty = visitor.post(
        f"/cases/{ref}/advance",
        {"trigger": move.trigger, "version": version, "confirmed": "yes", "reason": " "},
    )

    assert asked.status_code == 200 and f"{move.words}: are you sure?" in text_of(asked.text)
    assert 'for="reason">Reason (required)' in asked.text
    assert re.search(r'<textarea [^>]*id="reason"[^>]* required', asked.text)
    assert empty.status_code == 422
    assert f"Give the reason for ‘{move.words}’" in text_of(empty.text)
    assert site.world.snapshot() == before

    done = visitor.post(
        f"/cases/{ref}/advance",
        {"trigger": move.trigger, "version": version, "confirmed": "yes", "reason": move.reason},
    )

    assert done.status_code == 303, text_of(done.text)[:400]
    [row] = [h for h in lifecycle.case_history(site.engine, ref) if h["trigger"] == move.trigger]
    assert (row["actor"], row["reason"]) == (move.by, move.reason)


def test_declining_an_award_is_confirmed_but_its_reason_is_optional_as_on_every_face(site):
    ref = recommended_bid(site.world)
    site.world.advance(ref, "offer", by="april")
    cllr = site.as_("cllr")

    asked = cllr.get(f"/cases/{ref}/confirm?trigger=decline")
    done = cllr.post(f"/cases/{ref}/advance", {"trigger": "decline", "confirmed": "yes"})

    assert "Decline the award: are you sure?" in text_of(asked.text)
    assert 'for="reason">Reason (optional)' in asked.text
    assert not re.search(r'<textarea [^>]*id="reason"[^>]* required', asked.text)
    assert done.status_code == 303 and site.world.state(ref) == "declined"
