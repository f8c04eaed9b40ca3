"""Working days in England: weekends and bank holidays, from the holidays package, offline."""

from datetime import date, datetime, timezone

import pytest

from workflow.services.calendar import (
    add_working_days,
    bank_holiday,
    is_working_day,
    london_day,
    next_working_day,
)


@pytest.mark.parametrize(
    "day, name",
    [
        (date(2013, 12, 25), "Christmas Day"),
        (date(2013, 12, 26), "Boxing Day"),
        (date(2014, 1, 1), "New Year's Day"),
        (date(2014, 4, 18), "Good Friday"),
        (date(2014, 4, 21), "Easter Monday"),
        (date(2014, 5, 5), "May Day"),
        (date(2014, 8, 25), "Late Summer Bank Holiday"),
        (date(2015, 12, 28), "Boxing Day (observed)"),  # 26 December 2015 was a Saturday
    ],
)
def test_bank_holidays_in_england_are_not_working_days(day, name):
    assert bank_holiday(day) == name
    assert not is_working_day(day)


def test_holidays_of_scotland_alone_are_working_days_in_england():
    assert is_working_day(date(2014, 1, 2))  # a Scottish bank holiday only
    assert is_working_day(date(2014, 8, 4))  # Scotland's summer bank holiday


def test_weekends_are_not_working_days_and_weekdays_are():
    assert not is_working_day(date(2014, 3, 1))  # Saturday
    assert not is_working_day(date(2014, 3, 2))  # Sunday
    assert is_working_day(date(2014, 3, 3))  # Monday


def test_a_due_date_rolls_forward_past_christmas_and_the_weekend():
    assert next_working_day(date(2013, 12, 25)) == date(2013, 12, 27)  # Wed, Thu off -> Fri
    assert next_working_day(date(2014, 12, 25)) == date(2014, 12, 29)  # Thu, Fri, weekend -> Mon
    assert next_working_day(date(2014, 4, 18)) == date(2014, 4, 22)  # Good Friday to Tuesday


def test_a_working_day_is_its_own_due_date():
    assert next_working_day(date(2014, 4, 22)) == date(2014, 4, 22)


def test_working_days_are_counted_over_easter_in_both_directions():
    assert add_working_days(date(2014, 4, 22), -3) == date(2014, 4, 15)  # skips Fri-Mon
    assert add_working_days(date(2014, 4, 16), 2) == date(2014, 4, 22)


def test_the_day_in_england_is_read_in_london_time():
    # 23:30 UTC on 31 March 2014 is already 1 April in British Summer Time.
    assert london_day(datetime(2014, 3, 31, 23, 30, tzinfo=timezone.utc)) == date(2014, 4, 1)
    assert london_day(datetime(2014, 1, 31, 23, 30, tzinfo=timezone.utc)) == date(2014, 1, 31)
