"""The ladder's arithmetic: due dates on working days, each step at 09:00 London time."""

from datetime import date, datetime, timedelta, timezone

import pytest

from states.ladder import (
    DEFAULT_LADDER,
    LadderStep,
    add_months,
    due_dates,
    plan_catch_up,
    roll_forward,
    step_moments,
)
from states.programme import Monitoring

UTC = timezone.utc
BANK_HOLIDAYS_2013 = {
    date(2013, 8, 26),
    date(2013, 12, 25),
    date(2013, 12, 26),
    date(2014, 1, 1),
    date(2014, 8, 25),
    date(2014, 12, 25),
}


def working(d: date) -> bool:
    """Monday to Friday and not a bank holiday: the tests' stand-in for England's calendar."""
    return d.weekday() < 5 and d not in BANK_HOLIDAYS_2013


def moments(due: date) -> dict[str, datetime]:
    return {step.name: at for step, at in step_moments(due, DEFAULT_LADDER, working)}


# --- dates -------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (date(2013, 1, 31), 1, date(2013, 2, 28)),  # clamped to the month's end
        (date(2015, 1, 31), 13, date(2016, 2, 29)),  # a leap year's February
        (date(2013, 11, 30), 3, date(2014, 2, 28)),
        (date(2013, 5, 15), 12, date(2014, 5, 15)),
        (date(2013, 3, 31), -1, date(2013, 2, 28)),
    ],
)
def test_months_are_added_clamped_to_the_month_end(start, months, expected):
    assert add_months(start, months) == expected


def test_a_due_date_on_a_weekend_or_bank_holiday_rolls_forward_to_a_working_day():
    assert roll_forward(date(2013, 8, 24), working) == date(2013, 8, 27)  # Sat, Sun, bank hol
    assert roll_forward(date(2013, 8, 27), working) == date(2013, 8, 27)  # already working


def test_a_predicate_with_no_working_day_is_refused_rather_than_looping():
    with pytest.raises(ValueError, match="no working day"):
        roll_forward(date(2013, 1, 1), lambda d: False)


def test_four_quarterly_returns_are_counted_from_the_day_the_award_is_accepted():
    dates = due_dates(date(2013, 11, 30), Monitoring(every_months=3, count=4), working)

    assert dates == [
        date(2014, 2, 28),  # 30 Feb does not exist: the month's end
        date(2014, 5, 30),
        date(2014, 9, 1),  # Sat 30 Aug -> Mon 1 Sep
        date(2014, 12, 1),
    ]  # Sun 30 Nov -> Mon 1 Dec


def test_each_interval_is_counted_from_the_start_so_month_ends_do_not_drift():
    dates = due_dates(date(2013, 1, 31), Monitoring(every_months=1, count=3), lambda d: True)

    assert dates == [date(2013, 2, 28), date(2013, 3, 31), date(2013, 4, 30)]


def test_fixed_dates_are_used_as_given_and_rolled_to_working_days():
    monitoring = Monitoring(
        every_months=None, count=None, dates=(date(2013, 12, 25), date(2014, 3, 31))
    )

    assert due_dates(date(2013, 10, 1), monitoring, working) == [
        date(2013, 12, 27),
        date(2014, 3, 31),
    ]


# --- moments -------------------------------------------------------------------


def test_every_step_falls_at_nine_in_london_in_summer_time():
    steps = moments(date(2013, 7, 15))  # a Monday in BST

    assert steps["opened"] == datetime(2013, 7, 1, 8, 0, tzinfo=UTC)
    assert steps["reminder"] == datetime(2013, 7, 10, 8, 0, tzinfo=UTC)
    assert steps["overdue"] == datetime(2013, 7, 16, 8, 0, tzinfo=UTC)
    assert steps["escalated_1"] == datetime(2013, 7, 22, 8, 0, tzinfo=UTC)
    assert steps["escalated_2"] == datetime(2013, 8, 5, 8, 0, tzinfo=UTC)
    assert steps["suspended"] == datetime(2013, 8, 12, 8, 0, tzinfo=UTC)


def test_steps_either_side_of_the_october_2013_clock_change_stay_at_nine_london_time():
    # Clocks went back at 02:00 on Sunday 27 October 2013.
    steps = moments(date(2013, 11, 4))

    assert steps["opened"] == datetime(2013, 10, 21, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert steps["reminder"] == datetime(2013, 10, 30, 9, 0, tzinfo=UTC)  # 09:00 GMT
    assert steps["overdue"] == datetime(2013, 11, 5, 9, 0, tzinfo=UTC)


def test_steps_either_side_of_the_march_2013_clock_change_stay_at_nine_london_time():
    # Clocks went forward at 01:00 on Sunday 31 March 2013.
    steps = moments(date(2013, 4, 8))

    assert steps["opened"] == datetime(2013, 3, 25, 9, 0, tzinfo=UTC)  # 09:00 GMT
    assert steps["overdue"] == datetime(2013, 4, 9, 8, 0, tzinfo=UTC)  # 09:00 BST


def test_the_reminder_counts_three_working_days_back_over_a_weekend_and_a_bank_holiday():
    steps = moments(date(2013, 8, 28))  # Wednesday after the summer bank holiday

    # Tue 27 (1), Mon 26 bank holiday, Sun, Sat, Fri 23 (2), Thu 22 (3)
    assert steps["reminder"] == datetime(2013, 8, 22, 8, 0, tzinfo=UTC)


def test_the_reminder_for_a_monday_due_date_falls_the_wednesday_before():
    steps = moments(date(2013, 9, 2))

    assert steps["reminder"] == datetime(2013, 8, 28, 8, 0, tzinfo=UTC)


def test_due_plus_one_day_is_the_next_calendar_day_even_at_a_weekend():
    steps = moments(date(2013, 9, 6))  # a Friday

    assert steps["overdue"] == datetime(2013, 9, 7, 8, 0, tzinfo=UTC)  # Saturday


def test_working_days_after_the_due_date_count_forward():
    step = LadderStep("chase", 2, working_days=True, action="remind", to=("council",))

    [(_, at)] = step_moments(date(2013, 8, 23), [step], working)  # a Friday

    assert at == datetime(2013, 8, 28, 8, 0, tzinfo=UTC)  # Tue 27 (1), Wed 28 (2)


def test_moments_are_aware_utc_and_in_ladder_order():
    pairs = step_moments(date(2013, 11, 4), DEFAULT_LADDER, working)

    assert [s.name for s, _ in pairs] == [s.name for s in DEFAULT_LADDER]
    assert all(at.tzinfo == UTC for _, at in pairs)
    assert [at for _, at in pairs] == sorted(at for _, at in pairs)


def test_each_step_names_its_message_kind():
    assert [s.kind for s in DEFAULT_LADDER] == [
        "checkpoint.opened",
        "checkpoint.reminder",
        "checkpoint.overdue",
        "checkpoint.escalated_1",
        "checkpoint.escalated_2",
        "case.suspended",
    ]
    assert [s.level for s in DEFAULT_LADDER] == [0, 0, 0, 1, 2, 0]
    assert [s.name for s in DEFAULT_LADDER if s.at_risk] == ["escalated_2"]


# --- catching up -------------------------------------------------------------

DUE = date(2013, 7, 15)
PENDING = step_moments(DUE, DEFAULT_LADDER, working)


def test_a_sweep_does_the_steps_whose_moment_has_come_and_no_others():
    now = datetime(2013, 7, 16, 8, 0, tzinfo=UTC)  # the overdue step's exact moment

    planned = plan_catch_up(PENDING, now, "all")

    assert [p.step.name for p in planned] == ["opened", "reminder", "overdue"]


def test_missed_steps_are_all_sent_in_order_and_marked_late_by_default():
    now = datetime(2013, 8, 5, 9, 30, tzinfo=UTC)  # escalated_2's day, after 09:00

    planned = plan_catch_up(PENDING, now, "all")

    assert [(p.step.name, p.late, p.send) for p in planned] == [
        ("opened", True, True),
        ("reminder", True, True),
        ("overdue", True, True),
        ("escalated_1", True, True),
        ("escalated_2", False, True),
    ]
    assert planned[0].due_at == datetime(2013, 7, 1, 8, 0, tzinfo=UTC)


def test_with_catch_up_latest_only_the_latest_is_sent_and_the_others_are_kept_as_skipped():
    now = datetime(2013, 8, 6, 12, 0, tzinfo=UTC)

    planned = plan_catch_up(PENDING, now, "latest")

    assert [(p.step.name, p.send) for p in planned] == [
        ("opened", False),
        ("reminder", False),
        ("overdue", False),
        ("escalated_1", False),
        ("escalated_2", True),
    ]
    assert all(p.late for p in planned)


def test_a_step_done_late_the_same_london_day_is_not_late():
    # 23:30 UTC on 16 July is 00:30 BST on 17 July: a later London day.
    same_day = plan_catch_up(PENDING[2:3], datetime(2013, 7, 16, 22, 59, tzinfo=UTC), "all")
    next_day = plan_catch_up(PENDING[2:3], datetime(2013, 7, 16, 23, 30, tzinfo=UTC), "all")

    assert [p.late for p in same_day] == [False]
    assert [p.late for p in next_day] == [True]


def test_nothing_is_due_before_the_first_moment():
    assert plan_catch_up(PENDING, PENDING[0][1] - timedelta(seconds=1), "latest") == []


def test_catch_up_needs_a_known_policy_and_an_aware_now():
    with pytest.raises(ValueError, match="catch_up policy"):
        plan_catch_up(PENDING, datetime(2013, 8, 1, tzinfo=UTC), "some")
    with pytest.raises(ValueError, match="aware"):
        plan_catch_up(PENDING, datetime(2013, 8, 1), "all")
