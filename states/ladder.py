"""The reminder and escalation ladder of a monitoring return (DESIGN.md section 2).

Pure date arithmetic: working days come in as a predicate (the engine's
calendar knows England's bank holidays), and `now` comes in as an argument.
"""

from __future__ import annotations

import calendar
from dataclasses import KW_ONLY, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Callable, Sequence
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from states.programme import Monitoring

LONDON = ZoneInfo("Europe/London")
STEP_TIME = time(9, 0)  # every step falls at 09:00 London time on its day

ACTIONS = ("open", "remind", "mark_overdue", "escalate", "suspend")
# The checkpoint transition a step's action fires (`remind` and `suspend` fire none on it).
ACTION_TRIGGERS = {"open": "open", "mark_overdue": "mark_overdue", "escalate": "escalate"}
# The outbox kind of a step whose own name has no templates, by its action.
ACTION_KINDS = {
    "open": "checkpoint.opened",
    "remind": "checkpoint.reminder",
    "mark_overdue": "checkpoint.overdue",
    "suspend": "case.suspended",
}
AUDIENCES = ("council", "escalation", "caseworker", "lead", "director")
CATCH_UP_POLICIES = ("all", "latest")

IsWorkingDay = Callable[[date], bool]

__all__ = [
    "LadderStep",
    "StepDue",
    "DEFAULT_LADDER",
    "STANDARD_STEPS",
    "ACTIONS",
    "AUDIENCES",
    "CATCH_UP_POLICIES",
    "LONDON",
    "add_months",
    "roll_forward",
    "due_dates",
    "step_day",
    "step_moments",
    "plan_catch_up",
    "ladder_problems",
]


@dataclass(frozen=True)
class LadderStep:
    """One rung: `offset_days` from the due date (negative before it), counted in
    working days when `working_days`, else calendar days."""

    name: str
    offset_days: int
    _: KW_ONLY  # the rest by keyword: a ladder reads like the table it is
    action: str
    working_days: bool = False
    level: int = 0  # the escalation level this step reaches; 0 otherwise
    at_risk: bool = False  # the case is flagged at risk when this step is done
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    label: str = ""  # words for people (DESIGN.md section 12): "First escalation"
    sentence: str = ""

    @property
    def trigger(self) -> str | None:
        """The checkpoint transition this step fires, if any."""
        return ACTION_TRIGGERS.get(self.action)

    @property
    def kind(self) -> str:
        """The outbox kind and template name: `checkpoint.<name>`, or `case.suspended`."""
        return "case.suspended" if self.action == "suspend" else f"checkpoint.{self.name}"


# DESIGN.md section 2's table, exactly.
DEFAULT_LADDER: tuple[LadderStep, ...] = (
    LadderStep(
        "opened",
        -14,
        action="open",
        to=("council",),
        label="Return opens",
        sentence="The return opens and the council is told what is asked and by when.",
    ),
    LadderStep(
        "reminder",
        -3,
        working_days=True,
        action="remind",
        to=("council",),
        label="Reminder",
        sentence="The council is reminded that the return is due in a few working days.",
    ),
    LadderStep(
        "overdue",
        1,
        action="mark_overdue",
        to=("council",),
        cc=("caseworker",),
        label="Overdue notice",
        sentence="The return is marked overdue and the council told, copying the caseworker.",
    ),
    LadderStep(
        "escalated_1",
        7,
        action="escalate",
        level=1,
        to=("escalation",),
        cc=("lead",),
        label="First escalation",
        sentence="The missing return is raised with the council's chief executive or s151 officer.",
    ),
    LadderStep(
        "escalated_2",
        21,
        action="escalate",
        level=2,
        at_risk=True,
        to=("director",),
        cc=("escalation", "lead"),
        label="Second escalation",
        sentence="The missing return is raised with the programme director and the "
        "case is flagged at risk.",
    ),
    LadderStep(
        "suspended",
        28,
        action="suspend",
        to=("council", "escalation", "caseworker", "lead", "director"),
        label="Suspension",
        sentence="The case is suspended and its payments held.",
    ),
)
STANDARD_STEPS = {step.name: step for step in DEFAULT_LADDER}


@dataclass(frozen=True)
class StepDue:
    """A step a sweep must do now. `send` is False for a step `catch_up = "latest"`
    records as skipped; `late` when it is done on a later London day than its own."""

    step: LadderStep
    due_at: datetime
    late: bool
    send: bool


def add_months(d: date, months: int) -> date:
    """`d` moved by whole months, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(d.day, last))


def roll_forward(d: date, is_working_day: IsWorkingDay) -> date:
    """`d` itself if it is a working day, else the next one."""
    for _ in range(366):  # a year with no working day is a broken predicate
        if is_working_day(d):
            return d
        d += timedelta(days=1)
    raise ValueError(f"no working day within a year of {d.isoformat()}")


def due_dates(start: date, monitoring: "Monitoring", is_working_day: IsWorkingDay) -> list[date]:
    """The checkpoints' due dates: fixed dates, or every N months from `start`.

    Each interval is counted from `start`, not from the previous date, so a
    31 January start gives 30 April, 31 July, 31 October: clamping never drifts.
    Dates already past are the engine's to leave out (it knows today).
    """
    if monitoring.dates:
        dates = list(monitoring.dates)
    else:
        every, count = monitoring.every_months or 3, monitoring.count or 0
        dates = [add_months(start, every * n) for n in range(1, count + 1)]
    return [roll_forward(d, is_working_day) for d in dates]


def step_day(due: date, step: LadderStep, is_working_day: IsWorkingDay) -> date:
    """The London calendar day `step` falls on for a return due on `due`."""
    if not step.working_days:
        return due + timedelta(days=step.offset_days)
    day, direction = due, (1 if step.offset_days > 0 else -1)
    remaining = abs(step.offset_days)
    while remaining:
        day += timedelta(days=direction)
        if is_working_day(day):
            remaining -= 1
    return day


def step_moments(
    due: date, ladder: Sequence[LadderStep], is_working_day: IsWorkingDay, tz: ZoneInfo = LONDON
) -> list[tuple[LadderStep, datetime]]:
    """Each step at 09:00 `tz` on its day, as an aware UTC datetime, earliest first.

    09:00 is never inside a London clock change (those happen at 01:00 and
    02:00), so the local time always exists and is unambiguous.
    """
    moments = [
        (
            step,
            datetime.combine(step_day(due, step, is_working_day), STEP_TIME, tz).astimezone(
                timezone.utc
            ),
        )
        for step in ladder
    ]
    # sorted() is stable, so two steps at one moment keep the ladder's order.
    return sorted(moments, key=lambda pair: pair[1])


def plan_catch_up(
    pending: Sequence[tuple[LadderStep, datetime]],
    now: datetime,
    policy: str,
    tz: ZoneInfo = LONDON,
) -> list[StepDue]:
    """The not-yet-done steps whose moment is at or before `now`, in order.

    With `all` every one is sent; with `latest` only the last is sent and the
    others are returned with `send=False`, for the engine to record as skipped:
    a missed escalation is never dropped silently.
    """
    if policy not in CATCH_UP_POLICIES:
        raise ValueError(f"catch_up policy {policy!r} is not one of {', '.join(CATCH_UP_POLICIES)}")
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    today = now.astimezone(tz).date()
    due = [(step, at) for step, at in pending if at <= now]
    last = len(due) - 1
    return [
        StepDue(step, at, late=today > at.astimezone(tz).date(), send=policy == "all" or i == last)
        for i, (step, at) in enumerate(due)
    ]


def ladder_problems(ladder: Sequence[LadderStep], path: str = "ladder") -> list[str]:
    """Every fault in a ladder, each naming `ladder[i].field`."""
    if not ladder:
        return [f"{path}: no steps (leave [[ladder]] out to use the default)"]
    out: list[str] = []
    names: set[str] = set()
    seen_overdue = False
    last_level = 0
    for i, step in enumerate(ladder):
        at = f"{path}[{i}]"
        if step.name in names:
            out.append(f"{at}.name: {step.name!r} is used by an earlier step")
        names.add(step.name)
        if step.action not in ACTIONS:
            out.append(f"{at}.action: {step.action!r} is not one of {', '.join(ACTIONS)}")
        for key, audiences in (("to", step.to), ("cc", step.cc)):
            for who in audiences:
                if who not in AUDIENCES:
                    out.append(f"{at}.{key}: {who!r} is not one of {', '.join(AUDIENCES)}")
        if not step.to:
            out.append(f"{at}.to: no one to send it to")
        if (step.action == "open") != (i == 0):
            out.append(
                f'{at}.action: the first step, and only the first, opens the return (action "open")'
            )
        if step.action == "mark_overdue":
            if seen_overdue:
                out.append(f"{at}.action: the return is already marked overdue by an earlier step")
            if step.offset_days < 1:
                out.append(f"{at}.offset_days: an overdue step must come after the due date")
            seen_overdue = True
        if step.action == "escalate":
            if not seen_overdue:
                out.append(f"{at}.action: escalate needs an earlier mark_overdue step")
            if step.level <= last_level:
                out.append(
                    f"{at}.level: {step.level} does not rise above the previous "
                    f"escalation level {last_level}"
                )
            last_level = max(last_level, step.level)
        elif step.level:
            out.append(f"{at}.level: only an escalate step reaches an escalation level")
        if step.action == "suspend" and i != len(ladder) - 1:
            out.append(f"{at}.action: nothing can follow the suspension of the case")
    return out + _order_problems(ladder, path)


def _order_problems(ladder: Sequence[LadderStep], path: str) -> list[str]:
    """Steps must fall at strictly increasing times, whatever weekday the due date is.

    Working days are approximated by Monday to Friday here; a ladder that is
    in order for every weekday stays in order unless bank holidays pile up
    beyond the gaps between its steps.
    """

    def weekday(d: date) -> bool:
        return d.weekday() < 5

    out: list[str] = []
    sample = date(2013, 7, 1)  # a Monday in a month with no bank holiday
    for i in range(1, len(ladder)):
        earlier, later = ladder[i - 1], ladder[i]
        for shift in range(7):
            due = roll_forward(sample + timedelta(days=shift), weekday)
            if step_day(due, later, weekday) <= step_day(due, earlier, weekday):
                out.append(
                    f"{path}[{i}].offset_days: {later.name} does not come after "
                    f"{earlier.name} (steps must be in strictly increasing time)"
                )
                break
    return out
