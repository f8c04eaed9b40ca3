"""The web app does the same on SQLite and PostgreSQL: lists, searches, a return from submission to audit."""

from __future__ import annotations

import pytest

from tests.builders import World
from tests.web.site import Site, bid_in_monitoring, cast, open_return, text_of


@pytest.fixture
def anywhere(any_db, moment) -> Site:
    return Site(cast(World(any_db)))


def test_a_return_from_submission_to_an_intact_audit(anywhere, moment):
    world = anywhere.world
    ref = bid_in_monitoring(world)
    due = open_return(world, moment, ref)
    cllr, carol, audrey = anywhere.as_("cllr"), anywhere.as_("carol"), anywhere.as_("audrey")

    sent = cllr.post(
        f"/returns/{due}/submit",
        {"spend_to_date": "1000.50", "progress": "On track"},
        files={"evidence": ("q1.csv", b"spend\n1000.50\n", "text/csv")},
    )
    inbox = text_of(carol.get("/inbox").text)
    carol.get(f"/returns/{due}")
    accepted = carol.post(f"/returns/{due}/decide", {"trigger": "accept"})
    audit = text_of(audrey.get(f"/audit/{ref}").text)

    assert sent.status_code == 303 and accepted.status_code == 303
    assert "Returns submitted 1" in inbox
    assert (
        "The chain holds" in audit
        and "Q1: Send the return" in audit
        and "Q1: Accept the return" in audit
    )


def test_lists_and_searches_keep_each_council_to_its_own_cases(anywhere, moment):
    world = anywhere.world
    ref = bid_in_monitoring(world)
    open_return(world, moment, ref)
    link = f'href="/cases/{ref}"'

    partner = anywhere.as_("pat")
    elsewhere = anywhere.as_("otto")
    carol = anywhere.as_("carol")

    assert link in partner.get("/cases").text  # a partner in the bid
    assert f"/returns/{ref}/Q1" in partner.get("/returns").text
    assert link not in elsewhere.get("/cases").text
    assert elsewhere.get(f"/cases/{ref}").status_code == 404
    assert link in carol.get("/cases?org=E07000028").text  # found by a partner's code
    assert link in carol.get("/cases?q=procurement").text
    assert link in carol.get(f"/cases?q={ref}&state=in_monitoring").text
    assert f"/returns/{ref}/Q1" in carol.get("/returns?state=open").text
