"""What every chapter of the demo shares: the database, the diary, the dice and the log.

People act through the same services the command line calls. An action the
story expects to work and is refused stops the demo, naming it (a demo that
carries on past a broken step would show a false picture); an action the
story expects to be refused and is allowed stops it too, since then a rule
was not enforced. Every refusal, expected or met along the way, goes into the
log with the service's own words, for the summary and the report.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Callable

from sqlalchemy import Engine

from workflow import clock
from demo.agenda import Agenda
from workflow.errors import CaseworkError


class DemoStepFailed(CaseworkError):
    """The demo met something the real system should not do; nothing after it ran."""

    status = 500


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    what: str
    ref: str | None = None
    refused: str | None = None  # the service's message, when it said no


@dataclass(frozen=True)
class Size:
    """How big a programme year to play: `small` for tests, `full` for people."""

    name: str
    single_operation_pairs: int
    esg_bids: int
    shared_bids: int
    areas: int
    selected_areas: int

    @classmethod
    def named(cls, name: str) -> "Size":
        if name == "small":
            return cls(
                "small",
                single_operation_pairs=1,
                esg_bids=1,
                shared_bids=6,
                areas=3,
                selected_areas=2,
            )
        if name == "full":
            return cls(
                "full",
                single_operation_pairs=5,
                esg_bids=6,
                shared_bids=26,
                areas=12,
                selected_areas=8,
            )
        raise ValueError(f"size must be small or full, not {name!r}")


@dataclass
class Story:
    engine: Engine
    agenda: Agenda
    rng: random.Random
    size: Size
    log: list[Event] = field(default_factory=list)
    chapter: Callable[[str], None] = lambda text: None

    # --- time ------------------------------------------------------------------
    def on(self, day: date, at: str, action: Callable[[], None]) -> None:
        """Book `action` at `at` ("14:30", England) on `day`."""
        hour, minute = (int(p) for p in at.split(":"))
        self.agenda.book_day(day, time(hour, minute), action)

    def office_hours(self) -> str:
        """A time of day between 09:30 and 16:30, from the story's dice."""
        minutes = self.rng.randrange(9 * 60 + 30, 16 * 60 + 30, 5)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    def today(self) -> date:
        return self.agenda.today()

    # --- acting ----------------------------------------------------------------
    def did(self, actor: str, what: str, ref: str | None = None) -> None:
        self.log.append(Event(clock.now(), actor, what, ref))

    def act(self, actor: str, what: str, ref: str | None, call: Callable[[], Any]) -> Any:
        """Do something the story expects to work; refused, the demo stops and says why."""
        try:
            result = call()
        except CaseworkError as err:
            raise DemoStepFailed(
                f"On {clock.now():%d %B %Y} {actor} could not {what}"
                f"{f' ({ref})' if ref else ''}: {err}"
            ) from err
        self.did(actor, what, ref)
        return result

    def refused(self, actor: str, what: str, ref: str | None, call: Callable[[], Any]) -> str:
        """Try something the rules must refuse; returns their reason (allowed: the demo stops)."""
        try:
            call()
        except CaseworkError as err:
            self.log.append(Event(clock.now(), actor, what, ref, refused=str(err)))
            return str(err)
        raise DemoStepFailed(
            f"On {clock.now():%d %B %Y} {actor} was allowed to {what}"
            f"{f' ({ref})' if ref else ''}, which the programme's rules "
            f"should have refused."
        )

    def attempt(
        self, actor: str, what: str, ref: str | None, call: Callable[[], Any]
    ) -> str | None:
        """Try something that may or may not be allowed; returns the refusal, if any."""
        try:
            call()
        except CaseworkError as err:
            self.log.append(Event(clock.now(), actor, what, ref, refused=str(err)))
            return str(err)
        self.did(actor, what, ref)
        return None

    def refusals(self) -> list[Event]:
        return [e for e in self.log if e.refused]
