"""After the service was down: what fell due is done once, in order, and recorded as late."""

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time
from sqlalchemy import update

from tests.workflow.monitoring_world import bid_in_monitoring, ladder_history, outbox_rows
from workflow.services import lifecycle, programme_files
from workflow.errors import RuleViolation
from workflow.runtime.sweep import sweep
from workflow.storage.tables import organisations

UTC = timezone.utc
ACCEPTED = datetime(2013, 10, 1, 10, tzinfo=UTC)
LAST_SWEEP_BEFORE = datetime(2013, 12, 18, 9, 30, tzinfo=UTC)
BACK_UP = datetime(2014, 1, 10, 9, 30, tzinfo=UTC)  # down for three weeks and a day
MISSED = ["opened", "reminder", "overdue", "escalated_1"]  # Q1 is due on 2 January 2014


def latest_policy(world) -> None:
    source = dict(programme_files.bundled_sources())["tca-2013.toml"].replace(
        'catch_up = "all"', 'catch_up = "latest"'
    )
    with world.engine.begin() as conn:
        programme_files.load(conn, source, "tca-2013.toml")


def down_for_three_weeks(world) -> object:
    with freeze_time(LAST_SWEEP_BEFORE):
        assert sweep(world.engine).total == 0
    with freeze_time(BACK_UP):
        return sweep(world.engine)


def test_the_first_sweep_after_three_weeks_down_does_every_missed_step_once_in_order(world):
    ref = bid_in_monitoring(world, ACCEPTED)

    report = down_for_three_weeks(world)

    assert dict(report.steps) == {name: 1 for name in MISSED}
    assert [r.key for r in outbox_rows(world, like=f"{ref}/%")] == [
        f"{ref}/Q1:{name}" for name in MISSED
    ]
    assert [(h.trigger, h.to_state) for h in ladder_history(world, ref)] == [
        ("open", "open"),
        ("remind", "open"),
        ("mark_overdue", "overdue"),
        ("escalate", "escalated"),
    ]


def test_each_late_step_records_when_it_was_due_and_when_it_was_done(world):
    ref = bid_in_monitoring(world, ACCEPTED)

    report = down_for_three_weeks(world)

    assert report.late == 4
    payloads = [h.payload for h in ladder_history(world, ref)]
    assert [(p["step"], p["due_at"], p["done_at"], p["late"]) for p in payloads] == [
        ("opened", "2013-12-19T09:00:00+00:00", "2014-01-10T09:30:00+00:00", True),
        ("reminder", "2013-12-27T09:00:00+00:00", "2014-01-10T09:30:00+00:00", True),
        ("overdue", "2014-01-03T09:00:00+00:00", "2014-01-10T09:30:00+00:00", True),
        ("escalated_1", "2014-01-09T09:00:00+00:00", "2014-01-10T09:30:00+00:00", True),
    ]


def test_a_late_message_apologises_and_keeps_its_original_dates(world):
    ref = bid_in_monitoring(world, ACCEPTED)

    down_for_three_weeks(world)

    reminder = " ".join(outbox_rows(world, like=f"{ref}/Q1:reminder")[0].body_text.split())
    assert "should have reached you on Friday 27 December 2013" in reminder
    assert "due by the end of Thursday 2 January 2014" in reminder


def test_a_step_done_on_its_own_day_is_not_late(world):
    ref = bid_in_monitoring(world, ACCEPTED)

    with freeze_time(datetime(2013, 12, 19, 17, 0, tzinfo=UTC)):  # eight hours after 09:00
        report = sweep(world.engine)

    assert report.late == 0
    assert ladder_history(world, ref)[0].payload["late"] is False


def test_with_catch_up_latest_only_the_latest_message_is_sent_and_the_others_say_skipped(world):
    world.cast()
    latest_policy(world)
    ref = bid_in_monitoring(world, ACCEPTED)

    report = down_for_three_weeks(world)

    assert report.total == 4 and report.skipped == 3
    assert [r.key for r in outbox_rows(world, like=f"{ref}/%")] == [f"{ref}/Q1:escalated_1"]
    rows = ladder_history(world, ref)
    assert [(h.payload["step"], h.payload.get("message")) for h in rows] == [
        ("opened", "skipped"),
        ("reminder", "skipped"),
        ("overdue", "skipped"),
        ("escalated_1", None),
    ]
    assert rows[-1].to_state == "escalated"  # the state changes all happened


def test_a_long_outage_suspends_the_case_once_and_the_suspension_is_the_cases_own_move(world):
    ref = bid_in_monitoring(world, ACCEPTED)

    with freeze_time(datetime(2014, 2, 20, 9, 30, tzinfo=UTC)):
        first = sweep(world.engine)
        again = sweep(world.engine)

    assert first.total == 6 and again.total == 0
    moves = [h for h in lifecycle.case_history(world.engine, ref) if h["trigger"] == "suspend"]
    assert len(moves) == 1 and moves[0]["checkpoint"] is None
    assert moves[0]["payload"]["late"] is True
    assert [r.key for r in outbox_rows(world, like=f"{ref}:suspend%")] == []  # no generic notice
    assert outbox_rows(world, like=f"{ref}/Q1:suspended")[0].kind == "case.suspended"


def test_steps_of_several_returns_are_caught_up_in_the_order_they_fell_due(world):
    first = bid_in_monitoring(world, ACCEPTED)  # Q1 due Thu 2 January
    second = bid_in_monitoring(world, ACCEPTED + timedelta(days=2))  # Q1 due Fri 3 January

    with freeze_time(datetime(2014, 1, 20, 9, 30, tzinfo=UTC)):
        sweep(world.engine)

    keys = [
        r.key.replace("TCA-2013-", "").replace(":", " ")
        for r in outbox_rows(world, like="TCA-2013-%/Q1:%")
    ]
    assert keys == [
        "0001/Q1 opened",  # 19 December
        "0002/Q1 opened",  # 20 December
        "0001/Q1 reminder",  # 27 December
        "0002/Q1 reminder",  # 30 December
        "0001/Q1 overdue",  # 3 January
        "0002/Q1 overdue",  # 4 January
        "0001/Q1 escalated_1",  # 9 January
        "0002/Q1 escalated_1",
    ]  # 10 January
    assert (first, second) == ("TCA-2013-0001", "TCA-2013-0002")


def test_a_simulated_moment_before_one_already_swept_is_refused_and_changes_nothing(world):
    bid_in_monitoring(world, ACCEPTED)
    sweep(world.engine, datetime(2014, 1, 10, 9, 30, tzinfo=UTC))
    before = world.snapshot()

    with pytest.raises(
        RuleViolation,
        match="earlier than 2014-01-10T09:30:00\\+00:00, the latest moment already swept",
    ):
        sweep(world.engine, datetime(2013, 12, 20, 9, 30, tzinfo=UTC))

    assert world.snapshot() == before


def test_sweeping_the_same_moment_again_changes_nothing(world):
    bid_in_monitoring(world, ACCEPTED)
    moment = datetime(2014, 1, 10, 9, 30, tzinfo=UTC)
    sweep(world.engine, moment)
    before = world.snapshot()

    again = sweep(world.engine, moment)

    assert again.total == 0
    assert world.snapshot() == before


def test_an_escalation_with_no_chief_executive_on_record_goes_to_the_lead_and_says_so(world):
    """An organisation may have no escalation address: the first escalation then goes to
    the programme lead, and must not greet them as the council's chief executive."""
    ref = bid_in_monitoring(world, ACCEPTED)
    with world.engine.begin() as conn:
        conn.execute(update(organisations).values(escalation_email=None))

    down_for_three_weeks(world)

    (escalation,) = outbox_rows(world, like=f"{ref}/Q1:escalated_1")
    said = " ".join(escalation.body_text.split())
    assert escalation.to_addrs == ["tca-lead@example.org"] and escalation.cc_addrs == []
    assert "We are writing to you as" not in said
    assert "has no chief executive or section 151 officer address on record" in said
