"""Approvers offering at the same instant never commit more than the fund or a category allows.

SQLite serialises writers (BEGIN IMMEDIATE); PostgreSQL holds the programme
row (`FOR UPDATE`) before the facts of an offer are read. Both are tried
with real threads, each on its own connection, released together.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from workflow.services import awards, lifecycle
from workflow.storage.db import reading
from workflow.errors import CaseworkError, GuardFailed

from tests.workflow.awarding import (
    ledger_pence,
    load_programme,
    offer,
    offers_pence,
    recommended,
    small_programme,
)

APPROVERS = ("april", "aaron")


@pytest.fixture
def world(any_world):
    return any_world.cast()


def offer_together(world, refs):
    """Offer every bid at once, alternating approvers; returns {ref: None or the refusal}."""
    start = threading.Barrier(len(refs))

    def one(n_ref):
        n, ref = n_ref
        start.wait()
        try:
            lifecycle.advance(world.engine, ref, "offer", APPROVERS[n % 2])
            return ref, None
        except CaseworkError as err:
            return ref, err

    with ThreadPoolExecutor(max_workers=len(refs)) as pool:
        return dict(pool.map(one, enumerate(refs)))


def test_two_approvers_offering_the_last_500000_pounds_one_wins_and_one_is_told_what_remains(world):
    code = load_programme(world, small_programme("last-1", fund="1000000"))
    offer(world, recommended(world, amount="500000", programme=code))
    rivals = [recommended(world, amount="500000", programme=code) for _ in range(2)]

    outcome = offer_together(world, rivals)

    refused = [err for err in outcome.values() if err is not None]
    assert len(refused) == 1
    assert isinstance(refused[0], GuardFailed)
    assert "would commit £1,500,000, past the fund's £1,000,000 (£0 remains)" in str(refused[0])
    assert sorted(world.state(r) for r in rivals) == ["award_offered", "recommended"]
    assert ledger_pence(world.engine, code) == 100_000_000


@pytest.mark.parametrize("round_no", range(3))
def test_many_offers_at_once_never_commit_more_than_the_fund(world, round_no):
    code = load_programme(world, small_programme(f"race-{round_no}", fund="1000000"))
    bids = [recommended(world, amount="300000", programme=code) for _ in range(6)]

    outcome = offer_together(world, bids)

    won = [ref for ref, err in outcome.items() if err is None]
    assert len(won) == 3
    for err in outcome.values():
        if err is not None:
            assert isinstance(err, GuardFailed)
            assert "(£100,000 remains)" in str(err)
    assert ledger_pence(world.engine, code) == offers_pence(world.engine, code) == 90_000_000


@pytest.mark.parametrize("round_no", range(2))
def test_many_offers_at_once_never_pass_a_categorys_count(world, round_no):
    code = load_programme(world, small_programme(f"count-{round_no}", fund="9000000", max_count=2))
    bids = [recommended(world, amount="100000", programme=code) for _ in range(5)]

    outcome = offer_together(world, bids)

    refused = [err for err in outcome.values() if err is not None]
    assert len(refused) == 3
    assert all("allows at most 2 offers and 2 are already made" in str(e) for e in refused)
    assert ledger_pence(world.engine, code) == offers_pence(world.engine, code) == 20_000_000


@pytest.mark.parametrize("round_no", range(3))
def test_declines_and_offers_that_need_their_money_at_once_never_deadlock_or_overspend(
    world, round_no
):
    # A decline releases funds and an offer reserves them: both lock the fund before
    # the case, in that order, so on PostgreSQL they queue rather than deadlock, and
    # no two ledger rows start from the same running balance.
    code = load_programme(world, small_programme(f"swap-{round_no}", fund="1500000"))
    declining = [recommended(world, amount="500000", programme=code) for _ in range(3)]
    for ref in declining:
        offer(world, ref)
    waiting = [recommended(world, amount="500000", programme=code) for _ in range(3)]
    start = threading.Barrier(6)

    def decline(ref):
        start.wait()
        lifecycle.advance(world.engine, ref, "decline", "cllr", reason="The merger fell through.")

    def offer_waiting(n_ref):
        n, ref = n_ref
        start.wait()
        try:
            lifecycle.advance(world.engine, ref, "offer", APPROVERS[n % 2])
        except GuardFailed as err:
            return err  # it ran before enough declines: the fund was full then
        return None

    with ThreadPoolExecutor(max_workers=6) as pool:
        declines = [pool.submit(decline, ref) for ref in declining]
        offers = [pool.submit(offer_waiting, n_ref) for n_ref in enumerate(waiting)]
        for done in declines:
            done.result()  # any other error (a deadlock, a conflict) fails the test here
        refusals = [o.result() for o in offers]

    assert [world.state(r) for r in declining] == ["declined"] * 3
    for ref, refusal in zip(waiting, refusals):
        assert world.state(ref) == ("award_offered" if refusal is None else "recommended")
        assert refusal is None or "past the fund's £1,500,000" in str(refusal)
    held = ledger_pence(world.engine, code)
    assert held == offers_pence(world.engine, code) <= 150_000_000
    with reading(world.engine) as conn:  # the running balance kept on the latest row agrees
        assert awards.balance_pence(conn, code) == held
