"""On the command line, an action that cannot be undone needs `--reason` (DESIGN.md section 12),
as it does on the API and the web: the definition says so, and the one rule refuses."""

from __future__ import annotations

import pytest

from tests.builders import World
from tests.irreversible import MOVES, ready
from workflow.services import lifecycle
from workflow.storage.db import make_engine


@pytest.fixture
def world(cli):
    """The cast on the command line's database, through the services (fast)."""
    engine = make_engine(cli.url)
    yield World(engine).cast()
    engine.dispose()


@pytest.mark.parametrize("move", MOVES, ids=lambda m: m.id)
def test_case_advance_refuses_it_without_a_reason_and_does_it_with_one(cli, world, move):
    ref = ready(world, move)
    before = world.snapshot()

    refused = cli("case", "advance", ref, move.trigger, "--as", move.by)
    blank = cli("case", "advance", ref, move.trigger, "--as", move.by, "--reason", " ")

    assert refused.code == blank.code == 1
    assert refused.err.strip() == (
        f"'{move.words}' ({move.trigger}) on {ref} needs a reason: give one with --reason."
    )
    assert blank.err == refused.err and refused.out == ""
    assert world.snapshot() == before

    cli.ok("case", "advance", ref, move.trigger, "--as", move.by, "--reason", move.reason)

    [row] = [h for h in lifecycle.case_history(world.engine, ref) if h["trigger"] == move.trigger]
    assert (row["actor"], row["reason"]) == (move.by, move.reason)
