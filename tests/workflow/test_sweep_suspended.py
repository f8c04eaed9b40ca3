"""While a case is suspended its returns still open and remind, but the ladder holds its
overdue, escalation and suspension steps; reinstatement resumes it from where it stands
(DESIGN.md section 2, the sweep)."""

from datetime import date, datetime, time, timedelta, timezone

import pytest
from freezegun import freeze_time

from tests.workflow.monitoring_world import (
    bid_in_monitoring,
    checkpoint_rows,
    ladder_history,
    outbox_rows,
)
from workflow.services import lifecycle
from workflow.runtime.sweep import sweep

UTC = timezone.utc
ACCEPTED = datetime(2013, 6, 3, 10, tzinfo=UTC)  # Q2 is then due on 3 December 2013


def after(day: date, days: int) -> datetime:
    """10:00 UTC, `days` after `day`: past that day's 09:00 London step."""
    return datetime.combine(day + timedelta(days=days), time(10), UTC)


@pytest.fixture
def suspended(world):
    """A bid the ladder suspended for its missing Q1, with Q2 just open; and Q2's due date."""
    ref = bid_in_monitoring(world, ACCEPTED)
    q2_due = checkpoint_rows(world, ref)[1].due
    sweep(world.engine, after(q2_due, -60))  # Q1's whole ladder, to suspension
    assert lifecycle.show(world.engine, ref)["state"] == "suspended"
    sweep(world.engine, after(q2_due, -10))  # Q2 opens
    return ref, q2_due


def q2_rows(world, ref):
    return [r for r in ladder_history(world, ref) if r.checkpoint == "Q2"]


def test_a_suspended_case_s_return_opens_and_reminds_but_goes_no_further(world, suspended):
    ref, due = suspended

    sweep(world.engine, after(due, 30))

    q2 = checkpoint_rows(world, ref)[1]
    assert (q2.state, q2.level) == ("open", 0)  # never overdue, never escalated
    assert lifecycle.show(world.engine, ref)["state"] == "suspended"
    assert [r.trigger for r in q2_rows(world, ref)] == [
        "open",
        "remind",
        "held",
        "held",
        "held",
        "held",
    ]
    held = [r for r in q2_rows(world, ref) if r.trigger == "held"]
    assert {r.reason for r in held} == {"case suspended"}
    assert [r.payload["step"] for r in held] == [
        "overdue",
        "escalated_1",
        "escalated_2",
        "suspended",
    ]
    assert {(r.actor, r.role) for r in held} == {("system", "system")}
    assert all(r.from_state == r.to_state == "open" for r in held)
    assert [r.key for r in outbox_rows(world, like=f"{ref}/Q2:%")] == [
        f"{ref}/Q2:opened",
        f"{ref}/Q2:reminder",
    ]


def test_a_held_step_is_held_once_however_often_the_sweep_runs(world, suspended):
    ref, due = suspended

    sweep(world.engine, after(due, 8))
    sweep(world.engine, after(due, 8) + timedelta(minutes=5))

    assert [r.trigger for r in q2_rows(world, ref)] == ["open", "remind", "held", "held"]


def test_reinstatement_resumes_the_ladder_without_sending_what_was_held(world, suspended):
    ref, due = suspended
    sweep(world.engine, after(due, 10))  # overdue and escalation 1 held
    with freeze_time(after(due, 11)):
        world.advance(ref, "reinstate", reason="Accounts audited")

    sweep(world.engine, after(due, 22))  # escalation 2 falls due

    q2 = checkpoint_rows(world, ref)[1]
    assert (q2.state, q2.level) == ("escalated", 2)
    assert [r.trigger for r in q2_rows(world, ref)] == [
        "open",
        "remind",
        "held",
        "held",
        "mark_overdue",
        "escalate",
    ]
    assert [r.key for r in outbox_rows(world, like=f"{ref}/Q2:%")] == [
        f"{ref}/Q2:opened",
        f"{ref}/Q2:reminder",
        f"{ref}/Q2:escalated_2",
    ]
    assert lifecycle.show(world.engine, ref)["state"] == "in_monitoring"

    sweep(world.engine, after(due, 29))  # and the ladder's last step is taken

    assert lifecycle.show(world.engine, ref)["state"] == "suspended"
    assert f"{ref}/Q2:suspended" in [r.key for r in outbox_rows(world, like=f"{ref}/Q2:%")]
