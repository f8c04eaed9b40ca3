"""Messages carry both parts, and no user text reaches a header unchecked."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from notifications import HeaderRefused, build_message, message_id_for, parse_address, render
from tests.notifications.mail_fixtures import realistic_context

WHEN = datetime(2014, 4, 7, 8, 0, tzinfo=timezone.utc)


def a_message(**changes):
    rendered = render("checkpoint.reminder", realistic_context("checkpoint.reminder"))
    fields = dict(
        sender="TCA casework <casework@tca.example.gov.uk>",
        to=["Tewkesbury Borough Council <returns@tewkesbury.gov.uk>"],
        cc=["caseworker@communities.gsi.gov.uk"],
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=message_id_for(42, "TCA-2013-0007/Q2:reminder", "casework.example.gov.uk"),
        date=WHEN,
        key="TCA-2013-0007/Q2:reminder",
    )
    fields.update(changes)
    return build_message(**fields)


def test_a_message_has_a_text_part_then_an_html_part_and_all_its_headers():
    msg = a_message()

    assert msg["From"] == "TCA casework <casework@tca.example.gov.uk>"
    assert msg["To"] == "Tewkesbury Borough Council <returns@tewkesbury.gov.uk>"
    assert msg["Cc"] == "caseworker@communities.gsi.gov.uk"
    assert msg["Subject"].startswith(
        "Reminder: TCA-2013-0007 Q2 monitoring return due by Friday 4 April 2014"
    )
    assert msg["Date"] == "Mon, 07 Apr 2014 08:00:00 +0000"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["X-Casework-Key"] == "TCA-2013-0007/Q2:reminder"
    assert msg.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]
    assert "Friday 4 April 2014" in msg.get_body(("plain",)).get_content()
    assert "<strong>Friday 4 April 2014</strong>" in msg.get_body(("html",)).get_content()


@pytest.mark.parametrize(
    "injected",
    [
        "\r\nBcc: spy@example.com",
        "\nBcc: spy@example.com",
        "\rX-Evil: 1",
        "\x00",
        "\u2028Bcc: spy@example.com",
        "\x85",
    ],
)
def test_a_subject_with_an_injected_line_break_is_refused(injected):
    with pytest.raises(HeaderRefused, match="^Subject refused") as refused:
        a_message(subject=f"Reminder: TCA-2013-0007{injected}")

    assert refused.value.header == "Subject"


@pytest.mark.parametrize("header", ["to", "cc"])
def test_a_council_name_with_an_injected_line_break_is_refused(header):
    council = "Leeds City Council\r\nBcc: spy@example.com <returns@leeds.gov.uk>"

    with pytest.raises(HeaderRefused, match=f"^{header.capitalize()} refused: a line break"):
        a_message(**{header: [council]})


@pytest.mark.parametrize(
    "value, why",
    [
        ("returns@leeds.gov.uk, spy@example.com", "more than one address"),
        ("Leeds City Council", "not an email address"),
        ("", "not an email address"),
    ],
)
def test_an_address_must_be_exactly_one_address(value, why):
    with pytest.raises(HeaderRefused, match=why):
        a_message(to=[value])


def test_a_refused_address_is_refused_every_time_with_the_same_reason():
    # parse_address caches what it accepts (the same councils recur): a
    # refusal must never be remembered as a pass, nor change its wording.
    value = "Leeds City Council <returns@leeds.gov.uk>, spy@example.com"

    refusals = []
    for header in ("To", "To", "Cc", "To"):
        with pytest.raises(HeaderRefused) as refused:
            parse_address(header, value)
        refusals.append(str(refused.value))

    assert refusals == [
        f"{header} refused: more than one address in {value!r}"
        for header in ("To", "To", "Cc", "To")
    ]


def test_a_message_needs_someone_to_go_to():
    with pytest.raises(HeaderRefused, match="no recipient"):
        a_message(to=[])


def test_a_sender_with_a_line_break_is_refused():
    with pytest.raises(HeaderRefused, match="^From refused"):
        a_message(sender="casework@tca.example.gov.uk\nBcc: spy@example.com")


def test_the_message_id_is_the_same_for_every_send_of_one_row():
    first = message_id_for(42, "TCA-2013-0007/Q2:escalated_1", "casework.example.gov.uk")

    assert first == message_id_for(42, "TCA-2013-0007/Q2:escalated_1", "casework.example.gov.uk")
    assert re.fullmatch(r"<casework\.42\.[0-9a-f]{12}@casework\.example\.gov\.uk>", first)
    assert first != message_id_for(43, "TCA-2013-0007/Q2:escalated_1", "casework.example.gov.uk")
    assert first != message_id_for(42, "TCA-2013-0007/Q2:escalated_2", "casework.example.gov.uk")


def test_one_outbox_row_builds_to_the_same_bytes_every_time():
    from datetime import datetime, timezone
    from notifications.message import build_message

    made = [
        bytes(
            build_message(
                sender="casework@localhost",
                to=["returns@e07000026.example.gov.uk"],
                cc=[],
                subject="Reminder",
                text="Dear colleague,\n",
                html="<p>Dear colleague,</p>",
                message_id="<casework.7.abc@casework.localhost>",
                date=datetime(2014, 4, 4, 9, tzinfo=timezone.utc),
                key="TCA-2013-0001/Q2:reminder",
            )
        )
        for _ in range(2)
    ]
    assert made[0] == made[1]
    assert b'boundary="casework-' in made[0]
