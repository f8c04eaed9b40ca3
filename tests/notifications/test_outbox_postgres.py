"""Claiming on PostgreSQL: workers skip each other's locked rows (FOR UPDATE SKIP LOCKED).

Runs when CASEWORK_TEST_POSTGRES (see tests/conftest.py) is reachable; each test works in its own schema, dropped afterwards.
"""

from __future__ import annotations

import random
import threading
import uuid

import pytest
from sqlalchemy import select, text

from notifications import (
    SmtpTransport,
    claim_batch,
    deliver,
    enqueue,
    list_messages,
    record_outcomes,
    render,
)
from notifications.outbox import outbox
from notifications.transports import Sent
from tests.conftest import PG_UNAVAILABLE, PG_URL
from tests.notifications.mail_fixtures import realistic_context
from workflow.storage.db import make_engine

pytestmark = pytest.mark.postgres
T = outbox


@pytest.fixture
def pg_outbox():
    if PG_UNAVAILABLE:
        pytest.skip(PG_UNAVAILABLE)
    engine = make_engine(PG_URL)
    schema = f"notifications_test_{uuid.uuid4().hex[:12]}"
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = engine.execution_options(schema_translate_map={None: schema})
    T.create(scoped)
    try:
        yield scoped
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def fill(engine, clock, n):
    with engine.begin() as conn:
        for i in range(1, n + 1):
            ref = f"TCA-2013-{i:04d}"
            enqueue(
                conn,
                key=f"{ref}/Q1:opened",
                kind="checkpoint.opened",
                to=["returns@tewkesbury.gov.uk"],
                cc=[],
                rendered=render(
                    "checkpoint.opened", realistic_context("checkpoint.opened", case__ref=ref)
                ),
                now=clock.now(),
                case_ref=ref,
            )


def test_a_second_worker_skips_rows_another_is_claiming(pg_outbox, clock):
    fill(pg_outbox, clock, 6)

    with pg_outbox.connect() as first:
        first.begin()
        mine = claim_batch(
            first, owner="worker-1", now=clock.now(), batch=3
        )  # locks held, not committed
        theirs = claim_batch(pg_outbox, owner="worker-2", now=clock.now(), batch=10)
        first.commit()

    assert len(mine) == 3 and len(theirs) == 3
    assert not {c.id for c in mine} & {c.id for c in theirs}
    with pg_outbox.connect() as conn:
        owners = dict(conn.execute(select(T.c.id, T.c.claimed_by)).all())
    assert sorted(owners.values()) == ["worker-1"] * 3 + ["worker-2"] * 3


def test_marking_is_guarded_by_the_claim_on_postgres(pg_outbox, clock):
    fill(pg_outbox, clock, 2)
    taken = claim_batch(pg_outbox, owner="worker-1", now=clock.now())

    ours = record_outcomes(
        pg_outbox, owner="worker-1", now=clock.now(), outcomes=[(taken[0], Sent("250 OK"))]
    )
    not_ours = record_outcomes(
        pg_outbox, owner="worker-2", now=clock.now(), outcomes=[(taken[1], Sent("250 OK"))]
    )

    assert (ours.sent, not_ours.sent) == (1, 0)


def test_two_workers_deliver_every_message_exactly_once_on_postgres(pg_outbox, smtp_server, clock):
    fill(pg_outbox, clock, 30)
    reports = {}

    def worker(name):
        reports[name] = deliver(
            pg_outbox,
            SmtpTransport("127.0.0.1", smtp_server.port, timeout=5.0),
            now=clock.now,
            owner=name,
            sender="casework@tca.example.gov.uk",
            batch=4,
            rng=random.Random(3),
        )

    threads = [threading.Thread(target=worker, args=(f"worker-{n}",)) for n in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(r.sent for r in reports.values()) == 30
    keys = [r.message["X-Casework-Key"] for r in smtp_server.wait_for(30)]
    assert len(keys) == len(set(keys)) == 30
    with pg_outbox.connect() as conn:
        assert {m["state"] for m in list_messages(conn)} == {"sent"}
