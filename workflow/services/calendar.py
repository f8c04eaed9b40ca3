"""Working days in England: Monday to Friday, less bank holidays.

Bank holidays come from the `holidays` package, which computes them offline
(no network), substitute days included (`Boxing Day (observed)`). Each year is
worked out once and kept: the sweep asks about the same few dates thousands
of times.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

from states.ladder import LONDON, roll_forward


@lru_cache(maxsize=None)
def _bank_holidays(year: int) -> dict[date, str]:
    # Imported here, once: the package is a tenth of a second of start-up for
    # every command, and only the ladder's arithmetic and returns ask it.
    import holidays

    return dict(holidays.country_holidays("GB", subdiv="ENG", years=year))


def bank_holiday(day: date) -> str | None:
    """The bank holiday's name (`Easter Monday`), or None on any other day."""
    return _bank_holidays(day.year).get(day)


@lru_cache(maxsize=4096)
def is_working_day(day: date) -> bool:
    """True on a working day in England."""
    return day.weekday() < 5 and bank_holiday(day) is None


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, else the next one (a due date rolls forward)."""
    return roll_forward(day, is_working_day)


def add_working_days(day: date, n: int) -> date:
    """The working day `n` working days after `day` (before it when `n` is negative)."""
    step = 1 if n >= 0 else -1
    remaining = abs(n)
    while remaining:
        day += timedelta(days=step)
        if is_working_day(day):
            remaining -= 1
    return day


def london_day(moment: datetime) -> date:
    """The calendar day in England at `moment` (an aware datetime)."""
    return moment.astimezone(LONDON).date()
