"""The outbox: queued in the caller's transaction, delivered once, never lost.

The delivery tests take `peer` and run twice: through SMTP to aiosmtpd, and
through GOV.UK Notify to the Notify stub (tests/notifications/mail_peers.py).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from notifications import (
    HeaderRefused,
    PermFailure,
    SmtpTransport,
    TempFailure,
    as_email,
    claim_batch,
    counts,
    deliver,
    enqueue,
    exists,
    get_message,
    list_messages,
    message_id_for,
    record_outcomes,
    render,
    retry,
    send_all,
)
from notifications.outbox import backoff_seconds, outbox
from tests.notifications.mail_fixtures import Clock, realistic_context
from tests.notifications.mail_peers import SmtpPeer

COUNCIL = "returns@tewkesbury.gov.uk"
CASEWORKER = "caseworker@communities.gsi.gov.uk"
SENDER = "TCA casework <casework@tca.example.gov.uk>"
DOMAIN = "casework.example.gov.uk"
T = outbox


def queue(db, clock, n=1, kind="checkpoint.overdue", to=(COUNCIL,), cc=(CASEWORKER,)) -> list[int]:
    ids = []
    with db.begin() as conn:
        for _ in range(n):
            ref = f"TCA-2013-{_count(conn) + 1:04d}"
            ctx = realistic_context(kind, case__ref=ref)
            ids.append(
                enqueue(
                    conn,
                    key=f"{ref}/Q2:{kind.split('.')[1]}",
                    kind=kind,
                    to=list(to),
                    cc=list(cc),
                    rendered=render(kind, ctx),
                    now=clock.now(),
                    case_ref=ref,
                    checkpoint_ref=f"{ref}/Q2",
                )
            )
    return ids


def _count(conn) -> int:
    return len(conn.execute(select(T.c.id)).all())


def row(db, id):
    with db.connect() as conn:
        return conn.execute(select(T).where(T.c.id == id)).one()


def run(db, peer, clock, owner="worker-1", **options):
    return deliver(
        db,
        peer.transport(timeout=2.0),
        now=clock.now,
        owner=owner,
        sender=SENDER,
        domain=DOMAIN,
        rng=random.Random(7),
        **options,
    )


def test_enqueue_writes_in_the_callers_transaction_and_never_commits(outbox_db, clock):
    rendered = render("bid.award_offered", realistic_context("bid.award_offered"))
    with outbox_db.connect() as conn:
        conn.begin()
        enqueue(
            conn,
            key="TCA-2013-0007:offer:12",
            kind="bid.award_offered",
            to=[COUNCIL],
            cc=[],
            rendered=rendered,
            now=clock.now(),
            case_ref="TCA-2013-0007",
        )
        assert exists(conn, "TCA-2013-0007:offer:12")
        conn.rollback()

    with outbox_db.connect() as conn:
        assert not exists(conn, "TCA-2013-0007:offer:12")


def test_a_key_is_queued_only_once(outbox_db, clock):
    [first] = queue(outbox_db, clock)
    key = row(outbox_db, first).key

    with pytest.raises(IntegrityError), outbox_db.begin() as conn:
        enqueue(
            conn,
            key=key,
            kind="checkpoint.overdue",
            to=[COUNCIL],
            cc=[],
            rendered=render("checkpoint.overdue", realistic_context("checkpoint.overdue")),
            now=clock.now(),
        )

    with outbox_db.connect() as conn:
        assert len(list_messages(conn)) == 1


@pytest.mark.parametrize(
    "field, value, header",
    [
        ("to", ["Leeds City Council\r\nBcc: spy@example.com <returns@leeds.gov.uk>"], "To"),
        ("cc", ["returns@leeds.gov.uk\nBcc: spy@example.com"], "Cc"),
    ],
)
def test_enqueue_refuses_an_injected_line_break_and_writes_nothing(
    outbox_db, clock, field, value, header
):
    args = {"to": [COUNCIL], "cc": [], field: value}

    with pytest.raises(HeaderRefused, match=f"^{header} refused"), outbox_db.begin() as conn:
        enqueue(
            conn,
            key="TCA-2013-0009:reject:4",
            kind="bid.rejected",
            rendered=render("bid.rejected", realistic_context("bid.rejected")),
            now=clock.now(),
            **args,
        )

    with outbox_db.connect() as conn:
        assert list_messages(conn) == []


def test_queued_messages_arrive_with_their_subject_text_and_recipients(outbox_db, peer, clock):
    ids = queue(outbox_db, clock, n=2)

    report = run(outbox_db, peer, clock)

    assert str(report) == "sent 2, retrying 0, dead 0"
    arrived = peer.wait_for(2)
    first = next(a for a in arrived if a.key == row(outbox_db, ids[0]).key)
    assert sorted(first.recipients) == sorted([COUNCIL, CASEWORKER])
    assert first.subject.startswith("Overdue: TCA-2013-0001 Q2 monitoring return")
    assert "due by the end of Friday 4 April 2014" in " ".join(first.text.split())
    sent = row(outbox_db, ids[0])
    assert (sent.state, sent.attempts, sent.sent_at, sent.claimed_by) == (
        "sent",
        1,
        clock.now(),
        None,
    )
    assert "accepted" in sent.smtp_response


def test_an_smtp_message_carries_the_sender_and_a_message_id_of_its_row(
    outbox_db, smtp_server, clock
):
    [id] = queue(outbox_db, clock)

    run(outbox_db, SmtpPeer(smtp_server), clock)

    [arrived] = smtp_server.wait_for(1)
    assert arrived.message["From"] == SENDER
    assert arrived.message["Message-ID"] == message_id_for(id, row(outbox_db, id).key, DOMAIN)


def test_a_temporary_failure_is_retried_after_about_a_minute_and_arrives_once(
    outbox_db, peer, clock
):
    [id] = queue(outbox_db, clock)
    peer.fail_next(1)

    first = run(outbox_db, peer, clock)

    waiting = row(outbox_db, id)
    assert str(first) == "sent 0, retrying 1, dead 0"
    assert (waiting.state, waiting.attempts, waiting.claimed_by) == ("queued", 1, None)
    assert peer.temporary in waiting.last_error
    assert timedelta(seconds=48) <= waiting.next_attempt_at - clock.now() <= timedelta(seconds=72)
    assert str(run(outbox_db, peer, clock)) == "sent 0, retrying 0, dead 0"  # not due yet

    clock.advance(73)
    assert str(run(outbox_db, peer, clock)) == "sent 1, retrying 0, dead 0"
    assert len(peer.wait_for(1)) == 1
    assert row(outbox_db, id).attempts == 2


def test_the_wait_doubles_with_each_failed_try_within_twenty_percent():
    rng = random.Random(1)

    waits = [backoff_seconds(tries, rng) for tries in range(1, 6) for _ in range(50)]

    for tries in range(1, 6):
        chunk = waits[(tries - 1) * 50 : tries * 50]
        assert (
            0.8 * 60 * 2 ** (tries - 1) <= min(chunk) <= max(chunk) <= 1.2 * 60 * 2 ** (tries - 1)
        )
        assert len(set(chunk)) > 40  # jitter spreads retries out


def test_a_refusal_of_one_of_two_recipients_delivers_to_the_other_and_notes_it(
    outbox_db, peer, clock
):
    [id] = queue(outbox_db, clock)
    peer.refuse(CASEWORKER)

    assert str(run(outbox_db, peer, clock)) == "sent 1, retrying 0, dead 0"

    assert peer.wait_for(1)[0].recipients == [COUNCIL]
    sent = row(outbox_db, id)
    assert sent.state == "sent"
    assert "refused: " in sent.smtp_response and CASEWORKER in sent.smtp_response


def test_a_refusal_of_the_only_recipient_is_dead_with_that_answer_and_other_rows_go(
    outbox_db, peer, clock
):
    ids = (
        queue(outbox_db, clock, cc=())
        + queue(outbox_db, clock, to=["gone@leeds.gov.uk"], cc=())
        + queue(outbox_db, clock, cc=())
    )
    peer.refuse("gone@leeds.gov.uk")

    report = run(outbox_db, peer, clock)

    assert str(report) == "sent 2, retrying 0, dead 1"
    dead = row(outbox_db, ids[1])
    assert (dead.state, dead.claimed_by) == ("dead", None)
    assert peer.refusal("gone@leeds.gov.uk").split(": ", 1)[1] in dead.last_error
    assert [row(outbox_db, i).state for i in (ids[0], ids[2])] == ["sent", "sent"]
    assert len(peer.wait_for(2)) == 2


def test_while_the_server_is_down_rows_wait_and_all_arrive_once_it_is_back(outbox_db, peer, clock):
    ids = queue(outbox_db, clock, n=5)
    peer.stop()

    # One try spent a connection (two connections); the messages never tried keep their tries.
    assert str(run(outbox_db, peer, clock)) == "sent 0, retrying 2, dead 0"
    assert [row(outbox_db, i).attempts for i in ids] == [1, 1, 0, 0, 0]
    clock.advance(75)
    assert str(run(outbox_db, peer, clock)) == "sent 0, retrying 2, dead 0"
    assert sorted(row(outbox_db, i).attempts for i in ids) == [0, 1, 1, 1, 1]
    assert all(
        peer.unreachable in row(outbox_db, i).last_error for i in ids if row(outbox_db, i).attempts
    )
    assert {row(outbox_db, i).claimed_by for i in ids} == {None}

    peer.start()
    clock.advance(150)
    assert str(run(outbox_db, peer, clock)) == "sent 5, retrying 0, dead 0"
    keys = sorted(r.key for r in peer.wait_for(5))
    assert keys == sorted(row(outbox_db, i).key for i in ids)  # each once, none lost


def test_after_the_last_try_a_row_is_dead_and_retry_makes_it_due_again(outbox_db, peer, clock):
    [id] = queue(outbox_db, clock)
    peer.stop()
    reports = []
    for _ in range(3):
        reports.append(str(run(outbox_db, peer, clock, max_attempts=3)))
        clock.advance(600)

    assert reports == [
        "sent 0, retrying 1, dead 0",
        "sent 0, retrying 1, dead 0",
        "sent 0, retrying 0, dead 1",
    ]
    with outbox_db.connect() as conn:
        assert [m["id"] for m in list_messages(conn, state="dead")] == [id]

    with outbox_db.begin() as conn:
        assert retry(conn, ids=[id], now=clock.now()) == 1
    revived = row(outbox_db, id)
    assert (revived.state, revived.attempts, revived.next_attempt_at) == ("queued", 0, clock.now())
    peer.start()
    assert str(run(outbox_db, peer, clock)) == "sent 1, retrying 0, dead 0"


def test_retry_all_dead_leaves_sent_rows_alone(outbox_db, peer, clock):
    ids = queue(outbox_db, clock, n=3, cc=())
    peer.refuse(COUNCIL)
    run(outbox_db, peer, clock)
    with outbox_db.begin() as conn:
        conn.execute(T.update().where(T.c.id == ids[0]).values(state="sent"))

    with outbox_db.begin() as conn:
        revived = retry(conn, all_dead=True, now=clock.now())

    assert revived == 2
    assert [row(outbox_db, i).state for i in ids] == ["sent", "queued", "queued"]


def test_a_dead_workers_claim_is_claimable_again_once_it_expires(outbox_db, peer, clock):
    ids = queue(outbox_db, clock, n=2)
    taken = claim_batch(outbox_db, owner="worker-that-died", now=clock.now(), claim_seconds=60)
    assert [c.id for c in taken] == ids

    clock.advance(30)
    assert str(run(outbox_db, peer, clock)) == "sent 0, retrying 0, dead 0"

    clock.advance(31)
    assert str(run(outbox_db, peer, clock)) == "sent 2, retrying 0, dead 0"
    assert len(peer.wait_for(2)) == 2


def test_a_crash_between_send_and_mark_sends_again_with_the_same_key(outbox_db, peer, clock):
    [id] = queue(outbox_db, clock)
    [taken] = claim_batch(outbox_db, owner="worker-1", now=clock.now())
    msg = as_email(_listed(outbox_db, id), sender=SENDER, domain=DOMAIN)
    asyncio.run(send_all(peer.transport(), [msg]))  # then it "crashes"

    clock.advance(61)
    report = run(outbox_db, peer, clock, owner="worker-2")

    assert str(report) == "sent 1, retrying 0, dead 0"
    copies = peer.wait_for(2)
    assert len(copies) == 2  # at most twice, never lost
    assert (
        copies[0].key == copies[1].key == row(outbox_db, id).key
    )  # Message-ID or Notify reference


def test_a_worker_whose_claim_was_taken_over_cannot_overwrite_the_outcome(outbox_db, peer, clock):
    [id] = queue(outbox_db, clock)
    slow = claim_batch(outbox_db, owner="slow-worker", now=clock.now(), claim_seconds=60)
    clock.advance(61)
    assert str(run(outbox_db, peer, clock, owner="quick-worker")) == "sent 1, retrying 0, dead 0"

    late = record_outcomes(
        outbox_db,
        owner="slow-worker",
        now=clock.now(),
        outcomes=[(slow[0], TempFailure("421 too late"))],
    )
    later = record_outcomes(
        outbox_db,
        owner="slow-worker",
        now=clock.now(),
        outcomes=[(slow[0], PermFailure("550 too late"))],
    )

    assert str(late) == str(later) == "sent 0, retrying 0, dead 0"
    kept = row(outbox_db, id)
    assert (kept.state, kept.attempts, kept.last_error) == ("sent", 1, None)


def test_two_workers_at_once_send_every_message_exactly_once(outbox_db, peer, clock):
    queue(outbox_db, clock, n=40)
    reports = {}

    def worker(name):
        reports[name] = run(outbox_db, peer, clock, owner=name, batch=5)

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(r.sent for r in reports.values()) == 40
    keys = [r.key for r in peer.wait_for(40)]
    assert len(keys) == len(set(keys)) == 40


def _listed(db, id):
    with db.connect() as conn:
        return get_message(conn, id)


def test_list_show_and_counts_describe_the_outbox(outbox_db, smtp_server, clock):
    ids = queue(outbox_db, clock, n=3)
    smtp_server.fail_next(1, at="DATA")
    run(outbox_db, SmtpPeer(smtp_server), clock, batch=1, loop_until_empty=False)  # first: 421
    clock.advance(30)
    run(outbox_db, SmtpPeer(smtp_server), clock, batch=1, loop_until_empty=False)  # second: sent

    with outbox_db.connect() as conn:
        listed = list_messages(conn)
        queued = list_messages(conn, state="queued")
        shown = get_message(conn, ids[1])
        status = counts(conn, clock.now())
        assert get_message(conn, 999) is None
        with pytest.raises(ValueError, match="state must be one of queued, sent, dead"):
            list_messages(conn, state="retrying")

    assert set(listed[0]) >= {
        "id",
        "kind",
        "state",
        "to",
        "cc",
        "subject",
        "key",
        "attempts",
        "last_error",
        "case",
        "created_at",
        "next_attempt_at",
        "sent_at",
    }
    assert [(m["id"], m["state"], m["attempts"]) for m in listed] == [
        (ids[0], "queued", 1),
        (ids[1], "sent", 1),
        (ids[2], "queued", 0),
    ]
    assert listed[0]["to"] == [COUNCIL] and listed[0]["cc"] == [CASEWORKER]
    assert listed[0]["case"] == "TCA-2013-0001" and "421" in listed[0]["last_error"]
    assert listed[1]["sent_at"] == "2014-04-07T08:00:30+00:00"
    assert [m["id"] for m in queued] == [ids[0], ids[2]]
    assert status == {
        "queued": 2,
        "retrying": 1,
        "dead": 0,
        "sent": 1,
        "oldest_queued_age_seconds": 30.0,
    }

    email = as_email(shown, sender=SENDER, domain=DOMAIN)
    assert email["Message-ID"] == smtp_server.wait_for(1)[0].message["Message-ID"]
    assert email["Date"] == "Mon, 07 Apr 2014 08:00:30 +0000"
    assert email.get_body(("plain",)).get_content() == shown["body_text"]


def test_delivery_runs_under_a_frozen_clock_when_asyncio_keeps_real_time(outbox_db, smtp_server):
    # freezegun also freezes time.monotonic, which would silently disable every
    # SMTP timeout; real_asyncio=True keeps the event loop on real time.
    def utc_now():
        return datetime.now(timezone.utc)  # module-level name, so freezegun can patch it

    with freeze_time("2014-04-07 08:00:00", real_asyncio=True) as frozen:
        with outbox_db.begin() as conn:
            enqueue(
                conn,
                key="TCA-2013-0007/Q2:overdue",
                kind="checkpoint.overdue",
                to=[COUNCIL],
                cc=[],
                rendered=render("checkpoint.overdue", realistic_context("checkpoint.overdue")),
                now=utc_now(),
            )
        smtp_server.fail_next(1, at="DATA")
        transport = SmtpTransport("127.0.0.1", smtp_server.port, timeout=2.0)

        first = deliver(outbox_db, transport, now=utc_now, owner="w", sender=SENDER)
        frozen.tick(timedelta(seconds=73))
        second = deliver(outbox_db, transport, now=utc_now, owner="w", sender=SENDER)

    assert (str(first), str(second)) == ("sent 0, retrying 1, dead 0", "sent 1, retrying 0, dead 0")
    assert smtp_server.wait_for(1)[0].message["Date"] == "Mon, 07 Apr 2014 08:01:13 +0000"


def test_a_run_that_gets_nothing_through_leaves_the_rest_for_the_next_run(outbox_db, peer, clock):
    ids = queue(outbox_db, clock, n=5)
    peer.stop()

    report = run(outbox_db, peer, clock, batch=2)

    assert str(report) == "sent 0, retrying 2, dead 0"
    assert [(row(outbox_db, i).attempts, row(outbox_db, i).claimed_by) for i in ids] == [
        (1, None),
        (1, None),
        (0, None),
        (0, None),
        (0, None),
    ]
    peer.start()
    assert str(run(outbox_db, peer, clock, batch=2)) == "sent 3, retrying 0, dead 0"


class _Running:
    """A clock that moves with real time from a fixed start (claims must run out for real)."""

    def __init__(self, start: datetime):
        self.start, self.t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


def test_a_slow_server_never_lets_a_second_worker_take_a_message_being_sent(
    outbox_db, smtp_server, clock
):
    # Each batch takes far longer than a claim lasts (6 messages x 0.25 s over
    # two connections, against a 0.4 s claim), and the second worker starts a
    # little later, so the first comes back for more while the second's batch
    # is still on the wire: only renewal keeps that batch the second's.
    queue(outbox_db, clock, n=24)
    smtp_server.stall_next(0.25, count=10**6)
    running = _Running(clock.now())
    reports = {}

    def worker(name):
        transport = SmtpTransport("127.0.0.1", smtp_server.port, timeout=5.0)
        reports[name] = deliver(
            outbox_db,
            transport,
            now=running.now,
            owner=name,
            sender=SENDER,
            domain=DOMAIN,
            batch=6,
            claim_seconds=0.4,
        )

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(60)

    keys = [r.message["X-Casework-Key"] for r in smtp_server.wait_for(24)]
    assert len(keys) == len(set(keys)) == 24  # no duplicates
    assert sum(r.sent for r in reports.values()) == 24


def test_mail_queued_in_simulated_future_time_goes_with_the_next_real_delivery(
    outbox_db, peer, clock
):
    future = Clock(
        datetime(2027, 3, 9, 9, 0, tzinfo=timezone.utc)
    )  # as `sweep --now 2027-03-09…` queues
    ids = queue(outbox_db, future, n=3)

    assert str(run(outbox_db, peer, clock)) == "sent 3, retrying 0, dead 0"
    assert [row(outbox_db, i).state for i in ids] == ["sent"] * 3


def test_a_retry_waits_for_its_backoff_even_when_the_first_try_was_queued_in_the_future(
    outbox_db, peer, clock
):
    future = Clock(datetime(2027, 3, 9, 9, 0, tzinfo=timezone.utc))
    [id] = queue(outbox_db, future)
    peer.fail_next(1)
    assert str(run(outbox_db, peer, future)) == "sent 0, retrying 1, dead 0"

    assert str(run(outbox_db, peer, clock)) == "sent 0, retrying 0, dead 0"  # not yet
    future.advance(75)
    assert str(run(outbox_db, peer, future)) == "sent 1, retrying 0, dead 0"
