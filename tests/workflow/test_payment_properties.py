"""Property: whatever happens to an award, and in whatever order, payments stay within it.

Any interleaving of suspend, reinstate, terminate, returns accepted, variations of the
amount (proposed by the council, approved by an approver), approve and pay never
pays more than the award, never pays while the case is suspended, keeps the fund ledger's
committed total and the programme's paid total equal to the sums of their rows, and leaves
every chain verifiable.
"""

from __future__ import annotations

import shutil
import uuid
from collections import Counter

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import case as when, func, select

from tests.builders import World
from tests.workflow.payments_world import accept_return, award, open_returns
from workflow.errors import CaseworkError
from workflow.services import chain, lifecycle, payments
from workflow.storage.db import make_engine, reading
from workflow.storage.tables import ledger
from workflow.storage.tables import payments as payments_t

DONE: Counter[str] = Counter()  # what the examples got done, for the assertion below
# Each step: a case move, a return accepted, a variation of the amount, or people moving
# every payment they could (the approver approves what is due, finance pays what is
# approved, the caseworker holds or releases one). Termination is rarer than the rest.
STEPS = st.lists(
    st.one_of(
        st.sampled_from(
            ["suspend", "reinstate", "return", "approve", "pay", "hold", "release", "terminate"]
        ),
        st.sampled_from(["return", "approve", "pay", "reinstate"]),
        st.tuples(st.just("vary"), st.integers(50_000, 400_000)),
    ),
    max_size=18,
)


PEOPLE = {"approve": "april", "pay": "fiona", "hold": "carol", "release": "carol"}
FROM = {"approve": "due", "pay": "approved", "hold": "due", "release": "held"}


def move_every(engine, ref: str, trigger: str, state: str) -> None:
    """The person whose move it is moves every payment they can (one, to hold or release)."""
    listed = [p for p in payments.list_payments(engine, case=ref) if p["state"] == FROM[trigger]]
    for p in listed[:1] if trigger in ("hold", "release") else listed:
        done = payments.move(
            engine, p["ref"], trigger, PEOPLE[trigger], reason="Property test", reference="BACS 1"
        )
        if trigger == "pay":
            assert state == "in_monitoring", f"paid while {state}"
            assert done["state"] == "paid"
            DONE["paid"] += 1


def check(world: World, ref: str) -> None:
    with reading(world.engine) as conn:
        case = lifecycle.load_case(conn, ref)
        live = conn.execute(
            select(func.coalesce(func.sum(payments_t.c.amount_pence), 0)).where(
                payments_t.c.case_id == case.id, payments_t.c.state.in_(payments.LIVE)
            )
        ).scalar()
        paid = payments.paid_pence(conn, case.id)
        assert paid <= live <= case.amount_pence
        signed = when(
            (ledger.c.entry == "reserve", ledger.c.amount_pence), else_=-ledger.c.amount_pence
        )
        total = conn.execute(
            select(func.coalesce(func.sum(signed), 0)).where(ledger.c.programme == "tca-2013")
        ).scalar()
        assert (
            total
            == conn.execute(
                select(ledger.c.balance_pence).order_by(ledger.c.id.desc()).limit(1)
            ).scalar()
        )
        assert total >= paid  # what is paid stays committed
        rows = conn.execute(
            select(func.coalesce(func.sum(payments_t.c.amount_pence), 0)).where(
                payments_t.c.state.in_(payments.SETTLED)
            )
        ).scalar()
        assert payments.figures(conn, "tca-2013")["paid_pence"] == rows  # the kept total
        assert payments.paid_by_rows(conn, "tca-2013") == rows
        assert chain.verify(conn).ok


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
# Two walks every run takes, whatever the random ones do: a tranche approved and paid, a
# variation up and one down, a payment tried while suspended, the next return and tranche.
@example(
    steps=[
        "approve",
        "pay",
        ("vary", 300_000),
        "suspend",
        "pay",
        "reinstate",
        "return",
        "approve",
        "pay",
    ]
)
@example(
    steps=[
        "return",
        ("vary", 120_000),
        "approve",
        "suspend",
        "approve",
        "pay",
        "reinstate",
        "pay",
        "terminate",
        "pay",
    ]
)
def test_no_interleaving_pays_past_the_award_or_while_suspended_even_as_it_varies(
    sqlite_template, tmp_path_factory, steps
):
    path = tmp_path_factory.mktemp("prop") / f"{uuid.uuid4().hex}.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        world = World(engine).cast()
        ref = award(world, amount="250000.03")
        open_returns(world, ref)
        returns = iter(["Q1", "Q2", "Q3", "Q4"])
        for step in steps:
            state = world.state(ref)
            try:
                if step == "return":
                    label = next(returns, None)
                    if label:
                        accept_return(world, ref, label)
                elif step in ("suspend", "reinstate", "terminate"):
                    who = {"terminate": "aaron"}.get(step, "carol")
                    lifecycle.advance(engine, ref, step, who, reason="Property test")
                elif step[0] == "vary":  # a variation of the amount: re-plans unpaid ones
                    from workflow.services import variations

                    proposed = variations.propose(
                        engine, ref, amount=str(step[1]), reason="Property test", actor="cllr"
                    )
                    try:  # an increase above £100,000: a second approver
                        variations.countersign(engine, proposed["ref"], "april")
                    except CaseworkError:
                        pass  # needs none (a decrease, or not above the threshold)
                    variations.decide(engine, proposed["ref"], "approve", "aaron")
                else:
                    move_every(engine, ref, step, state)
            except CaseworkError:
                DONE["refused"] += 1  # refused: nothing was written (checked below all the same)
            else:
                DONE[step if isinstance(step, str) else step[0]] += 1
            check(world, ref)
    finally:
        engine.dispose()


def test_the_interleavings_reach_payments_and_variations(sqlite_template, tmp_path_factory):
    """The property above is worth its name only if its examples pay and vary."""
    test_no_interleaving_pays_past_the_award_or_while_suspended_even_as_it_varies(
        sqlite_template, tmp_path_factory
    )
    assert DONE["paid"] and DONE["vary"] and DONE["approve"] and DONE["suspend"], DONE
