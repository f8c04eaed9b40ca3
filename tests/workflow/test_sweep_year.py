"""A year of one award, day by day: every message and every transition, on the right day.

The award of TCA-2013-0001 is accepted on Tuesday 1 October 2013, so its four
quarterly returns are due on 2 January 2014 (1 January is a bank holiday),
1 April, 1 July and 1 October 2014. The council returns Q1 on time, Q2 after
the first escalation (and is queried, so it is not chased while it answers),
Q3 only after the case has been suspended, and Q4 on time. The sweep runs at
09:30 UTC every day, twice, and the second run must find nothing to do.
"""

from datetime import date, datetime, time, timedelta, timezone

from freezegun import freeze_time
from sqlalchemy import select

from tests.workflow.monitoring_world import bid_in_monitoring, outbox_rows
from workflow.services import lifecycle, monitoring
from workflow.storage.tables import cases as cases_t
from workflow.storage.tables import history
from workflow.runtime.sweep import sweep

UTC = timezone.utc
ACCEPTED = datetime(2013, 10, 1, 10, 0, tzinfo=UTC)
REF = "TCA-2013-0001"
FIGURES = {
    "spend_to_date": "120000",
    "savings_to_date": "40000",
    "progress": "On track",
    "risks": "Recruitment to the joint team",
}

COUNCIL = "returns@e07000026.example.gov.uk"
CHIEF_EXECUTIVE = "chief.executive@e07000026.example.gov.uk"
CASEWORKER = "carol@casework.example.gov.uk"
LEAD = "tca-lead@example.org"
DIRECTOR = "tca-director@example.org"


def people_act(world, day: date) -> None:
    """What the council and the caseworker do on `day` (at 14:00, after the sweep)."""
    engine = world.engine
    actions = {
        date(2014, 1, 2): lambda: monitoring.submit_return(
            engine, f"{REF}/Q1", "cllr", figures=FIGURES
        ),
        date(2014, 1, 6): lambda: monitoring.decide_return(engine, f"{REF}/Q1", "accept", "carol"),
        date(2014, 4, 10): lambda: monitoring.submit_return(
            engine, f"{REF}/Q2", "cllr", figures={"spend_to_date": "0", "progress": "Nothing yet."}
        ),
        date(2014, 4, 11): lambda: monitoring.decide_return(
            engine,
            f"{REF}/Q2",
            "query",
            "carol",
            reason="No figures: please give spend and savings",
        ),
        date(2014, 5, 6): lambda: monitoring.submit_return(
            engine, f"{REF}/Q2", "cllr", figures=FIGURES
        ),
        date(2014, 5, 7): lambda: monitoring.decide_return(engine, f"{REF}/Q2", "accept", "carol"),
        date(2014, 8, 4): lambda: monitoring.submit_return(
            engine, f"{REF}/Q3", "cllr", figures=FIGURES
        ),
        date(2014, 8, 5): lambda: (
            monitoring.decide_return(engine, f"{REF}/Q3", "accept", "carol"),
            lifecycle.advance(engine, REF, "reinstate", "carol"),
        ),
        date(2014, 9, 30): lambda: monitoring.submit_return(
            engine, f"{REF}/Q4", "cllr", figures=FIGURES
        ),
        date(2014, 10, 1): lambda: monitoring.decide_return(engine, f"{REF}/Q4", "accept", "carol"),
        date(2014, 10, 2): lambda: lifecycle.advance(engine, REF, "complete", "carol"),
    }
    if day in actions:
        actions[day]()


def live_the_year(world) -> list[int]:
    """Sweep twice each morning and let people act each afternoon; the second sweeps' totals."""
    seconds = []
    day = ACCEPTED.date() + timedelta(days=1)
    with freeze_time(ACCEPTED) as frozen:
        while day <= date(2014, 12, 31):
            frozen.move_to(datetime.combine(day, time(9, 30), UTC))
            sweep(world.engine)
            seconds.append(sweep(world.engine).total)
            frozen.move_to(datetime.combine(day, time(14, 0), UTC))
            people_act(world, day)
            day += timedelta(days=1)
    return seconds


def test_a_year_of_one_award_sends_each_message_on_its_day_to_the_right_people(world):
    world.cast()
    ref = bid_in_monitoring(world, ACCEPTED)
    assert ref == REF

    second_runs = live_the_year(world)

    sent = [
        (r.created_at.date(), r.key, r.to_addrs, r.cc_addrs)
        for r in outbox_rows(world)
        if r.created_at >= ACCEPTED
    ]
    reinstated_key = next(key for _, key, _, _ in sent if ":reinstate:" in key)
    queried_key = next(key for _, key, _, _ in sent if ":query:" in key)
    assert sent == [
        (date(2013, 12, 19), f"{REF}/Q1:opened", [COUNCIL], []),
        (date(2013, 12, 27), f"{REF}/Q1:reminder", [COUNCIL], []),  # 3 working days: not 30 Dec
        (date(2014, 3, 18), f"{REF}/Q2:opened", [COUNCIL], []),
        (date(2014, 3, 27), f"{REF}/Q2:reminder", [COUNCIL], []),
        (date(2014, 4, 2), f"{REF}/Q2:overdue", [COUNCIL], [CASEWORKER]),
        (date(2014, 4, 8), f"{REF}/Q2:escalated_1", [CHIEF_EXECUTIVE], [LEAD]),
        (date(2014, 4, 11), queried_key, [COUNCIL], [CASEWORKER]),  # the late Q2 is queried
        (date(2014, 6, 17), f"{REF}/Q3:opened", [COUNCIL], []),
        (date(2014, 6, 26), f"{REF}/Q3:reminder", [COUNCIL], []),
        (date(2014, 7, 2), f"{REF}/Q3:overdue", [COUNCIL], [CASEWORKER]),
        (date(2014, 7, 8), f"{REF}/Q3:escalated_1", [CHIEF_EXECUTIVE], [LEAD]),
        (date(2014, 7, 22), f"{REF}/Q3:escalated_2", [DIRECTOR], [CHIEF_EXECUTIVE, LEAD]),
        (
            date(2014, 7, 29),
            f"{REF}/Q3:suspended",
            [COUNCIL, CHIEF_EXECUTIVE, CASEWORKER, LEAD, DIRECTOR],
            [],
        ),
        (date(2014, 8, 5), reinstated_key, [COUNCIL], [CASEWORKER]),
        (date(2014, 9, 17), f"{REF}/Q4:opened", [COUNCIL], []),
        (date(2014, 9, 26), f"{REF}/Q4:reminder", [COUNCIL], []),
        # a year after acceptance the annual review falls due, to the caseworker; the case
        # is complete the next day, so it is never escalated
        (date(2014, 10, 1), f"{REF}/R1:review_due", [CASEWORKER], []),
    ]
    assert set(second_runs) == {0}  # a second sweep at the same moment does nothing


def test_a_year_of_one_award_moves_each_return_on_its_day(world):
    world.cast()
    bid_in_monitoring(world, ACCEPTED)

    live_the_year(world)

    with world.engine.connect() as conn:
        case_id = conn.execute(select(cases_t.c.id).where(cases_t.c.ref == REF)).scalar()
        year = list(
            conn.execute(
                select(history)
                .where(history.c.case_id == case_id, history.c.at >= ACCEPTED)
                .order_by(history.c.seq)
            )
        )
    rows = [
        (r.at.date(), r.checkpoint, r.trigger, r.from_state, r.to_state, r.actor)
        for r in year
        if r.payment is None
    ]
    payments = [
        (r.at.date(), r.payment, r.trigger, r.from_state, r.to_state, r.actor)
        for r in year
        if r.payment is not None
    ]
    # Tranches fall due as their events happen, are held while the case is suspended and
    # due again on reinstatement (nobody approves or pays in this year).
    assert payments == [
        (date(2013, 10, 1), "P1", "payment_due", None, "due", "cllr"),
        (date(2014, 5, 7), "P2", "payment_due", None, "due", "carol"),
        (date(2014, 7, 29), "P1", "hold", "due", "held", "system"),
        (date(2014, 7, 29), "P2", "hold", "due", "held", "system"),
        (date(2014, 8, 5), "P1", "release", "held", "due", "carol"),
        (date(2014, 8, 5), "P2", "release", "held", "due", "carol"),
        (date(2014, 10, 1), "P3", "payment_due", None, "due", "carol"),
    ]
    assert rows == [
        (date(2013, 10, 1), None, "accept", "award_offered", "in_monitoring", "cllr"),
        (date(2013, 10, 1), None, "schedule_checkpoints", "in_monitoring", "in_monitoring", "cllr"),
        (date(2013, 12, 19), "Q1", "open", "scheduled", "open", "system"),
        (date(2013, 12, 27), "Q1", "remind", "open", "open", "system"),
        (date(2014, 1, 2), "Q1", "submit", "open", "submitted", "cllr"),
        (date(2014, 1, 6), "Q1", "accept", "submitted", "accepted", "carol"),
        (date(2014, 3, 18), "Q2", "open", "scheduled", "open", "system"),
        (date(2014, 3, 27), "Q2", "remind", "open", "open", "system"),
        (date(2014, 4, 2), "Q2", "mark_overdue", "open", "overdue", "system"),
        (date(2014, 4, 8), "Q2", "escalate", "overdue", "escalated", "system"),
        (date(2014, 4, 10), "Q2", "submit", "escalated", "submitted", "cllr"),
        (date(2014, 4, 11), "Q2", "query", "submitted", "queried", "carol"),
        # queried: no second escalation on 22 April, no suspension on 29 April
        (date(2014, 5, 6), "Q2", "submit", "queried", "submitted", "cllr"),
        (date(2014, 5, 7), "Q2", "accept", "submitted", "accepted", "carol"),
        (date(2014, 6, 17), "Q3", "open", "scheduled", "open", "system"),
        (date(2014, 6, 26), "Q3", "remind", "open", "open", "system"),
        (date(2014, 7, 2), "Q3", "mark_overdue", "open", "overdue", "system"),
        (date(2014, 7, 8), "Q3", "escalate", "overdue", "escalated", "system"),
        (date(2014, 7, 22), "Q3", "escalate", "escalated", "escalated", "system"),
        (date(2014, 7, 29), None, "suspend", "in_monitoring", "suspended", "system"),
        (date(2014, 8, 4), "Q3", "submit", "escalated", "submitted", "cllr"),
        (date(2014, 8, 5), "Q3", "accept", "submitted", "accepted", "carol"),
        (date(2014, 8, 5), None, "reinstate", "suspended", "in_monitoring", "carol"),
        (date(2014, 9, 17), "Q4", "open", "scheduled", "open", "system"),
        (date(2014, 9, 26), "Q4", "remind", "open", "open", "system"),
        (date(2014, 9, 30), "Q4", "submit", "open", "submitted", "cllr"),
        (date(2014, 10, 1), None, "review_due", "in_monitoring", "in_monitoring", "system"),
        (date(2014, 10, 1), "Q4", "accept", "submitted", "accepted", "carol"),
        (date(2014, 10, 2), None, "complete", "in_monitoring", "closed", "carol"),
    ]


def test_the_escalations_of_a_year_raise_the_level_and_flag_the_case_at_risk(world):
    world.cast()
    bid_in_monitoring(world, ACCEPTED)

    live_the_year(world)

    q3 = monitoring.get_checkpoint(world.engine, f"{REF}/Q3")
    levels = [
        (h["payload"]["step"], h["payload"].get("level"), h["payload"].get("at_risk"))
        for h in q3["history"]
        if h["trigger"] == "escalate"
    ]
    assert levels == [("escalated_1", 1, None), ("escalated_2", 2, True)]
    assert q3["level"] == 2
    # The late Q3 was sent, accepted and the case reinstated, which lifted the flag.
    assert lifecycle.show(world.engine, REF)["at_risk"] is False
    suspension = [h for h in lifecycle.case_history(world.engine, REF) if h["trigger"] == "suspend"]
    assert suspension[0]["actor"] == "system" and suspension[0]["role"] == "system"
    assert suspension[0]["payload"]["checkpoint"] == "Q3"
    assert suspension[0]["payload"]["step"] == "suspended"
