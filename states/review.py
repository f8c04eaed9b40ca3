"""The annual review of an award (DESIGN.md section 9), as data and date arithmetic.

Twelve months after the award is accepted, and every twelve months after
that while the case is monitored, a review falls due to the case's
caseworker. Its steps are a small ladder the sweep walks exactly as it walks
a return's (states.ladder): the review opens on its due date and the
caseworker is reminded (`review.due`); ten working days later, if it is
still not recorded, the programme's senior responsible owner is told
(`review.overdue`). Missed sweeps catch up in order, each step once.
"""

from __future__ import annotations

from datetime import date
from typing import Mapping

from states.ladder import IsWorkingDay, LadderStep, add_months, roll_forward
from states.words import Words, words_table

__all__ = [
    "EVERY_MONTHS",
    "REVIEW_STEPS",
    "STEP_KINDS",
    "DECISIONS",
    "DECISION_WORDS",
    "STATUS_WORDS",
    "RECORDABLE",
    "review_due_date",
    "status_of",
    "label",
]

EVERY_MONTHS = 12

# The review's ladder: the first step opens it (it can be recorded from then on).
REVIEW_STEPS: tuple[LadderStep, ...] = (
    LadderStep(
        "review_due",
        0,
        action="open",
        to=("caseworker",),
        label="Annual review due",
        sentence="The annual review falls due and the case's caseworker is reminded to record it.",
    ),
    LadderStep(
        "review_overdue",
        10,
        working_days=True,
        action="mark_overdue",
        to=("sro",),
        cc=("caseworker",),
        label="Annual review overdue",
        sentence="The annual review is still not recorded ten working days after it "
        "fell due: the programme's senior responsible owner is told.",
    ),
)
# The message each step sends (notifications.kinds).
STEP_KINDS: Mapping[str, str] = {"review_due": "review.due", "review_overdue": "review.overdue"}

DECISIONS = ("continue", "amend", "stop")
DECISION_WORDS: Mapping[str, Words] = words_table(
    {
        "continue": ("Continue", "The award carries on as agreed."),
        "amend": (
            "Amend",
            "The award carries on with a change to its amount, end date or scope: "
            "a variation is proposed.",
        ),
        "stop": (
            "Stop",
            "The award should end: the case is suspended, its payments held, and "
            "put to an approver to terminate.",
        ),
    }
)

# Where a review stands, worked out from when it opened, was escalated and recorded.
STATUS_WORDS: Mapping[str, Words] = words_table(
    {
        "not_due": (
            "Not due yet",
            "The review falls due on its due date; it cannot be recorded before then.",
        ),
        "due": ("Due", "The review is due: the caseworker records a decision."),
        "overdue": (
            "Overdue",
            "The review was not recorded in time; the senior responsible owner has been told.",
        ),
        "recorded": ("Recorded", "The caseworker recorded the review's decision."),
        "ended": ("Not needed", "The case stopped being monitored before the review was recorded."),
    }
)


# The statuses in which the caseworker records the review (from its due date on).
RECORDABLE = ("due", "overdue")


def review_due_date(accepted: date, n: int, is_working_day: IsWorkingDay) -> date:
    """Review `n` (1, 2 …) of an award accepted on `accepted`: n x 12 months on (clamped to
    the month's end, counted from acceptance so it never drifts), on a working day."""
    return roll_forward(add_months(accepted, EVERY_MONTHS * n), is_working_day)


def status_of(*, opened: bool, overdue: bool, recorded: bool, ended: bool = False) -> str:
    if recorded:
        return "recorded"
    if ended:
        return "ended"
    if overdue:
        return "overdue"
    return "due" if opened else "not_due"


def label(n: int) -> str:
    """`R1`: how a review is named beside its case (`TCA-2013-0001/R1`)."""
    return f"R{n}"
