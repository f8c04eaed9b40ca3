"""GOV.UK Notify as a transport, against the Notify stub on loopback.

The outbox's own behaviour (each message once, retries, dead letters, claims)
is tested for Notify and SMTP alike in test_outbox_delivery.py; here is what
only Notify has: templates and personalisation, its errors, its limits.
"""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from notifications import (
    PermFailure,
    Sent,
    build_message,
    deliver,
    enqueue,
    message_id_for,
    render,
    send_all,
    transport_from_env,
)
from notifications.outbox import outbox
from notifications.notify import NotifyTransport, RateLimiter, unwrap
from notifications.notify_templates import (
    NotifyTemplates,
    kind_fields,
    needs,
    personalisation_for,
    templates_from_env,
)
from notifications.render import _wrap
from tests.notifications.mail_fixtures import kinds_with_case_kinds, realistic_context
from notifications.kinds import KINDS

COUNCIL = "returns@tewkesbury.gov.uk"
CASEWORKER = "caseworker@communities.gsi.gov.uk"
SENDER = "casework@tca.example.gov.uk"
WHEN = datetime(2014, 4, 7, 8, 0, tzinfo=timezone.utc)
T = outbox


def a_message(n=1, kind="checkpoint.reminder", to=(COUNCIL,), cc=(CASEWORKER,), kept=True):
    """As the outbox builds it; `kept=False`: a row queued before its personalisation was kept."""
    context = realistic_context(kind)
    rendered = render(kind, context)
    key = f"TCA-2013-{n:04d}/Q2:{kind.split('.')[1]}"
    return build_message(
        sender=SENDER,
        to=list(to),
        cc=list(cc),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id_for(n, key, "casework.example.gov.uk"),
        date=WHEN,
        key=key,
        kind=kind,
        personalisation=personalisation_for(kind, context) if kept else None,
    )


def notify(stub, **options) -> NotifyTransport:
    return NotifyTransport(
        stub.api_key,
        NotifyTemplates(stub.generic_template),
        base_url=stub.base_url,
        timeout=2.0,
        **options,
    )


def send(transport, messages):
    return asyncio.run(send_all(transport, messages))


def test_each_recipient_gets_a_notification_with_the_key_as_reference_and_the_text_unfolded(
    notify_stub,
):
    [result] = send(notify(notify_stub), [a_message()])

    council, caseworker = notify_stub.wait_for(2)
    assert (council.email_address, caseworker.email_address) == (COUNCIL, CASEWORKER)
    assert council.reference == caseworker.reference == "TCA-2013-0001/Q2:reminder"
    assert council.template_id == notify_stub.generic_template
    assert (
        council.subject == "Reminder: TCA-2013-0007 Q2 monitoring return due by Friday 4 April 2014"
    )
    # One paragraph a line: Notify breaks the email's lines where the text does.
    assert (
        "is due by the end of Friday 4 April 2014.\n" in council.body
        and "\nend of Friday" not in council.body
    )
    assert isinstance(result, Sent)
    assert result.receipts == ((council.id, COUNCIL), (caseworker.id, CASEWORKER))


@pytest.mark.parametrize("kind, case_kind", kinds_with_case_kinds(KINDS))
def test_unfolding_gives_back_the_text_as_written_for_every_kind(kind, case_kind):
    context = realistic_context(
        kind,
        case_kind,
        case__title="A title long enough that the line "
        "it is on has to be folded at seventy-two columns, and again",
    )
    rendered = render(kind, context)
    # render() folds the text part; its own unfolded text is what it folded.
    from notifications.templating import templates

    written = templates(kind)[1].render(context)

    assert _wrap(written) == rendered.text
    assert unwrap(rendered.text) == written


def test_a_team_key_refused_for_an_outside_address_says_so_in_one_line(notify_stub):
    notify_stub.refuse(COUNCIL)  # Notify's own sentence for a team-only key

    [result] = send(notify(notify_stub), [a_message(cc=())])

    assert isinstance(result, PermFailure)
    assert "\n" not in result.reason
    assert result.reason.startswith(
        f"Notify 400: a team or trial API key can only send to the "
        f"team's own addresses, and {COUNCIL} is not one"
    )


def test_a_missing_template_is_a_refusal_with_notifys_message(notify_stub):
    transport = NotifyTransport(
        notify_stub.api_key,
        NotifyTemplates("f33517ff-2a88-4f6e-b855-c550268ce08a"),
        base_url=notify_stub.base_url,
    )

    [result] = send(transport, [a_message(cc=())])

    assert result == PermFailure("Notify 400: BadRequestError: Template not found")


def test_a_refused_key_stops_delivery_and_costs_no_tries(notify_stub, outbox_db):
    # 403: the key is wrong, not the messages. Nothing is recorded against
    # them (they were not looked at), and the transport tries nothing more.
    with outbox_db.begin() as conn:
        for n in range(3):
            kind = "checkpoint.overdue"
            enqueue(
                conn,
                key=f"K-{n}",
                kind=kind,
                to=[COUNCIL],
                cc=[],
                now=WHEN,
                rendered=render(kind, realistic_context(kind)),
            )
    transport = notify(notify_stub)
    notify_stub.revoke_key()

    first = deliver(outbox_db, transport, now=lambda: WHEN, owner="w", sender=SENDER)
    asked = notify_stub.requests  # one a worker at most, all at once
    later = send(transport, [a_message()])

    assert str(first) == "sent 0, retrying 0, dead 0"
    with outbox_db.connect() as conn:
        rows = conn.execute(select(T.c.state, T.c.attempts, T.c.claimed_by)).all()
    assert {(r.state, r.attempts, r.claimed_by) for r in rows} == {("queued", 0, None)}
    assert transport.stopped.startswith(
        "Notify refused the API key (403: AuthError: Invalid token: API key revoked)"
    )
    assert later == [None]  # not tried
    assert asked <= 3 and notify_stub.requests == asked  # nothing more once the key is refused


def test_a_429_leaves_the_batch_untried_so_its_messages_keep_their_tries(notify_stub):
    notify_stub.rate_limit_for(60)
    transport = notify(notify_stub)

    results = send(transport, [a_message(n) for n in range(1, 9)])

    assert results == [None] * 8
    assert (
        "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"
        in transport.rate_limited
    )
    assert notify_stub.requests <= 4  # one a worker, then the batch stops


def test_the_rate_limiter_holds_a_rolling_window_even_when_requests_arrive_late():
    async def go():
        limiter = RateLimiter(limit=5, window=0.5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        arrived = []

        async def one(n):
            slot = await limiter.wait()
            await asyncio.sleep(0.05 if n % 5 == 0 else 0.0)  # some requests travel slowly
            arrived.append(loop.time() - started)
            limiter.done(slot)

        await asyncio.gather(*(one(n) for n in range(12)))
        return sorted(arrived)

    arrived = asyncio.run(go())

    for t in arrived:  # no half-second window, as the far end counts them, holds more than five
        assert sum(1 for u in arrived if t <= u < t + 0.5) <= 5
    assert arrived[-1] >= 1.0


@pytest.mark.parametrize(
    "settings, refusal",
    [
        ({}, "CASEWORK_MAIL=notify needs CASEWORK_NOTIFY_API_KEY"),
        (
            {"CASEWORK_NOTIFY_API_KEY": "not-a-key"},
            "CASEWORK_NOTIFY_API_KEY is not a Notify API key",
        ),
        (
            {"CASEWORK_NOTIFY_API_KEY": "KEY"},
            f"no Notify template for {len(KINDS)} message kind(s): checkpoint.opened",
        ),
        (
            {"CASEWORK_NOTIFY_API_KEY": "KEY", "CASEWORK_NOTIFY_TEMPLATE": "generic"},
            "CASEWORK_NOTIFY_TEMPLATE must be a Notify template id",
        ),
        (
            {
                "CASEWORK_NOTIFY_API_KEY": "KEY",
                "CASEWORK_NOTIFY_TEMPLATE": "f33517ff-2a88-4f6e-b855-c550268ce08a",
                "CASEWORK_NOTIFY_BASE_URL": "ftp://x",
            },
            "CASEWORK_NOTIFY_BASE_URL must be an http(s) URL",
        ),
    ],
)
def test_settings_that_cannot_work_are_refused_naming_the_setting(notify_stub, settings, refusal):
    environ = {
        "CASEWORK_MAIL": "notify",
        **{k: (notify_stub.api_key if v == "KEY" else v) for k, v in settings.items()},
    }

    with pytest.raises(ValueError) as refused:
        transport_from_env(environ)

    assert str(refused.value).startswith(refusal)


def test_a_templates_file_maps_kinds_and_must_cover_every_kind_without_a_generic_one(tmp_path):
    ids = {kind: f"00000000-0000-4000-8000-{n:012d}" for n, kind in enumerate(KINDS)}
    path = tmp_path / "templates.toml"
    path.write_text("".join(f'"{kind}" = "{id}"\n' for kind, id in list(ids.items())[:-1]))

    with pytest.raises(
        ValueError, match="no Notify template for 1 message kind\\(s\\): area.not_selected"
    ):
        templates_from_env({"CASEWORK_NOTIFY_TEMPLATES": str(path)})
    with path.open("a") as out:
        out.write('area.not_selected = "%s"\n' % ids["area.not_selected"])  # dotted keys work too
    templates = templates_from_env({"CASEWORK_NOTIFY_TEMPLATES": str(path)})
    assert [templates.for_kind(kind) for kind in KINDS] == list(ids.values())

    path.write_text('"bid.awarded" = "00000000-0000-4000-8000-000000000001"\n')
    with pytest.raises(ValueError, match="names 'bid.awarded', which is not a message kind"):
        templates_from_env({"CASEWORK_NOTIFY_TEMPLATES": str(path)})


def test_a_kind_with_its_own_template_is_sent_with_it(notify_stub):
    own = notify_stub.add_template("TCA: ((subject))", "((body))\n\nDCLG, 2 Marsham Street")
    transport = NotifyTransport(
        notify_stub.api_key,
        NotifyTemplates(notify_stub.generic_template, {"checkpoint.overdue": own}),
        base_url=notify_stub.base_url,
    )

    send(
        transport,
        [a_message(1, "checkpoint.overdue", cc=()), a_message(2, "checkpoint.reminder", cc=())],
    )

    by_kind = {n.reference.rsplit(":", 1)[1]: n for n in notify_stub.wait_for(2)}
    assert by_kind["overdue"].template_id == own
    assert by_kind["overdue"].subject.startswith("TCA: Overdue:")
    assert by_kind["reminder"].template_id == notify_stub.generic_template


def test_a_kinds_own_template_is_given_exactly_its_placeholders_filled_in(notify_stub):
    own = notify_stub.add_template(
        "((case_ref)): ((return_name)) return overdue",
        "Dear ((council_name)),\n\nthe return was due by ((due_date)).",
    )
    transport = NotifyTransport(
        notify_stub.api_key,
        NotifyTemplates(
            None,
            {
                kind: own if kind == "checkpoint.overdue" else notify_stub.generic_template
                for kind in KINDS
            },
        ),
        base_url=notify_stub.base_url,
    )

    [result] = send(transport, [a_message(1, "checkpoint.overdue", cc=())])

    [sent] = notify_stub.wait_for(1)
    assert isinstance(result, Sent)
    assert sent.subject == "TCA-2013-0007: Q2 return overdue"
    assert sent.body == (
        "Dear Tewkesbury Borough Council,\n\nthe return was due by Friday 4 April 2014."
    )
    assert tuple(sent.personalisation) == needs("checkpoint.overdue")
    assert sent.personalisation["late_from_date"] == ""  # not late: blank, but given


@pytest.mark.parametrize("kind, case_kind", kinds_with_case_kinds(KINDS))
def test_each_value_a_kinds_own_template_is_given_is_as_its_email_prints_it(kind, case_kind):
    context = realistic_context(kind, case_kind)
    rendered = render(kind, context)

    values = personalisation_for(kind, context)

    assert tuple(values) == needs(kind)[2:]
    # Each as Jinja evaluates the expression the template prints (blank for none)…
    from notifications.templating import _ENV

    for f in kind_fields(kind):
        if not f.only_if:
            jinja = _ENV.compile_expression(f.expression, undefined_to_none=False)(**context)
            assert values[f.name] == ("" if jinja is None else str(jinja)), f.name
    # …and what the email printed unconditionally is there to be seen.
    printed = rendered.subject + "\n" + unwrap(rendered.text)
    assert {values["case_ref"], values["council_name"], values["programme_name"]} <= {
        v for v in values.values() if v and v in printed
    }


def test_a_row_queued_before_its_values_were_kept_goes_by_the_generic_template(notify_stub):
    own = notify_stub.add_template("((case_ref)) overdue", "((body))")
    only_own = NotifyTemplates(None, {kind: own for kind in KINDS})
    both = NotifyTemplates(notify_stub.generic_template, {"checkpoint.overdue": own})

    [by_generic] = send(
        NotifyTransport(notify_stub.api_key, both, base_url=notify_stub.base_url),
        [a_message(1, "checkpoint.overdue", cc=(), kept=False)],
    )
    [refused] = send(
        NotifyTransport(notify_stub.api_key, only_own, base_url=notify_stub.base_url),
        [a_message(2, "checkpoint.overdue", cc=(), kept=False)],
    )

    [sent] = notify_stub.wait_for(1)
    assert isinstance(by_generic, Sent) and sent.template_id == notify_stub.generic_template
    assert set(sent.personalisation) == {"subject", "body"}
    # No generic template to fall back on: Notify says what is missing, a dead letter.
    assert refused == PermFailure("Notify 400: BadRequestError: Missing personalisation: case_ref")


def test_a_notify_outbox_row_keeps_notifys_ids(notify_stub, outbox_db):
    kind = "checkpoint.overdue"
    with outbox_db.begin() as conn:
        id = enqueue(
            conn,
            key="TCA-2013-0007/Q2:overdue",
            kind=kind,
            to=[COUNCIL],
            cc=[CASEWORKER],
            now=WHEN,
            rendered=render(kind, realistic_context(kind)),
        )

    deliver(
        outbox_db,
        notify(notify_stub),
        now=lambda: WHEN,
        owner="w",
        sender=SENDER,
        rng=random.Random(1),
    )

    sent = notify_stub.wait_for(2)
    with outbox_db.connect() as conn:
        row = conn.execute(select(T).where(T.c.id == id)).one()
    assert row.notify_ids == [
        {"id": sent[0].id, "to": COUNCIL, "status": "created"},
        {"id": sent[1].id, "to": CASEWORKER, "status": "created"},
    ]
    assert (row.state, row.receipt) == ("sent", "pending")


def test_a_retry_sends_only_to_the_recipients_notify_has_not_accepted(notify_stub, outbox_db):
    kind = "checkpoint.overdue"
    with outbox_db.begin() as conn:
        id = enqueue(
            conn,
            key="TCA-2013-0007/Q2:overdue",
            kind=kind,
            to=[COUNCIL],
            cc=[CASEWORKER],
            now=WHEN,
            rendered=render(kind, realistic_context(kind)),
        )
    notify_stub.fail_for(CASEWORKER, status=500)

    first = deliver(
        outbox_db,
        notify(notify_stub),
        now=lambda: WHEN,
        owner="w",
        sender=SENDER,
        rng=random.Random(1),
    )
    with outbox_db.connect() as conn:
        waiting = conn.execute(select(T).where(T.c.id == id)).one()
    [council] = notify_stub.wait_for(1)
    later = WHEN + (waiting.next_attempt_at - WHEN) * 2
    second = deliver(
        outbox_db,
        notify(notify_stub),
        now=lambda: later,
        owner="w",
        sender=SENDER,
        rng=random.Random(1),
    )
    with outbox_db.connect() as conn:
        row = conn.execute(select(T).where(T.c.id == id)).one()

    assert (str(first), str(second)) == ("sent 0, retrying 1, dead 0", "sent 1, retrying 0, dead 0")
    assert (waiting.state, waiting.attempts, waiting.last_error) == (
        "queued",
        1,
        "Notify 500: Exception: Internal server error",
    )
    assert waiting.notify_ids == [{"id": council.id, "to": COUNCIL, "status": "created"}]
    # The retry went to the caseworker alone: the council has it once.
    assert [n.email_address for n in notify_stub.notifications] == [COUNCIL, CASEWORKER]
    caseworker = notify_stub.notifications[1]
    assert row.notify_ids == [
        {"id": council.id, "to": COUNCIL, "status": "created"},
        {"id": caseworker.id, "to": CASEWORKER, "status": "created"},
    ]
    assert (row.state, row.attempts, row.receipt) == ("sent", 2, "pending")
    assert "accepted on an earlier try: " + f"{COUNCIL} ({council.id})" in row.smtp_response
