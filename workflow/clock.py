"""The one clock. Nothing else in the project asks the system for the time.

Tests freeze it with freezegun. The demo runs a programme year in minutes by
`simulate`-ing it: every service then reads the simulated moment, exactly as
it would read the real one.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


class SimulatedTime:
    """A moment that only moves when told to."""

    def __init__(self, at: datetime):
        self.at = _utc(at)

    def set(self, at: datetime) -> None:
        at = _utc(at)
        if at < self.at:
            raise ValueError(f"simulated time cannot go back from {self.at} to {at}")
        self.at = at

    def advance(self, delta: timedelta) -> None:
        self.set(self.at + delta)


_simulated: SimulatedTime | None = None


def now() -> datetime:
    """The current moment, aware and in UTC, to the microsecond."""
    if _simulated is not None:
        return _simulated.at
    return datetime.now(timezone.utc)


def real_now() -> datetime:
    """The moment outside any simulation: only for saying when a simulated run was made."""
    return datetime.now(timezone.utc)


@contextmanager
def simulate(start: datetime) -> Iterator[SimulatedTime]:
    """Run the block on a simulated clock starting at `start`."""
    global _simulated
    previous, _simulated = _simulated, SimulatedTime(start)
    try:
        yield _simulated
    finally:
        _simulated = previous


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("times must carry a zone")
    return at.astimezone(timezone.utc)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment from the command line; no offset means UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise ValueError(f"{text!r} is outside the years a time can be given in") from None
