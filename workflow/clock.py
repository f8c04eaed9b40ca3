"""The one clock. Nothing else in the project asks the system for the time.

Tests freeze it with freezegun; `casework sweep --now` and the demo pass a
moment of their own instead of reading it.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def now() -> datetime:
    """The current moment, aware and in UTC, to the microsecond."""
    return datetime.now(timezone.utc)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment from the command line; no offset means UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
