"""GOV.UK Notify posts delivery receipts to /notify/callback; a dead one shows in the caseworker's inbox."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from notifications import deliver, enqueue, render
from notifications.outbox import outbox
from notifications.notify import NotifyTransport
from notifications.notify_templates import NotifyTemplates
from tests.notifications.mail_fixtures import realistic_context
from demo.notify_stub import NotifyStub
from tests.web.site import text_of
from workflow import clock

TOKEN = "a-long-callback-token-given-to-notify"
GONE = "gone@leeds.gov.uk"
T = outbox


@pytest.fixture
def stub():
    with NotifyStub() as running:
        yield running


@pytest.fixture
def sent(site, stub, monkeypatch):
    """One message to an address that no longer exists, sent through Notify."""
    monkeypatch.setenv("CASEWORK_NOTIFY_CALLBACK_TOKEN", TOKEN)
    kind = "checkpoint.overdue"
    with site.engine.begin() as conn:
        enqueue(
            conn,
            key="TCA-2013-0001/Q1:overdue",
            kind=kind,
            to=[GONE],
            cc=[],
            now=clock.now(),
            rendered=render(kind, realistic_context(kind, case__ref="TCA-2013-0001")),
            case_ref="TCA-2013-0001",
        )
    stub.will_end_as(GONE, "permanent-failure")
    transport = NotifyTransport(
        stub.api_key, NotifyTemplates(stub.generic_template), base_url=stub.base_url
    )
    report = deliver(
        site.engine,
        transport,
        now=clock.now,
        owner="w",
        sender="casework@dclg.example",
        rng=random.Random(1),
    )
    assert report.sent == 1
    [notification] = stub.notifications
    return stub.receipt(notification)


def outbox_rows(site):
    with site.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(T).order_by(T.c.id))]


@pytest.mark.parametrize("header", [None, "Bearer not-the-token", f"Basic {TOKEN}", TOKEN])
def test_a_callback_without_the_bearer_token_is_refused_and_changes_nothing(site, sent, header):
    before = outbox_rows(site)
    headers = {"Authorization": header} if header else {}

    answer = site.visitor().client.post("/notify/callback", json=sent, headers=headers)

    assert answer.status_code == 401
    assert "bearer token" in answer.json()["detail"]
    assert outbox_rows(site) == before


def test_a_permanent_failure_posted_by_notify_is_a_dead_letter_in_the_caseworkers_inbox(site, sent):
    answer = site.visitor().client.post(
        "/notify/callback", json=sent, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert answer.status_code == 200 and answer.json() == {
        "recorded": "permanent-failure",
        "message": "dead",
    }
    inbox = text_of(site.as_("carol").get("/inbox").text)
    assert "Messages that could not be sent 1" in inbox
    assert GONE in inbox
    assert (
        f"Notify permanent-failure for {GONE}: the address does not exist or refuses mail; "
        "correct it, then send again"
    ) in inbox


def test_a_receipt_for_no_message_of_ours_is_not_found(site, sent):
    before = outbox_rows(site)

    answer = site.visitor().client.post(
        "/notify/callback",
        json={**sent, "reference": "TCA-2013-0009:x:1"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    malformed = site.visitor().client.post(
        "/notify/callback", json={"id": 7}, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert (answer.status_code, malformed.status_code) == (404, 400)
    assert outbox_rows(site) == before


def test_without_a_token_set_there_is_no_callback(site, sent, monkeypatch):
    monkeypatch.delenv("CASEWORK_NOTIFY_CALLBACK_TOKEN")

    answer = site.visitor().client.post(
        "/notify/callback", json=sent, headers={"Authorization": f"Bearer {TOKEN}"}
    )

    assert answer.status_code == 404
