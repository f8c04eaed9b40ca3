"""The demo's diary: dated actions run in time order on the simulated clock.

Each simulated day the scheduler's two jobs run as `casework serve` would run
them — the sweep shortly after the ladder's 09:00 steps fall due, outbox
delivery after it and again in the evening — and between them the people of
the story act at the moments the story booked for them. An action may book
more actions (a council that accepts an award books its monitoring returns).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Callable

from states.ladder import LONDON
from workflow.services.calendar import is_working_day
from workflow.clock import SimulatedTime

SWEEP_AT = time(
    9, 5
)  # the ladder's steps fall at 09:00; a five-minute scheduler sees them by 09:05
EVENING_DELIVERY_AT = time(18, 0)


def london(day: date, at: time) -> datetime:
    """That wall-clock time in England on `day`, as an aware datetime."""
    return datetime.combine(day, at, tzinfo=LONDON)


def working_day_on_or_after(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def working_days_after(day: date, n: int) -> date:
    """The `n`th working day after `day` (people act on working days)."""
    while n > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


@dataclass(order=True)
class _Booking:
    at: datetime
    order: int
    action: Callable[[], None] = field(compare=False)


class Agenda:
    """Bookings in time order; `run` moves the simulated clock from one to the next."""

    def __init__(self, clock: SimulatedTime):
        self.clock = clock
        self._heap: list[_Booking] = []
        self._order = itertools.count()
        self.horizon: date = clock.at.astimezone(LONDON).date()

    def book(self, at: datetime, action: Callable[[], None]) -> None:
        """Run `action` at `at` (never earlier than now: the past is done)."""
        at = max(at, self.clock.at)
        heapq.heappush(self._heap, _Booking(at, next(self._order), action))

    def book_day(self, day: date, at: time, action: Callable[[], None]) -> None:
        self.book(london(day, at), action)

    def keep_running_until(self, day: date) -> None:
        """Run the scheduler's days at least until `day` (a ladder still has steps to take)."""
        self.horizon = max(self.horizon, day)

    def today(self) -> date:
        return self.clock.at.astimezone(LONDON).date()

    def run(self, *, daily: Callable[[date], None]) -> None:
        """Day by day until nothing is booked and the horizon is passed.

        `daily(day)` books that day's scheduler jobs; it runs as each day begins.
        """
        day = self.today()
        while self._heap or day <= self.horizon:
            daily(day)
            next_day = london(day + timedelta(days=1), time(0, 0))
            while self._heap and self._heap[0].at < next_day:
                booking = heapq.heappop(self._heap)
                self.clock.set(booking.at)
                booking.action()
            self.clock.set(next_day)
            day += timedelta(days=1)
