"""GOV.UK Notify's delivery receipts, polled from the Notify stub, and its limits over time."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from notifications import deliver, enqueue, render
from notifications.outbox import outbox
from notifications.notify import NotifyTransport, RateLimiter
from notifications.notify_templates import NotifyTemplates
from notifications.receipts import poll, record_receipt
from tests.notifications.mail_fixtures import realistic_context

COUNCIL = "returns@tewkesbury.gov.uk"
CASEWORKER = "caseworker@communities.gsi.gov.uk"
SENDER = "casework@tca.example.gov.uk"
T = outbox


def queue(db, clock, n=1, to=(COUNCIL,), cc=()) -> list[int]:
    kind = "checkpoint.overdue"
    ids = []
    with db.begin() as conn:
        for _ in range(n):
            ref = f"TCA-2013-{conn.execute(select(T.c.id)).all().__len__() + 1:04d}"
            ids.append(
                enqueue(
                    conn,
                    key=f"{ref}/Q2:overdue",
                    kind=kind,
                    to=list(to),
                    cc=list(cc),
                    rendered=render(kind, realistic_context(kind, case__ref=ref)),
                    now=clock.now(),
                    case_ref=ref,
                )
            )
    return ids


def transport(stub) -> NotifyTransport:
    return NotifyTransport(
        stub.api_key,
        NotifyTemplates(stub.generic_template),
        base_url=stub.base_url,
        timeout=2.0,
        rate=RateLimiter(),
    )


def send(db, stub, clock, **options):
    return deliver(
        db,
        transport(stub),
        now=clock.now,
        owner="w",
        sender=SENDER,
        rng=random.Random(3),
        **options,
    )


def receipts(db, stub, clock, **options):
    return poll(db, transport(stub).statuses, now=clock.now, rng=random.Random(3), **options)


def row(db, id):
    with db.connect() as conn:
        return conn.execute(select(T).where(T.c.id == id)).one()


def test_a_delivered_message_is_recorded_as_delivered(outbox_db, notify_stub, clock):
    [id] = queue(outbox_db, clock, cc=(CASEWORKER,))
    send(outbox_db, notify_stub, clock)

    report = receipts(outbox_db, notify_stub, clock)

    assert str(report) == "delivered 1, dead 0, retrying 0, waiting 0"
    done = row(outbox_db, id)
    assert (done.state, done.receipt) == ("sent", "delivered")
    assert [n["status"] for n in done.notify_ids] == ["delivered", "delivered"]
    assert (
        str(receipts(outbox_db, notify_stub, clock)) == "delivered 0, dead 0, retrying 0, waiting 0"
    )


def test_a_message_still_on_its_way_is_asked_about_again(outbox_db, notify_stub, clock):
    [id] = queue(outbox_db, clock)
    notify_stub.will_end_as(COUNCIL, "sending")
    send(outbox_db, notify_stub, clock)

    assert (
        str(receipts(outbox_db, notify_stub, clock)) == "delivered 0, dead 0, retrying 0, waiting 1"
    )
    notify_stub.will_end_as(COUNCIL, "delivered")
    assert (
        str(receipts(outbox_db, notify_stub, clock)) == "delivered 1, dead 0, retrying 0, waiting 0"
    )


def test_a_permanent_failure_is_a_dead_letter_naming_the_address_to_correct(
    outbox_db, notify_stub, clock
):
    [gone, fine] = queue(outbox_db, clock, n=1, to=["gone@leeds.gov.uk"], cc=(CASEWORKER,)) + queue(
        outbox_db, clock
    )
    notify_stub.will_end_as("gone@leeds.gov.uk", "permanent-failure")
    send(outbox_db, notify_stub, clock)

    report = receipts(outbox_db, notify_stub, clock)

    assert str(report) == "delivered 1, dead 1, retrying 0, waiting 0"
    dead = row(outbox_db, gone)
    assert (dead.state, dead.receipt) == ("dead", "permanent-failure")
    assert dead.last_error == (
        "Notify permanent-failure for gone@leeds.gov.uk: the address does not "
        "exist or refuses mail; correct it, then send again"
    )
    assert row(outbox_db, fine).receipt == "delivered"


def test_a_temporary_failure_is_sent_again_after_the_backoff_and_dead_after_the_last_try(
    outbox_db, notify_stub, clock
):
    [id] = queue(outbox_db, clock)
    notify_stub.will_end_as(COUNCIL, "temporary-failure")
    send(outbox_db, notify_stub, clock, max_attempts=2)

    assert (
        str(receipts(outbox_db, notify_stub, clock, max_attempts=2))
        == "delivered 0, dead 0, retrying 1, waiting 0"
    )
    waiting = row(outbox_db, id)
    assert (waiting.state, waiting.attempts, waiting.receipt) == ("queued", 1, "temporary-failure")
    assert waiting.last_error == f"Notify temporary-failure for {COUNCIL}"
    assert timedelta(seconds=48) <= waiting.next_attempt_at - clock.now() <= timedelta(seconds=72)
    assert str(send(outbox_db, notify_stub, clock, max_attempts=2)) == "sent 0, retrying 0, dead 0"

    clock.advance(73)
    assert str(send(outbox_db, notify_stub, clock, max_attempts=2)) == "sent 1, retrying 0, dead 0"
    assert len(notify_stub.to(COUNCIL)) == 2
    assert (
        str(receipts(outbox_db, notify_stub, clock, max_attempts=2))
        == "delivered 0, dead 1, retrying 0, waiting 0"
    )
    assert row(outbox_db, id).state == "dead"


def test_a_technical_failure_is_sent_again(outbox_db, notify_stub, clock):
    [id] = queue(outbox_db, clock)
    notify_stub.will_end_as(COUNCIL, "technical-failure")
    send(outbox_db, notify_stub, clock)

    assert (
        str(receipts(outbox_db, notify_stub, clock)) == "delivered 0, dead 0, retrying 1, waiting 0"
    )
    notify_stub.will_end_as(COUNCIL, "delivered")
    clock.advance(73)
    send(outbox_db, notify_stub, clock)
    assert (
        str(receipts(outbox_db, notify_stub, clock)) == "delivered 1, dead 0, retrying 0, waiting 0"
    )


def test_a_temporary_failure_for_one_recipient_is_sent_again_to_that_one_alone(
    outbox_db, notify_stub, clock
):
    [id] = queue(outbox_db, clock, cc=(CASEWORKER,))
    notify_stub.will_end_as(COUNCIL, "temporary-failure")
    send(outbox_db, notify_stub, clock)
    assert (
        str(receipts(outbox_db, notify_stub, clock)) == "delivered 0, dead 0, retrying 1, waiting 0"
    )
    [caseworker] = notify_stub.to(CASEWORKER)

    notify_stub.will_end_as(COUNCIL, "delivered")
    clock.advance(73)
    assert str(send(outbox_db, notify_stub, clock)) == "sent 1, retrying 0, dead 0"
    assert (
        str(receipts(outbox_db, notify_stub, clock)) == "delivered 1, dead 0, retrying 0, waiting 0"
    )

    assert (len(notify_stub.to(COUNCIL)), len(notify_stub.to(CASEWORKER))) == (2, 1)
    again = notify_stub.to(COUNCIL)[1]
    assert row(outbox_db, id).notify_ids == [
        {"id": caseworker.id, "to": CASEWORKER, "status": "delivered"},
        {"id": again.id, "to": COUNCIL, "status": "delivered"},
    ]


def test_a_receipt_for_a_notification_the_row_no_longer_holds_changes_nothing(
    outbox_db, notify_stub, clock
):
    [id] = queue(outbox_db, clock)
    send(outbox_db, notify_stub, clock)
    before = row(outbox_db, id)

    unknown = record_receipt(
        outbox_db,
        reference=before.key,
        status="permanent-failure",
        now=clock.now(),
        notification_id="00000000-0000-4000-8000-000000000000",
    )
    elsewhere = record_receipt(
        outbox_db,
        reference="TCA-2013-0099/Q2:overdue",
        status="delivered",
        now=clock.now(),
        notification_id=before.notify_ids[0]["id"],
    )

    assert (unknown, elsewhere) == (None, None)
    assert row(outbox_db, id) == before


def test_429s_for_ten_seconds_leave_nothing_dead_and_everything_sent_after(outbox_db, notify_stub):
    # Real time: Notify answers 429 for ten seconds; a delivery runs every second
    # (casework serve runs one a minute), as a worker over Notify's limit would see it.
    class Now:
        def now(self):
            return datetime.now(timezone.utc)

    now = Now()
    ids = queue(outbox_db, now, n=30)
    notify_stub.rate_limit_for(10)
    started = time.monotonic()
    reports = []

    while time.monotonic() - started < 30 and len(notify_stub.notifications) < 30:
        reports.append(send(outbox_db, notify_stub, now, batch=10))
        time.sleep(1)

    assert sum(r.dead for r in reports) == 0
    assert sum(r.sent for r in reports) == 30
    rows = [row(outbox_db, i) for i in ids]
    assert {(r.state, r.attempts) for r in rows} == {("sent", 1)}  # no try spent on a 429
    assert sorted(n.reference for n in notify_stub.notifications) == sorted(r.key for r in rows)
    assert time.monotonic() - started >= 10
