"""Two caseworkers at the same moment: exactly one wins, the other writes nothing."""

import threading

import pytest
from sqlalchemy import func, select

from workflow.services import lifecycle
from workflow.errors import CaseworkError, ConflictError
from workflow.storage.tables import history


@pytest.fixture
def w(any_world):
    w = any_world.cast()
    w.person("cathy", "caseworker")
    return w


def _race(engine, ref, moves):
    """Fire each (trigger, person[, reason]) from its own thread, all starting together."""
    seen = lifecycle.show(engine, ref)["version"]
    barrier = threading.Barrier(len(moves))
    outcomes: list = [None] * len(moves)

    def run(i, trigger, person, reason=None):
        barrier.wait()
        try:
            outcomes[i] = lifecycle.advance(
                engine, ref, trigger, person, reason=reason, expected_version=seen
            )["state"]
        except CaseworkError as err:
            outcomes[i] = err

    threads = [threading.Thread(target=run, args=(i, *m)) for i, m in enumerate(moves)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def _rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(history)).scalar()


@pytest.mark.parametrize("round_", range(5))
def test_two_caseworkers_advancing_one_case_at_once_exactly_one_wins(w, round_):
    ref = w.bid()
    w.advance(ref, "submit")
    w.pass_diligence(ref)
    rows_before = _rows(w.engine)

    outcomes = _race(
        w.engine,
        ref,
        [
            ("check", "carol"),
            ("withdraw", "cathy", "Council asked to withdraw: partnership dissolved"),
        ],
    )

    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, Exception)]
    assert len(winners) == 1 and len(losers) == 1
    assert isinstance(losers[0], ConflictError)
    assert "nothing of yours was written" in str(losers[0])
    # The winning move's row, and a check's automatic due-diligence rows (three for this bid).
    assert _rows(w.engine) == rows_before + 1 + (3 if winners[0] == "eligible" else 0)
    assert w.state(ref) == winners[0]


def test_many_writers_on_many_cases_keep_every_chain_whole(w):
    # Six leads: bids of one lead would be one another's duplicates, found as they race.
    refs = [w.bid(lead=w.org(f"E0700010{n}")) for n in range(6)]
    errors = []

    def drive(ref):
        try:
            w.advance(ref, "submit", "check", "start_assessment")
        except Exception as err:  # noqa: BLE001 - the assertion below reports it
            errors.append(err)

    threads = [threading.Thread(target=drive, args=(r,)) for r in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    from workflow.services.chain import verify

    with w.engine.connect() as conn:
        result = verify(conn)
    # Each: 4 moves and 8 due-diligence rows (3 automatic at submission and 3 at the check,
    # the fraud risk rated, the register's check overridden for a council named as no
    # council in the register is).
    assert result.ok and result.rows == 6 * (4 + 8)
