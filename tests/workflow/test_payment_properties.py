"""Property: whatever happens to an award, and in whatever order, payments stay within it.

Any interleaving of suspend, reinstate, terminate, returns accepted, approve and pay never
pays more than the award, never pays while the case is suspended, keeps the fund ledger's
committed total and the programme's paid total equal to the sums of their rows, and leaves
every chain verifiable.
"""
from __future__ import annotations

import shutil
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case as when, func, select

from tests.builders import World
from tests.workflow.payments_world import accept_return, award, open_returns
from workflow.errors import CaseworkError
from workflow.services import chain, lifecycle, payments
from workflow.storage.db import make_engine, reading
from workflow.storage.tables import ledger
from workflow.storage.tables import payments as payments_t

STEPS = st.lists(st.one_of(
    st.sampled_from(["suspend", "reinstate", "terminate", "return"]),
    st.tuples(st.sampled_from(["approve", "pay", "hold", "release"]), st.integers(1, 3)),
), max_size=14)


def check(world: World, ref: str) -> None:
    with reading(world.engine) as conn:
        case = lifecycle.load_case(conn, ref)
        live = conn.execute(select(func.coalesce(func.sum(payments_t.c.amount_pence), 0)).where(
            payments_t.c.case_id == case.id,
            payments_t.c.state.in_(payments.LIVE))).scalar()
        paid = payments.paid_pence(conn, case.id)
        assert paid <= live <= case.amount_pence
        signed = when((ledger.c.entry == "reserve", ledger.c.amount_pence),
                      else_=-ledger.c.amount_pence)
        total = conn.execute(select(func.coalesce(func.sum(signed), 0))
                             .where(ledger.c.programme == "tca-2013")).scalar()
        assert total == conn.execute(select(ledger.c.balance_pence)
                                     .order_by(ledger.c.id.desc()).limit(1)).scalar()
        assert total >= paid          # what is paid stays committed
        rows = conn.execute(select(func.coalesce(func.sum(payments_t.c.amount_pence), 0))
                            .where(payments_t.c.state.in_(payments.SETTLED))).scalar()
        assert payments.figures(conn, "tca-2013")["paid_pence"] == rows    # the kept total
        assert payments.paid_by_rows(conn, "tca-2013") == rows
        assert chain.verify(conn).ok


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(steps=STEPS)
def test_no_interleaving_pays_past_the_award_or_while_suspended(sqlite_template, tmp_path_factory,
                                                                steps):
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
                else:
                    trigger, n = step
                    who = {"approve": "april", "pay": "fiona"}.get(trigger, "carol")
                    done = payments.move(engine, f"{ref}/P{n}", trigger, who,
                                         reason="Property test", reference="BACS 1")
                    if trigger == "pay":
                        assert state == "in_monitoring", f"paid while {state}"
                        assert done["state"] == "paid"
            except CaseworkError:
                pass                  # refused: nothing was written (checked below all the same)
            check(world, ref)
    finally:
        engine.dispose()
