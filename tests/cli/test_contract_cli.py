"""DESIGN section 6 as an operator meets it: what the audit of the command line found.

Each test runs the real `casework` script on a bid in monitoring (the `monitored` world)."""

from __future__ import annotations

import sqlite3


def _outbox(cli) -> list[tuple]:
    with sqlite3.connect(cli.url.removeprefix("sqlite:///")) as conn:
        return conn.execute(
            "SELECT id, state, attempts, next_attempt_at FROM outbox ORDER BY id"
        ).fetchall()


def _mark(cli, id: int, state: str) -> None:
    conn = sqlite3.connect(cli.url.removeprefix("sqlite:///"))
    with conn:
        sent = "'2013-10-02 09:00:00.000000'" if state == "sent" else "NULL"
        conn.execute(
            f"UPDATE outbox SET state = ?, attempts = 3, sent_at = {sent} WHERE id = ?",
            (state, id),
        )
    conn.close()


def test_retrying_a_message_already_sent_is_refused_naming_it_and_changes_nothing(monitored):
    cli = monitored
    ids = [row[0] for row in _outbox(cli)]
    assert len(ids) >= 2, "the monitored world queues mail"
    sent, dead = ids[0], ids[1]
    _mark(cli, sent, "sent")
    _mark(cli, dead, "dead")
    before = _outbox(cli)

    alone = cli("outbox", "retry", str(sent), "--as", "carol")
    # One of several sent: the whole request is refused, the dead one too stays as it was.
    mixed = cli("outbox", "retry", str(dead), str(sent), "--as", "carol")

    for ran in (alone, mixed):
        assert ran.code == 1 and ran.out == ""
        assert ran.err == (
            f"Message {sent} was not sent again: it was sent already, 10am, 2 October 2013, "
            "and a resend would carry the same Message-ID, which mail systems may drop as a "
            "duplicate.\n"
        )
    assert _outbox(cli) == before

    done = cli.ok("outbox", "retry", str(dead), "--as", "carol")
    assert done.out == "1 message queued again\n"
    assert [r[1:3] for r in _outbox(cli) if r[0] == dead] == [("queued", 0)]


def test_retry_takes_message_ids_or_all_dead_not_both(monitored):
    cli = monitored
    dead = _outbox(cli)[0][0]
    _mark(cli, dead, "dead")
    before = _outbox(cli)

    both = cli("outbox", "retry", str(dead), "--all-dead", "--as", "carol")
    neither = cli("outbox", "retry", "--as", "carol")

    assert both.code == neither.code == 2
    assert "give message ids or --all-dead, not both" in both.err
    assert "give message ids or --all-dead" in neither.err
    assert _outbox(cli) == before
