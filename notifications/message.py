"""Building the email itself, with every header value checked.

No user text reaches a mail header unchecked: a subject, a display name or an
address carrying a line break (or any other control character) is refused
here, naming the header, rather than trusted to a later layer.
"""

from __future__ import annotations

import email.policy
import functools
import hashlib
import re
from datetime import datetime
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any, Mapping, Sequence


class HeaderRefused(ValueError):
    """A header value that would let text escape its header line."""

    def __init__(self, header: str, value: str, why: str):
        self.header, self.value, self.why = header, value, why
        super().__init__(f"{header} refused: {why} in {value!r}")


class _ReusedHeaderClasses(HeaderRegistry):
    """The stock registry builds a fresh class (a type() call) for every header
    it parses, some twenty per message: a third of the cost of building one.
    The classes hold no state, so one per header name does."""

    # One registry for the process (_POLICY below), so the cache keeping it alive is no leak.
    @functools.lru_cache(maxsize=256)  # noqa: B019
    def __getitem__(self, name: str) -> type:
        return super().__getitem__(name)


# policy.default otherwise: it refuses CR/LF in header values as a second line of defence.
_POLICY = email.policy.default.clone(header_factory=_ReusedHeaderClasses())


# Cc (U+0000-001F, U+007F-009F: CR, LF, NUL, tab, NEL …) plus the Unicode line
# and paragraph separators, which some mail readers also treat as line breaks.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAKS = "\r\n\x85\u2028\u2029"


def check_header(header: str, value: str) -> str:
    """Return `value` unchanged, or raise HeaderRefused if it holds a line break or control character."""
    found = _CONTROL.search(value)
    if found:
        char = found.group()
        why = "a line break" if char in _LINE_BREAKS else f"control character U+{ord(char):04X}"
        raise HeaderRefused(header, value, why)
    return value


@functools.lru_cache(maxsize=1024)  # the same councils' addresses recur batch after batch
def parse_address(header: str, value: str) -> Address:
    """`someone@council.gov.uk` or `Name <someone@council.gov.uk>` -> Address.

    Exactly one address per value; anything else is refused naming `header`.
    """
    check_header(header, value)
    if len(getaddresses([value])) > 1:
        raise HeaderRefused(header, value, "more than one address")
    name, addr_spec = parseaddr(value)
    if "@" not in addr_spec:
        raise HeaderRefused(header, value, "not an email address")
    try:
        return Address(display_name=name, addr_spec=addr_spec)
    except (ValueError, IndexError) as exc:  # the header parser's own refusals
        raise HeaderRefused(header, value, f"not an email address ({exc})") from None


@functools.lru_cache(maxsize=1024)
def _address_header(name: str, values: tuple[str, ...]) -> Any:
    """A ready-made address header: the same sender and councils recur in
    every batch, and parsing an address header is a fifth of building a
    message. Header objects are immutable, so messages can share one."""
    return _POLICY.header_factory(name, tuple(parse_address(name, value) for value in values))


def message_id_for(outbox_id: int, key: str, domain: str) -> str:
    """`<casework.42.1f3a9c0d2b7e@domain>`: the same for every send of one outbox row.

    A resend after a crash carries the same Message-ID, so a receiving system
    (or a person) can spot the duplicate.
    """
    check_header("Message-ID", domain)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"<casework.{int(outbox_id)}.{digest}@{domain}>"


class Email(EmailMessage):
    """An EmailMessage, with what a transport sending from templates of its own (GOV.UK
    Notify) needs besides: the kind's personalisation, and the recipients already accepted."""

    personalisation: Mapping[str, str] | None = None
    accepted: Sequence[Mapping[str, str]] = ()


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str,
    text: str,
    html: str,
    message_id: str,
    date: datetime,
    key: str | None = None,
    kind: str | None = None,
    personalisation: Mapping[str, str] | None = None,
    accepted: Sequence[Mapping[str, str]] = (),
) -> Email:
    """A multipart/alternative message: the text part, then the HTML part.

    `key` (the outbox idempotency key), when given, travels as
    `X-Casework-Key` so a copy on disk or in a mailbox can be traced back;
    `kind` (the message kind) as `X-Casework-Kind`, which a transport that
    sends from templates of its own (GOV.UK Notify) chooses the template by;
    `personalisation` and `accepted` ride on the object (`Email`), never in
    the bytes sent. Raises HeaderRefused for any header value that could break its line.
    """
    if not to:
        raise HeaderRefused("To", "", "no recipient")
    if date.tzinfo is None:
        raise ValueError(f"Date: naive datetime {date!r}; times must carry a zone")
    msg = Email(policy=_POLICY)
    msg.personalisation, msg.accepted = personalisation, tuple(accepted)
    msg["From"] = _address_header("From", (sender,))
    msg["To"] = _address_header("To", tuple(to))
    if cc:
        msg["Cc"] = _address_header("Cc", tuple(cc))
    msg["Subject"] = check_header("Subject", subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = check_header("Message-ID", message_id)
    # RFC 3834: tells auto-responders (out-of-office) not to answer.
    msg["Auto-Submitted"] = "auto-generated"
    if key is not None:
        msg["X-Casework-Key"] = check_header("X-Casework-Key", key)
    if kind is not None:
        msg["X-Casework-Kind"] = check_header("X-Casework-Kind", kind)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    # A boundary drawn from the Message-ID, not at random, so one outbox row is
    # the same bytes every time it is built (a resend, `outbox show`, the demo).
    msg.set_boundary("casework-" + hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:24])
    return msg
