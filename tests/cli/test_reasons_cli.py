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


def at_a_terminal(cli, *args: str, answer: str) -> tuple[int, str]:
    """`casework ARGS` run at a (pseudo) terminal, typing `answer` when asked."""
    import os
    import pty
    import select
    import subprocess

    from tests.cli.conftest import CASEWORK

    main, side = pty.openpty()
    env = {**os.environ, "CASEWORK_DB": cli.url, "CASEWORK_MAIL": f"file:{cli.tmp / 'mail'}"}
    proc = subprocess.Popen(
        [CASEWORK, *args], stdin=side, stdout=side, stderr=side, env=env, close_fds=True
    )
    os.close(side)
    said, answered = b"", False
    while True:
        ready_, _, _ = select.select([main], [], [], 60)
        assert ready_, f"no answer from casework: {said!r}"
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closed: casework has exited
            break
        if not chunk:
            break
        said += chunk
        if not answered and b"Are you sure?" in said:
            os.write(main, answer.encode() + b"\n")
            answered = True
    os.close(main)
    return proc.wait(timeout=60), said.decode().replace("\r\n", "\n")


@pytest.mark.parametrize("answer", ["n", ""])
def test_at_a_terminal_it_says_what_cannot_be_undone_and_a_no_changes_nothing(cli, world, answer):
    move = next(m for m in MOVES if (m.kind, m.trigger) == ("bid", "terminate"))
    ref = ready(world, move)
    before = world.snapshot()

    code, said = at_a_terminal(
        cli,
        "case",
        "advance",
        ref,
        move.trigger,
        "--as",
        move.by,
        "--reason",
        move.reason,
        answer=answer,
    )

    assert code == 1
    assert f"Terminate the award {ref}: The award ends for good" in said, said
    assert "Nothing was changed" in said
    assert world.snapshot() == before


def test_at_a_terminal_a_yes_does_it_and_yes_flag_is_not_asked(cli, world):
    move = next(m for m in MOVES if (m.kind, m.trigger) == ("bid", "withdraw"))
    first, second = ready(world, move), ready(world, move)

    code, said = at_a_terminal(
        cli,
        "case",
        "advance",
        first,
        "withdraw",
        "--as",
        move.by,
        "--reason",
        move.reason,
        answer="y",
    )
    unasked, said_unasked = at_a_terminal(
        cli,
        "case",
        "advance",
        second,
        "withdraw",
        "--as",
        move.by,
        "--reason",
        move.reason,
        "--yes",
        answer="",
    )

    assert code == 0 and "Are you sure?" in said and f"{first} is now Withdrawn" in said
    assert unasked == 0 and "Are you sure?" not in said_unasked
    assert world.state(second) == "withdrawn"


def test_at_a_terminal_a_move_this_person_may_not_make_is_refused_without_asking(cli, world):
    move = next(m for m in MOVES if (m.kind, m.trigger) == ("bid", "terminate"))
    ref = ready(world, move)  # suspended: an approver's to terminate, not a caseworker's
    before = world.snapshot()

    code, said = at_a_terminal(
        cli,
        "case",
        "advance",
        ref,
        "terminate",
        "--as",
        "carol",
        "--reason",
        move.reason,
        answer="y",
    )

    assert code == 1 and "Are you sure?" not in said
    assert "may not do 'Terminate the award'" in said, said
    assert world.snapshot() == before
