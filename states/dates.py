"""Dates and times as people in England read them: "2:56pm, 3 March 2014".

The one place the command line, the emails, the web pages and the report
turn a date or a moment into words. Moments are shown in Europe/London (GMT
or BST as the day has it); storage, `--json`, the API and history keep ISO
8601 in UTC. Times follow the GOV.UK style: "9am", "2:56pm", "midday",
"midnight". Names are spelt out here, not taken from strftime, whose `%A`
and `%B` follow the process's locale.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = [
    "LONDON",
    "in_london",
    "day",
    "long_day",
    "short_day",
    "clock",
    "moment",
    "long_moment",
    "month",
]

LONDON = ZoneInfo("Europe/London")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def in_london(at: datetime) -> datetime:
    """`at` on London's clock. A naive datetime is taken as UTC (how SQLite returns them)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    return at.astimezone(LONDON)


def _as_day(value: date | datetime) -> date:
    return in_london(value).date() if isinstance(value, datetime) else value


def day(value: date | datetime) -> str:
    """`3 March 2014`; a moment gives its day in London."""
    d = _as_day(value)
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def long_day(value: date | datetime) -> str:
    """`Monday 3 March 2014`, for a due date people must not misread."""
    d = _as_day(value)
    return f"{DAYS[d.weekday()]} {day(d)}"


def short_day(value: date | datetime) -> str:
    """`3 Mar 2014`, for a narrow table column."""
    d = _as_day(value)
    return f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}"


def month(value: date | datetime) -> str:
    """`March 2014`."""
    d = _as_day(value)
    return f"{MONTHS[d.month - 1]} {d.year}"


def clock(at: datetime) -> str:
    """`2:56pm`, `9am`, `midday`, `midnight` on London's clock."""
    local = in_london(at)
    hour, minute = local.hour, local.minute
    if minute == 0 and hour in (0, 12):
        return "midnight" if hour == 0 else "midday"
    suffix = "am" if hour < 12 else "pm"
    shown = hour % 12 or 12
    return f"{shown}{suffix}" if minute == 0 else f"{shown}:{minute:02d}{suffix}"


def moment(at: datetime) -> str:
    """`2:56pm, 3 March 2014`."""
    return f"{clock(at)}, {day(at)}"


def long_moment(at: datetime) -> str:
    """`2:56pm, Monday 3 March 2014`."""
    return f"{clock(at)}, {long_day(at)}"
