"""Dates typed in the three boxes of the GOV.UK date input (day, month, year), read as the
services read them (ISO), or refused in the Design System's words at the boxes in error."""

from __future__ import annotations

import pytest

from workflow.web.forms import date_typed

ALL = ("day", "month", "year")


@pytest.mark.parametrize(
    "day, month, year, iso",
    [
        ("30", "6", "2015", "2015-06-30"),
        ("05", "06", "2015", "2015-06-05"),
        (" 1 ", "jan", " 2016", "2016-01-01"),
        ("28", "February", "2015", "2015-02-28"),
        ("29", "2", "2016", "2016-02-29"),
        ("1", "Sept", "2015", "2015-09-01"),
    ],
)
def test_a_good_date_goes_on_in_iso_form(day, month, year, iso):
    typed = date_typed("end", "End date", day, month, year)

    assert (typed.iso, typed.error, typed.problem()) == (iso, "", None)


def test_nothing_typed_is_no_date_unless_one_is_needed():
    left = date_typed("end", "End date", "", " ", "")
    needed = date_typed("end", "End date", "", "", "", required=True)

    assert (left.iso, left.error) == (None, "")
    assert (needed.iso, needed.error, needed.parts) == (None, "Enter the end date", ALL)
    problem = needed.problem()
    assert problem is not None and (problem.field, problem.href) == ("end", "end-day")


@pytest.mark.parametrize(
    "day, month, year, error, parts",
    [
        ("30", "", "2015", "End date must include a month", ("month",)),
        ("", "6", "2015", "End date must include a day", ("day",)),
        ("30", "6", "", "End date must include a year", ("year",)),
        ("", "", "2015", "End date must include a day and month", ("day", "month")),
        ("30", "", "", "End date must include a month and year", ("month", "year")),
        ("32", "6", "2015", "End date must be a real date", ("day",)),
        ("0", "6", "2015", "End date must be a real date", ("day",)),
        ("30", "13", "2015", "End date must be a real date", ("month",)),
        ("30", "Smarch", "2015", "End date must be a real date", ("month",)),
        ("30", "6", "15", "End date must be a real date", ("year",)),
        ("30", "6", "20155", "End date must be a real date", ("year",)),
        ("31", "6", "2015", "End date must be a real date", ALL),  # June has 30 days
        ("29", "2", "2015", "End date must be a real date", ALL),
        ("3O", "13", "2015", "End date must be a real date", ALL),  # more than one box
    ],
)
def test_a_date_that_is_not_one_is_refused_in_gov_uk_words_at_its_boxes(
    day, month, year, error, parts
):
    typed = date_typed("end", "End date", day, month, year)

    assert (typed.iso, typed.error, typed.parts) == (None, error, parts)
    problem = typed.problem()
    assert problem is not None and problem.href == f"end-{parts[0]}"
    assert typed.kept() == {"end-day": day, "end-month": month, "end-year": year}
