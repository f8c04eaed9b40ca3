"""Escalation 2 flags a case at risk; dealing with the late return lifts the flag."""
from datetime import datetime, timedelta, timezone

from freezegun import freeze_time

from tests.workflow.monitoring_world import bid_in_monitoring
from workflow import cases, monitoring
from workflow.sweep import sweep


def test_a_case_is_at_risk_from_escalation_2_until_its_late_return_is_accepted(world):
    ref = bid_in_monitoring(world, datetime(2013, 6, 3, 10, tzinfo=timezone.utc))
    q1 = monitoring.list_checkpoints(world.engine, case=ref)[0]
    due = datetime.fromisoformat(q1["due"]).replace(hour=12, tzinfo=timezone.utc)

    sweep(world.engine, due + timedelta(days=22))
    assert cases.show(world.engine, ref)["at_risk"] is True

    with freeze_time(due + timedelta(days=23)):
        monitoring.submit_return(world.engine, q1["ref"], "cllr", figures={"progress": "late, sorry"})
        assert cases.show(world.engine, ref)["at_risk"] is True      # submitted, not yet accepted
        monitoring.decide_return(world.engine, q1["ref"], "accept", "carol")

    assert cases.show(world.engine, ref)["at_risk"] is False
