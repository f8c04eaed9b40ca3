"""People read dates and times in England's words: "2:56pm, 3 March 2014"."""

from datetime import date, datetime, timezone

import pytest

from states import dates

UTC = timezone.utc


@pytest.mark.parametrize(
    "at, written",
    [
        (datetime(2014, 3, 3, 14, 56, tzinfo=UTC), "2:56pm, 3 March 2014"),  # GMT
        (datetime(2014, 6, 3, 1, 56, tzinfo=UTC), "2:56am, 3 June 2014"),  # BST: an hour on
        (datetime(2014, 3, 30, 23, 30, tzinfo=UTC), "12:30am, 31 March 2014"),  # already Monday
        (datetime(2014, 3, 3, 9, 0, tzinfo=UTC), "9am, 3 March 2014"),
        (datetime(2014, 3, 3, 12, 0, tzinfo=UTC), "midday, 3 March 2014"),
        (datetime(2014, 3, 3, 0, 0, tzinfo=UTC), "midnight, 3 March 2014"),
        (datetime(2014, 3, 3, 12, 5), "12:05pm, 3 March 2014"),  # naive = UTC
    ],
)
def test_a_moment_is_written_on_londons_clock(at, written):
    assert dates.moment(at) == written


def test_days_are_written_out_without_a_leading_zero():
    assert dates.day(date(2014, 3, 3)) == "3 March 2014"
    assert dates.long_day(date(2014, 4, 4)) == "Friday 4 April 2014"
    assert dates.short_day(date(2014, 9, 30)) == "30 Sep 2014"
    assert dates.long_moment(datetime(2014, 4, 4, 16, 0, tzinfo=UTC)) == "5pm, Friday 4 April 2014"
