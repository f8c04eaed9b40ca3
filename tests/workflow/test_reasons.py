"""Actions that cannot be undone ask for a reason (DESIGN.md section 12).

The definitions say it once (`T(needs_reason=True)`) and the engine's one
rule (`has_reason`) refuses every face alike; here through the service each
face calls. tests/cli, tests/api and tests/web hold each face to the same.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from states import DEFINITIONS
from tests.irreversible import MOVES, ready
from workflow.errors import ReasonRequired
from workflow.services import lifecycle
from workflow.storage.tables import outbox

# DESIGN.md section 12's list; a bid's award declined is not on it.
CANNOT_BE_UNDONE = {"suspend", "terminate", "reject", "withdraw", "declare_ineligible"}


def test_every_move_that_cannot_be_undone_needs_a_reason_in_its_definition():
    fired = {
        (d.kind, t.trigger): t.needs_reason
        for d in DEFINITIONS.values()
        for t in d.transitions
        if t.trigger in CANNOT_BE_UNDONE
    }

    assert fired and all(fired.values()), fired
    assert {(m.kind, m.trigger) for m in MOVES} == set(fired)


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.id)
def test_a_move_that_cannot_be_undone_is_refused_without_a_reason_and_changes_nothing(world, move):
    ref = ready(world.cast(), move)
    before = world.snapshot()

    for reason in (None, "", "  \n\t"):
        with pytest.raises(ReasonRequired) as refused:
            lifecycle.advance(world.engine, ref, move.trigger, move.by, reason=reason)
        assert str(refused.value) == f"'{move.words}' on {ref} needs a reason: say why."

    assert world.snapshot() == before  # no history row, no version, no email, no ledger row


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.id)
def test_with_a_reason_it_is_done_and_the_reason_is_kept_in_the_history_and_the_email(world, move):
    ref = ready(world.cast(), move)
    version = lifecycle.show(world.engine, ref)["version"]

    done = lifecycle.advance(world.engine, ref, move.trigger, move.by, reason=move.reason)

    assert done["version"] == version + 1
    # (a suspension's held payments follow its row, each a row of its own)
    [row] = [h for h in lifecycle.case_history(world.engine, ref) if h["trigger"] == move.trigger]
    assert (row["actor"], row["reason"], row["to_state"]) == (move.by, move.reason, done["state"])
    if move.email:
        [body] = _bodies(world, ref, move.email)
        assert move.reason in " ".join(body.split())


def _bodies(world, ref: str, kind: str) -> list[str]:
    with world.engine.connect() as conn:
        return list(
            conn.execute(
                select(outbox.c.body_text).where(outbox.c.case_ref == ref, outbox.c.kind == kind)
            ).scalars()
        )
