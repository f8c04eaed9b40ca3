"""Every endpoint for every role: who is answered, who is refused, and that refusals change nothing.

A council person sees only the cases their organisation leads or is a
partner in; another council's case is 404 with no data, as if it did not
exist. Triggers and returns are refused by the same services as the command
line (403 with the reason), and a refusal leaves the database as it was.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.api.conftest import Api, cast as cast_world
from tests.api.scene import AFTER_OPENING, ROLES, cast, monitored_bids
from tests.builders import World
from tests.workflow.awarding import offer, recommended
from workflow import clock
from workflow.storage.db import make_engine

EVERYONE = set(ROLES)
STAFF = {"caseworker", "assessor", "approver", "auditor", "admin"}
COUNCILS_SEEING_IT = {"lead council", "partner council"}

# Each read: its path, and the roles answered 200. Every other role is refused
# 403, except that a council person is told 404 about a case that is not theirs.
READS = {
    "list cases": ("/cases", EVERYONE),
    "show a case": ("/cases/{ref}", EVERYONE),
    "a case's history": ("/cases/{ref}/history", {"caseworker", "auditor"}),
    "a case's returns": ("/cases/{ref}/checkpoints", EVERYONE),
    "one return": ("/cases/{ref}/checkpoints/Q1", EVERYONE),
    "programmes": ("/programmes", EVERYONE),
    "ranking": ("/programmes/tca-2013/ranking", STAFF),
    "360giving": ("/programmes/tca-2013/360giving", EVERYONE),
    "outbox": ("/outbox", {"caseworker"}),
    "history export": ("/audit/export", {"auditor"}),
}
CASE_READS = {name for name, (path, _) in READS.items() if "{ref}" in path}


def expected_read(read: str, role: str) -> int:
    path, allowed = READS[read]
    if role not in allowed:
        return 403
    if role == "other council" and read in CASE_READS:
        return 404
    return 200


@pytest.fixture(scope="module")
def scene(sqlite_template, tmp_path_factory):
    """One monitored bid (returns open, an award to publish), read by everyone."""
    path = tmp_path_factory.mktemp("roles") / "casework.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    api = Api(cast_world(World(engine)))
    (ref,) = monitored_bids(api)
    yield api, ref
    engine.dispose()


@pytest.mark.parametrize("role", sorted(ROLES))
@pytest.mark.parametrize("read", sorted(READS))
def test_who_may_read_what(scene, read, role):
    api, ref = scene
    before = api.world.snapshot()

    with clock.simulate(AFTER_OPENING):
        answer = api.get(READS[read][0].format(ref=ref), who=ROLES[role])

    assert answer.status_code == expected_read(read, role), answer.text
    if answer.status_code != 200:
        assert answer.headers["content-type"] == "application/problem+json"
        assert ref not in answer.text or answer.status_code == 404
    assert api.world.snapshot() == before


def test_a_council_lists_only_the_cases_it_leads_or_partners(scene):
    api, ref = scene

    seen = {
        role: [c["ref"] for c in api.get("/cases", who=ROLES[role]).json()["items"]]
        for role in ("lead council", "partner council", "other council", "auditor")
    }

    assert seen == {
        "lead council": [ref],
        "partner council": [ref],
        "other council": [],
        "auditor": [ref],
    }


def test_another_councils_case_is_not_found_and_shows_nothing_of_it(scene):
    api, ref = scene

    answer = api.get(f"/cases/{ref}", who="olly")

    assert answer.status_code == 404
    assert answer.json()["detail"] == f"There is no case {ref}."
    assert "E07000026" not in answer.text and "Joint procurement" not in answer.text


# --- changes -----------------------------------------------------------------------------
# Submitting a draft bid and submitting a return: the council that leads and a
# caseworker may; a partner council may read but not act (and sees no draft at all).
WRITES_ALLOWED = {"caseworker", "lead council"}


def expected_write(role: str, *, draft: bool = False) -> int:
    unseen = ("other council", "partner council") if draft else ("other council",)
    return 200 if role in WRITES_ALLOWED else 404 if role in unseen else 403


def test_who_may_fire_a_trigger(api):
    cast(api)
    bids = {role: api.world.bid() for role in ROLES}

    for role, ref in bids.items():
        before = api.world.snapshot()
        answer = api.advance(ref, "submit", who=ROLES[role])

        assert answer.status_code == expected_write(role, draft=True), (role, answer.text)
        if answer.status_code != 200:
            assert api.world.snapshot() == before, role
            assert api.world.state(ref) == "draft"
        else:
            assert answer.json()["state"] == "submitted"


def test_who_may_submit_a_return(api):
    refs = iter(monitored_bids(api, count=2))
    figures = json.dumps({"spend_to_date": "1000", "progress": "On track."})

    with clock.simulate(AFTER_OPENING):
        for role in sorted(ROLES, key=lambda r: r in WRITES_ALLOWED):  # refusals first
            ref = next(refs) if role in WRITES_ALLOWED else "TCA-2013-0001"
            before = api.world.snapshot()
            answer = api.post(
                f"/cases/{ref}/checkpoints/Q1/submit", who=ROLES[role], data={"figures": figures}
            )

            assert answer.status_code == expected_write(role), (role, answer.text)
            if answer.status_code == 200:
                assert answer.json()["state"] == "submitted"
            else:
                assert api.world.snapshot() == before, role


def test_a_partner_council_is_told_why_it_cannot_act(api):
    cast(api)
    ref = api.world.bid()
    api.world.advance(ref, "submit")  # a draft is its lead's alone: pat would not see it

    answer = api.advance(ref, "withdraw", who="pat", reason="We are leaving the partnership")

    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        f"pat is not a person of E07000026, the lead organisation "
        f"of {ref}, so they cannot do 'Withdraw' on it."
    )


def test_an_auditor_reads_everything_and_changes_nothing(api):
    cast(api)
    ref = api.world.bid()
    before = api.world.snapshot()

    answer = api.advance(ref, "submit", who="audrey")

    assert answer.status_code == 403
    assert "audrey (auditor) may not do 'Submit the bid'" in answer.json()["detail"]
    assert api.world.snapshot() == before


def test_an_approver_offers_an_award_through_the_api(api):
    ref = recommended(api.world)
    before = api.world.snapshot()

    unsigned = api.advance(ref, "offer", who="april")  # £250,000: above £100,000
    assert unsigned.status_code == 422
    assert "it needs a second approver's countersignature" in unsigned.json()["detail"]
    assert api.world.snapshot() == before
    signed = api.advance(ref, "countersign", who="aaron")
    assert signed.status_code == 200 and signed.json()["state"] == "recommended"
    answer = api.advance(ref, "offer", who="april")

    assert answer.status_code == 200
    assert answer.json()["state"] == "award_offered"
    last = api.get(f"/cases/{ref}/history", who="audrey").json()["items"][-1]
    assert (last["trigger"], last["actor"], last["payload"]["amount"]) == (
        "offer",
        "april",
        "250000.00",
    )
    assert last["payload"]["agreement"]["version"] == 1  # the agreement drawn up


@pytest.mark.parametrize(
    "who, status", [("ash", 403), ("carol", 403), ("cllr", 403), ("audrey", 403), ("aaron", 200)]
)
def test_only_an_approver_countersigns_through_the_api(api, who, status):
    ref = recommended(api.world)
    before = api.world.snapshot()

    answer = api.advance(ref, "countersign", who=who)

    assert answer.status_code == status, answer.text
    if status != 200:
        assert api.world.snapshot() == before
    else:
        again = api.advance(ref, "countersign", who=who)
        assert again.status_code == 403 and "already countersigned" in again.json()["detail"]


def test_an_approver_who_assessed_the_bid_may_not_offer_it(api):
    ref = recommended(api.world)
    before = api.world.snapshot()

    answer = api.advance(ref, "offer", who="ash")  # an assessor of it, not an approver

    assert answer.status_code == 403
    assert api.world.snapshot() == before


def test_the_ranking_is_refused_to_councils(api):
    ref = recommended(api.world)
    offer(api.world, ref)

    staff = api.get("/programmes/tca-2013/ranking", who="april")
    council = api.get("/programmes/tca-2013/ranking", who="cllr")

    assert [r["ref"] for r in staff.json()["items"]] == [ref]
    assert council.status_code == 403
    assert council.json()["detail"].startswith("cllr (council) may not read a programme's ranking")
