"""Scheduling returns: quarterly from acceptance, or fixed dates, on working days in England."""

from datetime import date, datetime, timedelta, timezone

from freezegun import freeze_time

from tests.workflow.monitoring_world import (
    area_active,
    bid_in_monitoring,
    checkpoint_rows,
    outbox_rows,
)
from workflow.services import lifecycle, programme_files
from workflow.services.monitoring import list_checkpoints
from workflow.runtime.sweep import sweep

UTC = timezone.utc


def fixed_dates_programme(world, dates: str, code: str = "tca-fixed") -> str:
    """The TCA programme under another code, with its returns due on fixed dates."""
    text = programme_files.bundled_sources()
    source = dict(text)["tca-2013.toml"]
    source = source.replace('code = "tca-2013"', f'code = "{code}"')
    source = source.replace("every_months = 3\ncount = 4", f"dates = [{dates}]")
    if "," not in dates:  # one return, no Q2: its tranche joins the first
        source = source.replace(
            'share = 50\non = "accepted"\n\n[[payments]]\nshare = 25\non = "Q2"',
            'share = 75\non = "accepted"',
        )
    with world.engine.begin() as conn:
        programme_files.load(conn, source, "tca-fixed.toml")
    return code


def days_of(world, key_like: str) -> list[date]:
    return [r.created_at.date() for r in outbox_rows(world, like=key_like)]


def sweep_daily(world, first: date, last: date) -> None:
    day = first
    with freeze_time(datetime(first.year, first.month, first.day, 9, 30, tzinfo=UTC)) as frozen:
        while day <= last:
            frozen.move_to(datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC))
            sweep(world.engine)
            day += timedelta(days=1)


def test_four_quarterly_returns_are_due_from_the_day_the_award_is_accepted(world):
    ref = bid_in_monitoring(world, datetime(2013, 10, 1, 10, tzinfo=UTC))

    dues = [(r.ref, r.due, r.state) for r in checkpoint_rows(world, ref)]

    assert dues == [
        (f"{ref}/Q1", date(2014, 1, 2), "scheduled"),  # 1 January is a bank holiday
        (f"{ref}/Q2", date(2014, 4, 1), "scheduled"),
        (f"{ref}/Q3", date(2014, 7, 1), "scheduled"),
        (f"{ref}/Q4", date(2014, 10, 1), "scheduled"),
    ]


def test_scheduling_writes_one_history_row_listing_the_due_dates(world):
    ref = bid_in_monitoring(world, datetime(2013, 10, 1, 10, tzinfo=UTC))

    row = [
        h
        for h in lifecycle.case_history(world.engine, ref)
        if h["trigger"] == "schedule_checkpoints"
    ]

    assert len(row) == 1
    assert row[0]["from_state"] == row[0]["to_state"] == "in_monitoring"
    assert row[0]["payload"] == {
        "checkpoints": [
            {"checkpoint": "Q1", "due": "2014-01-02"},
            {"checkpoint": "Q2", "due": "2014-04-01"},
            {"checkpoint": "Q3", "due": "2014-07-01"},
            {"checkpoint": "Q4", "due": "2014-10-01"},
        ]
    }


def test_fixed_dates_on_christmas_day_and_easter_monday_move_to_the_next_working_days(world):
    world.cast()
    code = fixed_dates_programme(world, "2013-12-25, 2014-04-21")

    ref = bid_in_monitoring(world, datetime(2013, 11, 1, 10, tzinfo=UTC), programme=code)

    assert [r.due for r in checkpoint_rows(world, ref)] == [
        date(2013, 12, 27),  # Wed, Thu off
        date(2014, 4, 22),
    ]  # after Easter


def test_reminders_before_bank_holidays_are_counted_in_working_days(world):
    world.cast()
    code = fixed_dates_programme(world, "2013-12-25, 2014-04-21")
    ref = bid_in_monitoring(world, datetime(2013, 11, 1, 10, tzinfo=UTC), programme=code)

    sweep_daily(world, date(2013, 11, 2), date(2014, 4, 30))

    # Due Friday 27 December: 24, 23 and 20 December are the three working days before.
    assert days_of(world, f"{ref}/Q1:reminder") == [date(2013, 12, 20)]
    assert days_of(world, f"{ref}/Q1:opened") == [date(2013, 12, 13)]
    assert days_of(world, f"{ref}/Q1:overdue") == [date(2013, 12, 28)]  # the next calendar day
    # Due Tuesday 22 April: Good Friday and Easter Monday are skipped, so 15 April.
    assert days_of(world, f"{ref}/Q2:reminder") == [date(2014, 4, 15)]
    assert days_of(world, f"{ref}/Q2:opened") == [date(2014, 4, 8)]


def test_fixed_dates_already_past_are_not_scheduled_and_the_history_says_so(world):
    world.cast()
    code = fixed_dates_programme(world, "2013-12-25, 2014-04-21, 2014-06-30")

    ref = bid_in_monitoring(world, datetime(2014, 1, 6, 10, tzinfo=UTC), programme=code)

    assert [(r.ref, r.due) for r in checkpoint_rows(world, ref)] == [
        (f"{ref}/Q2", date(2014, 4, 22)),
        (f"{ref}/Q3", date(2014, 6, 30)),
    ]
    row = [
        h
        for h in lifecycle.case_history(world.engine, ref)
        if h["trigger"] == "schedule_checkpoints"
    ][0]
    assert row["payload"]["not_scheduled"] == [{"date": "2013-12-25", "why": "already past"}]


def test_a_step_that_fell_due_before_its_return_existed_is_not_called_late(world):
    world.cast()
    code = fixed_dates_programme(world, "2014-04-21")
    # Accepted on 14 April: the return (due 22 April) should have opened on 8 April.
    ref = bid_in_monitoring(world, datetime(2014, 4, 14, 10, tzinfo=UTC), programme=code)

    with freeze_time(datetime(2014, 4, 14, 10, 5, tzinfo=UTC)):
        report = sweep(world.engine)

    assert dict(report.steps) == {"opened": 1}
    assert report.late == 0
    opened = outbox_rows(world, like=f"{ref}/Q1:opened")[0]
    assert "should have reached you" not in opened.body_text


def test_a_network_area_is_monitored_quarterly_from_the_day_it_is_activated(world):
    ref = area_active(world, datetime(2013, 9, 2, 10, tzinfo=UTC))

    rows = list_checkpoints(world.engine, case=ref)

    assert [(r["ref"], r["due"], r["state"]) for r in rows] == [
        (f"{ref}/Q1", "2013-12-02", "scheduled"),
        (f"{ref}/Q2", "2014-03-03", "scheduled"),
        (f"{ref}/Q3", "2014-06-02", "scheduled"),
        (f"{ref}/Q4", "2014-09-02", "scheduled"),
    ]


def test_a_ladder_changed_in_the_programme_file_applies_to_returns_already_scheduled(world):
    ref = bid_in_monitoring(world, datetime(2013, 10, 1, 10, tzinfo=UTC))  # Q1 due 2 January
    sources = dict(programme_files.bundled_sources())
    pstn = sources["pstn-2013.toml"]
    ladder = pstn[pstn.index("[[ladder]]") : pstn.index("[agreement]")]  # its ladder alone
    later = (
        sources["tca-2013.toml"] + "\n" + ladder.replace("offset_days = -14", "offset_days = -7")
    )
    with world.engine.begin() as conn:
        programme_files.load(conn, later, "tca-2013.toml")  # returns now open a week ahead

    with freeze_time(datetime(2013, 12, 19, 9, 30, tzinfo=UTC)):  # the old opening day
        before = sweep(world.engine)
    with freeze_time(datetime(2013, 12, 26, 9, 30, tzinfo=UTC)):  # the new one
        on_the_day = sweep(world.engine)

    assert before.total == 0 and before.rescheduled == 1
    assert dict(on_the_day.steps) == {"opened": 1}
    assert days_of(world, f"{ref}/Q1:opened") == [date(2013, 12, 26)]
