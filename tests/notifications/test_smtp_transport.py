"""Transports against a real SMTP server on loopback: what arrives, and how trouble is classed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time
from datetime import datetime, timezone

import pytest

from notifications import (
    FileTransport,
    PermFailure,
    Sent,
    SmtpTransport,
    TempFailure,
    build_message,
    message_id_for,
    render,
    send_all,
    sender_from_env,
    transport_from_env,
)
from tests.notifications.mail_fixtures import realistic_context

WHEN = datetime(2014, 4, 7, 8, 0, tzinfo=timezone.utc)
COUNCIL = "returns@tewkesbury.gov.uk"
CASEWORKER = "caseworker@communities.gsi.gov.uk"


def a_message(n: int = 1, to=(COUNCIL,), cc=(CASEWORKER,), kind="checkpoint.reminder"):
    rendered = render(kind, realistic_context(kind))
    key = f"TCA-2013-{n:04d}/Q2:{kind.split('.')[1]}"
    return build_message(
        sender="casework@tca.example.gov.uk",
        to=list(to),
        cc=list(cc),
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id_for(n, key, "casework.example.gov.uk"),
        date=WHEN,
        key=key,
    )


def send(transport, messages):
    return asyncio.run(send_all(transport, messages))


def smtp_to(server, **options) -> SmtpTransport:
    return SmtpTransport("127.0.0.1", server.port, **options)


def test_what_arrives_is_the_message_with_both_parts_for_every_recipient(smtp_server):
    results = send(smtp_to(smtp_server), [a_message()])

    [arrived] = smtp_server.wait_for(1)
    assert isinstance(results[0], Sent) and "accepted" in results[0].response
    assert arrived.mail_from == "casework@tca.example.gov.uk"
    assert sorted(arrived.rcpt_tos) == sorted([COUNCIL, CASEWORKER])  # To and Cc
    msg = arrived.message
    assert msg["To"] == COUNCIL and msg["Cc"] == CASEWORKER
    # strip(): Python folds a 72-character subject onto a continuation line
    # and its parser keeps the fold's space; mail readers drop it.
    assert (
        msg["Subject"].strip()
        == "Reminder: TCA-2013-0007 Q2 monitoring return due by Friday 4 April 2014"
    )
    assert msg["Message-ID"] == message_id_for(
        1, "TCA-2013-0001/Q2:reminder", "casework.example.gov.uk"
    )
    assert "Bcc" not in msg
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "due by the end of Friday 4 April 2014" in " ".join(text.split())
    assert "https://casework.example.gov.uk/returns/TCA-2013-0007/Q2" in text
    assert 'href="https://casework.example.gov.uk/returns/TCA-2013-0007/Q2"' in html


def test_a_batch_shares_at_most_two_connections_and_results_keep_their_order(smtp_server):
    smtp_server.refuse("nobody@tewkesbury.gov.uk")
    batch = [a_message(n) for n in range(1, 11)]
    batch[6] = a_message(7, to=("nobody@tewkesbury.gov.uk",), cc=())

    results = send(smtp_to(smtp_server, concurrency=2), batch)

    assert [type(r).__name__ for r in results] == ["Sent"] * 6 + ["PermFailure"] + ["Sent"] * 3
    assert len(smtp_server.wait_for(9)) == 9
    assert smtp_server.sessions <= 2


def test_a_421_is_a_temporary_failure_and_the_rest_of_the_batch_still_goes(smtp_server):
    smtp_server.fail_next(1, at="DATA")

    results = send(smtp_to(smtp_server, concurrency=1), [a_message(1), a_message(2)])

    assert results[0] == TempFailure("421 4.3.2 Service not available, try later")
    assert isinstance(results[1], Sent)
    assert [r.message["X-Casework-Key"] for r in smtp_server.wait_for(1)] == [
        "TCA-2013-0002/Q2:reminder"
    ]


def test_a_550_for_one_of_two_recipients_is_sent_to_the_other_with_a_note(smtp_server):
    smtp_server.refuse(CASEWORKER)

    [result] = send(smtp_to(smtp_server), [a_message()])

    assert isinstance(result, Sent)
    assert f"refused: {CASEWORKER} (550 5.1.1 Mailbox unavailable)" in result.response
    assert smtp_server.wait_for(1)[0].rcpt_tos == [COUNCIL]


def test_a_550_for_the_only_recipient_is_a_permanent_failure_with_the_servers_answer(smtp_server):
    smtp_server.refuse(COUNCIL)

    [result] = send(smtp_to(smtp_server), [a_message(cc=())])

    assert result == PermFailure(
        f"every recipient refused: {COUNCIL}: 550 5.1.1 Mailbox unavailable"
    )


def test_a_4xx_for_every_recipient_is_temporary(smtp_server):
    smtp_server.fail_next(2, at="RCPT", reply="450 4.2.1 Mailbox busy, try later")

    [result] = send(smtp_to(smtp_server), [a_message()])

    assert isinstance(result, TempFailure) and "450 4.2.1" in result.reason


def test_a_5xx_answer_to_data_is_permanent(smtp_server):
    smtp_server.fail_next(1, at="DATA", reply="554 5.6.0 Message rejected as spam")

    [result] = send(smtp_to(smtp_server), [a_message()])

    assert result == PermFailure("554 5.6.0 Message rejected as spam")


def test_a_dropped_connection_is_reopened_and_the_message_sent_once(smtp_server):
    smtp_server.drop_next(1, at="MAIL")

    results = send(smtp_to(smtp_server, concurrency=1), [a_message(1), a_message(2)])

    assert all(isinstance(r, Sent) for r in results)
    assert len(smtp_server.wait_for(2)) == 2
    assert smtp_server.sessions == 2


def test_a_server_that_is_down_fails_one_message_a_connection_and_leaves_the_rest_untried(
    smtp_server,
):
    smtp_server.stop()

    results = send(
        smtp_to(smtp_server, timeout=2.0, concurrency=2), [a_message(n) for n in range(1, 6)]
    )

    # Each connection tried one message and gave up; the others were never
    # tried, so nothing is recorded for them and they keep their tries.
    assert [type(r).__name__ for r in results] == [
        "TempFailure",
        "TempFailure",
        "NoneType",
        "NoneType",
        "NoneType",
    ]
    assert "could not connect" in results[0].reason


def test_each_outcome_is_recorded_before_its_connection_starts_another_message(smtp_server):
    arrived_when_recorded = []

    async def record(index, result):
        await asyncio.sleep(0.05)  # a slow database: the connection must wait for it
        arrived_when_recorded.append((index, smtp_server.accepted))

    asyncio.run(
        smtp_to(smtp_server, concurrency=1).send([a_message(n) for n in range(1, 5)], record)
    )

    # Message n is on the server, and n+1 not yet, when n is recorded.
    assert arrived_when_recorded == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_a_failing_record_stops_every_connection(smtp_server):
    class DatabaseGone(Exception):
        pass

    async def record(index, result):
        raise DatabaseGone("disk full")

    with pytest.raises(DatabaseGone):
        asyncio.run(
            smtp_to(smtp_server, concurrency=2).send([a_message(n) for n in range(1, 9)], record)
        )
    assert smtp_server.accepted <= 2  # one message a connection, then nothing more


def test_a_server_that_stops_answering_times_out_as_a_temporary_failure(smtp_server):
    smtp_server.stall_next(3.0, at="DATA")
    started = time.monotonic()

    [result] = send(smtp_to(smtp_server, timeout=0.5), [a_message()])

    assert isinstance(result, TempFailure) and result.reason.startswith("timed out after 0.5s")
    assert time.monotonic() - started < 2.5


def test_the_file_transport_writes_each_message_as_an_eml_file(tmp_path):
    results = send(FileTransport(tmp_path / "mail"), [a_message(1), a_message(2)])

    files = sorted(p.name for p in (tmp_path / "mail").iterdir())
    assert files == ["000001-TCA-2013-0001_Q2_reminder.eml", "000002-TCA-2013-0002_Q2_reminder.eml"]
    assert results[0] == Sent(f"written to {tmp_path / 'mail' / files[0]}")
    parsed = email.message_from_bytes(
        (tmp_path / "mail" / files[0]).read_bytes(), policy=email.policy.default
    )
    assert parsed["X-Casework-Key"] == "TCA-2013-0001/Q2:reminder"
    assert "Friday 4 April 2014" in parsed.get_body(("plain",)).get_content()

    send(FileTransport(tmp_path / "mail"), [a_message(3)])  # a new run carries on counting
    assert "000003-TCA-2013-0003_Q2_reminder.eml" in {p.name for p in (tmp_path / "mail").iterdir()}


def test_mail_settings_default_to_smtp_on_localhost_port_25():
    transport = transport_from_env({})

    assert isinstance(transport, SmtpTransport)
    assert (transport.host, transport.port, transport.tls, transport.timeout) == (
        "localhost",
        25,
        "none",
        30.0,
    )
    assert sender_from_env({}) == "casework@localhost"


def test_mail_settings_are_read_from_the_environment(tmp_path):
    smtp = transport_from_env(
        {
            "CASEWORK_SMTP_HOST": "smtp.example.gov.uk",
            "CASEWORK_SMTP_PORT": "587",
            "CASEWORK_SMTP_TLS": "starttls",
            "CASEWORK_SMTP_USER": "casework",
            "CASEWORK_SMTP_PASSWORD": "s3cret",
            "CASEWORK_SMTP_TIMEOUT": "12.5",
        }
    )
    files = transport_from_env({"CASEWORK_MAIL": f"file:{tmp_path}"})

    assert (smtp.host, smtp.port, smtp.tls, smtp.username, smtp.timeout) == (
        "smtp.example.gov.uk",
        587,
        "starttls",
        "casework",
        12.5,
    )
    assert isinstance(files, FileTransport) and files.folder == tmp_path
    assert (
        sender_from_env({"CASEWORK_MAIL_FROM": "TCA <tca@example.gov.uk>"})
        == "TCA <tca@example.gov.uk>"
    )


@pytest.mark.parametrize(
    "setting, value",
    [
        ("CASEWORK_MAIL", "sendmail"),
        ("CASEWORK_MAIL", "file:"),
        ("CASEWORK_SMTP_PORT", "twenty-five"),
        ("CASEWORK_SMTP_PORT", "70000"),
        ("CASEWORK_SMTP_TLS", "ssl"),
        ("CASEWORK_SMTP_TIMEOUT", "soon"),
        ("CASEWORK_SMTP_TIMEOUT", "-1"),
        ("CASEWORK_SMTP_PASSWORD", "s3cret"),
        ("CASEWORK_MAIL_FROM", "casework@localhost\nBcc: x@y"),
    ],
)
def test_a_bad_mail_setting_is_refused_naming_the_variable(setting, value):
    with pytest.raises(ValueError, match=setting):
        transport_from_env({setting: value})
        sender_from_env({setting: value})
