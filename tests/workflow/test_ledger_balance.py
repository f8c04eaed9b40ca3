"""The committed total is the latest ledger row's running balance, and the rows always explain it.

After any mix of offers, refused offers, declines and terminations, every
row's `balance_pence` is the sum of reserved minus released up to it, and
the committed total read from the balance is the total added up row by row,
on SQLite and PostgreSQL, also when declines and offers race.
"""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from workflow.services import awards, lifecycle
from workflow.services import programme_files as programme_store
from workflow.errors import CaseworkError, GuardFailed
from workflow.storage.tables import cases as cases_t, ledger

from tests.workflow.awarding import (
    ledger_pence,
    load_programme,
    offer,
    offers_pence,
    recommended,
    small_programme,
)


@pytest.fixture
def world(any_world):
    return any_world.cast()


def balances_and_sums(engine, programme: str) -> list[tuple[int, int]]:
    """For each of the programme's rows in the order written: (its balance, the sum up to it)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ledger.c.entry, ledger.c.amount_pence, ledger.c.balance_pence)
            .where(ledger.c.programme == programme)
            .order_by(ledger.c.id)
        ).all()
    out, total = [], 0
    for entry, amount, balance in rows:
        total += amount if entry == "reserve" else -amount
        out.append((balance, total))
    return out


def assert_balance_explained(engine, programme: str) -> None:
    pairs = balances_and_sums(engine, programme)
    assert [b for b, _ in pairs] == [s for _, s in pairs]
    with engine.connect() as conn:
        committed = programme_store.committed_pence(conn, programme)
    assert committed == ledger_pence(engine, programme) == offers_pence(engine, programme)


# --- any sequence, through the real services ------------------------------------
AMOUNTS = ("100000", "250000", "500000")


@pytest.mark.parametrize("seed", range(3))
def test_the_balance_is_the_summed_ledger_after_any_offers_declines_and_terminations(world, seed):
    rng = random.Random(seed)
    main = load_programme(world, small_programme(f"walk-{seed}", fund="1500000"))
    side = load_programme(world, small_programme(f"side-{seed}", fund="1000000"))
    with world.engine.connect() as conn:
        assert programme_store.committed_pence(conn, main) == 0
    # Two programmes, so their rows interleave in the table.
    waiting = [
        recommended(world, amount=rng.choice(AMOUNTS), programme=rng.choice((main, side)))
        for _ in range(8)
    ]
    offered: list[str] = []
    monitored: list[str] = []

    for _ in range(24):
        move = rng.choice(("offer", "offer", "decline", "accept", "terminate"))
        if move == "offer" and waiting:
            ref = waiting.pop(rng.randrange(len(waiting)))
            try:
                offer(world, ref, by=rng.choice(("april", "aaron")))
                offered.append(ref)
            except GuardFailed:  # past the fund: refused, no row written
                assert world.state(ref) == "recommended"
        elif move == "decline" and offered:
            world.advance(offered.pop(rng.randrange(len(offered))), "decline", by="cllr")
        elif move == "accept" and offered:
            ref = offered.pop(rng.randrange(len(offered)))
            world.advance(ref, "accept", by="cllr")
            monitored.append(ref)
        elif move == "terminate" and monitored:
            ref = monitored.pop(rng.randrange(len(monitored)))
            world.advance(ref, "suspend", reason="Returns overdue: audit of spend opened")
            lifecycle.advance(
                world.engine, ref, "terminate", "aaron", reason="Audit found the grant misspent"
            )

        for code in (main, side):
            assert_balance_explained(world.engine, code)
        for ref in offered + monitored:
            case_id, code = _id_and_programme(world, ref)
            with world.engine.connect() as conn:
                assert programme_store.committed_pence(
                    conn, code, leave_out_case=case_id
                ) == awards.held_pence(conn, programme=code, leave_out_case=case_id)


def _id_and_programme(world, ref: str) -> tuple[int, str]:
    with world.engine.connect() as conn:
        row = conn.execute(
            select(cases_t.c.id, cases_t.c.programme).where(cases_t.c.ref == ref)
        ).one()
    return row.id, row.programme


def test_a_category_total_is_still_added_up_from_its_rows(world):
    ref = recommended(world, "single_operation", "1000000")
    offer(world, ref)
    offer(world, recommended(world, amount="300000"))

    with world.engine.connect() as conn:
        assert (
            programme_store.committed_pence(conn, "tca-2013", category="single_operation")
            == 100_000_000
        )
        assert programme_store.committed_pence(conn, "tca-2013") == 130_000_000
    assert_balance_explained(world.engine, "tca-2013")


# --- declines and offers at the same instant -------------------------------------
def at_once(calls):
    """Run every call at the same moment, each on its own thread; [None or the refusal]."""
    start = threading.Barrier(len(calls))

    def one(call):
        start.wait()
        try:
            call()
            return None
        except CaseworkError as err:
            return err

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, calls))


@pytest.mark.parametrize("round_no", range(3))
def test_a_decline_and_an_offer_at_the_same_instant_leave_the_balance_explained(world, round_no):
    code = load_programme(world, small_programme(f"swap-{round_no}", fund="1000000"))
    held = [recommended(world, amount="500000", programme=code) for _ in range(2)]
    for ref in held:
        offer(world, ref)
    waiting = recommended(world, amount="500000", programme=code)

    declined, offered = at_once(
        [
            lambda: world.advance(held[0], "decline", by="cllr"),
            lambda: offer(world, waiting, by="aaron"),
        ]
    )

    assert declined is None
    # The offer fits only if the decline was weighed first; either way the fund holds.
    assert offered is None or isinstance(offered, GuardFailed)
    assert world.state(waiting) == ("award_offered" if offered is None else "recommended")
    assert_balance_explained(world.engine, code)
    assert ledger_pence(world.engine, code) <= 100_000_000


def test_many_declines_and_offers_at_once_never_pass_the_fund_and_stay_explained(world):
    code = load_programme(world, small_programme("churn-1", fund="2000000"))
    held = [recommended(world, amount="500000", programme=code) for _ in range(4)]
    for ref in held:
        offer(world, ref)
    waiting = [recommended(world, amount="500000", programme=code) for _ in range(4)]
    calls = [lambda r=ref: world.advance(r, "decline", by="cllr") for ref in held]
    calls += [
        lambda r=ref, n=n: offer(world, r, by=("april", "aaron")[n % 2])
        for n, ref in enumerate(waiting)
    ]

    outcome = at_once(calls)

    assert outcome[:4] == [None] * 4
    assert all(err is None or isinstance(err, GuardFailed) for err in outcome[4:])
    assert_balance_explained(world.engine, code)
    assert ledger_pence(world.engine, code) <= 200_000_000
