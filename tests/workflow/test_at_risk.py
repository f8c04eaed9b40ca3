"""Escalation 2 flags a case at risk; dealing with the late return lifts the flag."""

from datetime import datetime, timedelta, timezone

from freezegun import freeze_time

from tests.workflow.monitoring_world import bid_in_monitoring
from workflow.services import lifecycle, monitoring
from workflow.runtime.sweep import sweep


def test_a_case_is_at_risk_from_escalation_2_until_its_late_return_is_accepted(world):
    ref = bid_in_monitoring(world, datetime(2013, 6, 3, 10, tzinfo=timezone.utc))
    q1 = monitoring.list_checkpoints(world.engine, case=ref)[0]
    due = datetime.fromisoformat(q1["due"]).replace(hour=12, tzinfo=timezone.utc)

    sweep(world.engine, due + timedelta(days=22))
    assert lifecycle.show(world.engine, ref)["at_risk"] is True

    with freeze_time(due + timedelta(days=23)):
        monitoring.submit_return(
            world.engine,
            q1["ref"],
            "cllr",
            figures={"progress": "late, sorry", "spend_to_date": "0"},
        )
        assert lifecycle.show(world.engine, ref)["at_risk"] is True  # submitted, not yet accepted
        monitoring.decide_return(world.engine, q1["ref"], "accept", "carol")

    assert lifecycle.show(world.engine, ref)["at_risk"] is False


def test_a_queried_return_tells_the_council_what_was_asked_with_a_link_to_resend(world):
    from sqlalchemy import select
    from workflow.storage.tables import outbox

    ref = bid_in_monitoring(world, datetime(2013, 6, 3, 10, tzinfo=timezone.utc))
    q1 = monitoring.list_checkpoints(world.engine, case=ref)[0]
    due = datetime.fromisoformat(q1["due"]).replace(hour=8, tzinfo=timezone.utc)
    sweep(world.engine, due - timedelta(days=13))
    monitoring.submit_return(
        world.engine, q1["ref"], "cllr", figures={"spend_to_date": "1000", "progress": "Late."}
    )

    monitoring.decide_return(
        world.engine,
        q1["ref"],
        "query",
        "carol",
        reason="Spend to date looks low: is it in pounds?",
    )

    with world.engine.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.kind == "checkpoint.queried")).one()
    assert row.to_addrs == ["returns@e07000026.example.gov.uk"]
    assert row.cc_addrs == ["carol@casework.example.gov.uk"]
    assert "Spend to date looks low: is it in pounds?" in row.body_text
    assert f"/returns/{ref}/Q1" in row.body_text
