"""Assessment rules: declare first, score once, two independent scores, a moderator where they differ."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from workflow.services import assessment, lifecycle
from workflow.storage.db import reading
from workflow.errors import GuardFailed, Malformed, PermissionDenied, RuleViolation
from workflow.services.chain import verify
from workflow.storage.tables import outbox

from tests.workflow.awarding import load_programme, scored, small_programme, under_assessment


@pytest.fixture
def world(world):
    world.cast()
    world.person("mo", "caseworker")
    return world


def history_of(world, ref):
    return lifecycle.case_history(world.engine, ref)


# --- declaring -------------------------------------------------------------
def test_an_assessor_must_declare_before_scoring(world):
    ref = under_assessment(world)
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="has not declared on .* declare first"):
        assessment.score(world.engine, ref, "ash", innovation=3, costs=3, savings=3)

    assert world.snapshot() == before


def test_an_assessor_who_declares_a_conflict_cannot_score_the_bid(world):
    ref = under_assessment(world)
    assessment.declare(world.engine, ref, "ash", conflict=True, reason="My sister leads it")
    before = world.snapshot()

    with pytest.raises(PermissionDenied, match="declared a conflict .*My sister leads it"):
        assessment.score(world.engine, ref, "ash", innovation=5, costs=5, savings=5)

    assert world.snapshot() == before


def test_a_conflict_must_say_what_it_is(world):
    ref = under_assessment(world)
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="needs its reason"):
        assessment.declare(world.engine, ref, "ash", conflict=True, reason="  ")

    assert world.snapshot() == before


def test_no_conflict_is_declared_once(world):
    ref = under_assessment(world)
    assessment.declare(world.engine, ref, "ash", conflict=False)
    before = world.snapshot()

    with pytest.raises(
        RuleViolation,
        match="already declared no conflict .* declare the conflict and say what it is",
    ):
        assessment.declare(world.engine, ref, "ash", conflict=False)

    assert world.snapshot() == before


def test_a_conflict_cannot_be_taken_back(world):
    ref = under_assessment(world)
    assessment.declare(world.engine, ref, "ash", conflict=True, reason="My sister leads it")
    before = world.snapshot()

    for conflict in (False, True):
        with pytest.raises(
            RuleViolation,
            match="already declared a conflict of interest "
            r"\(My sister leads it\).*cannot be taken back",
        ):
            assessment.declare(world.engine, ref, "ash", conflict=conflict, reason="changed")

    assert world.snapshot() == before


# --- a conflict found after scoring ------------------------------------------
def test_a_conflict_found_after_scoring_sets_the_score_aside_and_keeps_it_on_record(world):
    ref = scored(world, under_assessment(world), marks=((5, 5, 5), (3, 3, 3)))

    shown = assessment.declare(
        world.engine,
        ref,
        "ash",
        conflict=True,
        reason="Found my spouse sits on the partner council's cabinet",
    )

    assert [(d["person"], d["conflict"]) for d in shown["declarations"]] == [
        ("ash", True),
        ("asha", False),
    ]
    ash = shown["scores"][0]
    assert (ash["assessor"], ash["weighted"], ash["counts"]) == ("ash", "15.00", False)
    assert ash["set_aside_at"] is not None
    assert shown["combined"] == "9.00"  # asha's score alone
    assert shown["can_moderate"] is False
    assert shown["waiting_for"] == [
        f"moderation needs scores from two different assessors; {ref} has 1 (from asha)"
    ]


def test_the_late_conflict_is_a_history_row_naming_what_it_set_aside(world):
    ref = scored(world, under_assessment(world))

    assessment.declare(world.engine, ref, "ash", conflict=True, reason="Remembered a directorship")

    row = history_of(world, ref)[-1]
    assert (row["trigger"], row["actor"], row["reason"]) == (
        "declare",
        "ash",
        "Remembered a directorship",
    )
    assert row["from_state"] == row["to_state"] == "under_assessment"
    assert row["payload"]["conflict"] is True
    assert row["payload"]["earlier"]["conflict"] is False
    assert row["payload"]["set_aside"] == [{"assessor": "ash", "agreed": False}]
    with reading(world.engine) as conn:
        assert verify(conn).ok


def test_after_a_late_conflict_another_assessor_scores_and_the_bid_is_moderated(world):
    world.person("amir", "assessor")
    ref = scored(world, under_assessment(world))
    assessment.declare(world.engine, ref, "ash", conflict=True, reason="A directorship")
    before = world.snapshot()

    with pytest.raises(GuardFailed, match="has 1 \\(from asha\\)"):
        world.advance(ref, "moderate")
    with pytest.raises(PermissionDenied, match="ash declared a conflict"):
        assessment.score(world.engine, ref, "ash", innovation=4, costs=4, savings=4)
    assert world.snapshot() == before

    scored(world, ref, marks=((4, 4, 3),), assessors=("amir",))
    assert assessment.assessment_of(world.engine, ref)["combined"] == "11.50"  # asha 12, amir 11
    assert world.advance(ref, "moderate")["state"] == "moderated"


def test_the_caseworker_is_emailed_to_find_another_assessor_and_the_conflict_stays_inside(world):
    ref = scored(world, under_assessment(world))

    assessment.declare(world.engine, ref, "ash", conflict=True, reason="My sister leads it")

    with world.engine.connect() as conn:
        [told] = conn.execute(
            select(
                outbox.c.key,
                outbox.c.to_addrs,
                outbox.c.cc_addrs,
                outbox.c.subject,
                outbox.c.body_text,
            ).where(outbox.c.kind == "bid.conflict_declared")
        ).all()
    seq = history_of(world, ref)[-1]["seq"]
    assert told.key == f"{ref}:declare:{seq}"
    assert told.to_addrs == ["carol@casework.example.gov.uk"]
    assert told.cc_addrs == ["tca-lead@example.org"]  # the programme lead
    assert told.subject == f"{ref} needs another assessor: a score is set aside"
    assert f"/cases/{ref}/assessment" in told.body_text
    assert "My sister" not in told.body_text and "ash" not in told.body_text.split()


def test_a_conflict_declared_before_any_score_sends_no_email(world):
    ref = under_assessment(world)
    with world.engine.connect() as conn:
        queued = conn.execute(select(func.count()).select_from(outbox)).scalar()

    assessment.declare(world.engine, ref, "ash", conflict=True, reason="My sister leads it")

    with world.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar() == queued


def test_a_late_conflict_sets_aside_the_agreed_score_settled_with_it(world):
    world.person("amir", "assessor")
    ref = scored(world, under_assessment(world), marks=((5, 5, 5), (1, 1, 1)))
    assessment.agree_score(
        world.engine, ref, "mo", innovation=3, costs=3, savings=3, reason="Panel view"
    )

    shown = assessment.declare(world.engine, ref, "ash", conflict=True, reason="A directorship")

    assert shown["agreed"] is None
    assert [(a["moderator"], a["weighted"]) for a in shown["agreed_set_aside"]] == [("mo", "9.00")]
    assert history_of(world, ref)[-1]["payload"]["set_aside"] == [
        {"assessor": "ash", "agreed": False},
        {"assessor": "mo", "agreed": True},
    ]
    scored(world, ref, marks=((5, 5, 5),), assessors=("amir",))  # 15 against asha's 3
    again = assessment.agree_score(
        world.engine, ref, "mo", innovation=2, costs=2, savings=2, reason="Panel view, without ash"
    )
    assert again["agreed"]["weighted"] == "6.00" and again["combined"] == "6.00"
    assert world.advance(ref, "moderate")["state"] == "moderated"


def test_a_conflict_declared_before_scoring_sets_nothing_aside(world):
    ref = scored(world, under_assessment(world), marks=((4, 4, 4),), assessors=("asha",))
    assessment.declare(world.engine, ref, "ash", conflict=False)

    assessment.declare(world.engine, ref, "ash", conflict=True, reason="A directorship")

    assert history_of(world, ref)[-1]["payload"]["set_aside"] == []
    shown = assessment.assessment_of(world.engine, ref)
    assert [(s["assessor"], s["counts"]) for s in shown["scores"]] == [("asha", True)]


def test_once_a_bid_is_moderated_a_conflict_can_no_longer_be_declared_on_it(world):
    ref = scored(world, under_assessment(world))
    world.advance(ref, "moderate")
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="is moderated, so it cannot take declarations"):
        assessment.declare(world.engine, ref, "ash", conflict=True, reason="Too late")

    assert world.snapshot() == before


def test_a_late_conflict_still_needs_its_reason(world):
    ref = scored(world, under_assessment(world))
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="needs its reason"):
        assessment.declare(world.engine, ref, "ash", conflict=True)

    assert world.snapshot() == before
    assert all(s["counts"] for s in assessment.assessment_of(world.engine, ref)["scores"])


def test_a_declaration_may_come_as_soon_as_the_bid_is_eligible(world):
    ref = lifecycle.open_case(world.engine, "bid", world.bid_document(), "carol")["ref"]
    world.advance(ref, "submit", "check")

    shown = assessment.declare(world.engine, ref, "ash", conflict=False)

    assert shown["state"] == "eligible"
    assert [(d["person"], d["conflict"]) for d in shown["declarations"]] == [("ash", False)]


@pytest.mark.parametrize("state_path, state", [((), "draft"), (("submit",), "submitted")])
def test_nobody_declares_on_a_bid_not_yet_found_eligible(world, state_path, state):
    ref = lifecycle.open_case(world.engine, "bid", world.bid_document(), "carol")["ref"]
    world.advance(ref, *state_path)
    before = world.snapshot()

    with pytest.raises(RuleViolation, match=f"is {state}, so it cannot take declarations"):
        assessment.declare(world.engine, ref, "ash", conflict=False)

    assert world.snapshot() == before


def test_only_an_assessor_declares_or_scores(world):
    ref = under_assessment(world)
    before = world.snapshot()

    with pytest.raises(PermissionDenied, match="carol may not declare an interest"):
        assessment.declare(world.engine, ref, "carol", conflict=False)
    with pytest.raises(PermissionDenied, match="april may not score"):
        assessment.score(world.engine, ref, "april", innovation=1, costs=1, savings=1)

    assert world.snapshot() == before


# --- scoring ---------------------------------------------------------------
@pytest.mark.parametrize(
    "innovation, costs, savings, field",
    [
        (-1, 3, 3, "innovation: -1"),
        (3, 6, 3, "costs: 6"),
        (3, 3, 99, "savings: 99"),
        ("3.5", 3, 3, "innovation: '3.5'"),  # as typed on the command line or the web
    ],
)
def test_each_criterion_is_scored_from_0_to_5(world, innovation, costs, savings, field):
    ref = under_assessment(world)
    assessment.declare(world.engine, ref, "ash", conflict=False)
    before = world.snapshot()

    with pytest.raises(Malformed, match=f"{field} is not a whole number from 0 to 5"):
        assessment.score(
            world.engine, ref, "ash", innovation=innovation, costs=costs, savings=savings
        )

    assert world.snapshot() == before


def test_the_ends_of_the_scale_are_scores(world):
    ref = under_assessment(world)
    scored(world, ref, marks=((0, 0, 0), (5, 5, 5)))

    shown = assessment.assessment_of(world.engine, ref)

    assert [s["weighted"] for s in shown["scores"]] == ["0.00", "15.00"]


def test_an_assessor_scores_a_bid_once(world):
    ref = under_assessment(world)
    scored(world, ref, marks=((3, 3, 3),), assessors=("ash",))
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="ash already scored .*innovation 3"):
        assessment.score(world.engine, ref, "ash", innovation=5, costs=5, savings=5)

    assert world.snapshot() == before


def test_no_scoring_while_the_council_answers_a_clarification_question(world):
    ref = under_assessment(world)
    assessment.declare(world.engine, ref, "ash", conflict=False)
    world.advance(ref, "ask_clarification", reason="Which councils share the hub?")
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="waiting for the council's answer"):
        assessment.score(world.engine, ref, "ash", innovation=3, costs=3, savings=3)

    assert world.snapshot() == before
    world.advance(ref, "answer")
    assessment.score(world.engine, ref, "ash", innovation=3, costs=3, savings=3)


def test_a_network_area_is_not_scored(world):
    world.org("E08000003")
    area = lifecycle.open_case(
        world.engine,
        "area",
        {
            "programme": "pstn-2013",
            "title": "Manchester",
            "lead": "E08000003",
            "service_areas": ["troubled families"],
            "how_to_succeed": "Together",
            "partners": [
                {"name": "NHS", "evidence": "letter"},
                {"name": "Police", "evidence": "MoU"},
            ],
            "contribution": "50000",
        },
        "carol",
    )["ref"]

    with pytest.raises(RuleViolation, match="network area, not a bid"):
        assessment.declare(world.engine, area, "ash", conflict=False)


def test_every_declaration_and_score_is_a_history_row_that_changes_no_state(world):
    ref = under_assessment(world)

    scored(world, ref, marks=((5, 4, 3), (4, 4, 4)))

    rows = history_of(world, ref)[-4:]
    assert [(r["trigger"], r["actor"], r["role"]) for r in rows] == [
        ("declare", "ash", "assessor"),
        ("score", "ash", "assessor"),
        ("declare", "asha", "assessor"),
        ("score", "asha", "assessor"),
    ]
    assert all(r["from_state"] == r["to_state"] == "under_assessment" for r in rows)
    assert rows[1]["payload"] == {"innovation": 5, "costs": 4, "savings": 3, "weighted": "12.00"}
    with reading(world.engine) as conn:
        assert verify(conn).ok


# --- moderating ------------------------------------------------------------
def test_moderation_needs_two_independent_scores(world):
    ref = under_assessment(world)
    scored(world, ref, marks=((4, 4, 4),), assessors=("ash",))
    before = world.snapshot()

    with pytest.raises(GuardFailed, match=r"two different assessors; .* has 1 \(from ash\)"):
        world.advance(ref, "moderate")

    assert world.snapshot() == before
    scored(world, ref, marks=((4, 4, 4),), assessors=("asha",))
    assert world.advance(ref, "moderate")["state"] == "moderated"


@pytest.mark.parametrize(
    "second, moderates",
    [
        ((4, 4, 2), True),  # weighted 10 against 12: a gap of 2, the tolerance
        ((4, 4, 1), False),  # a gap of 3: past it
    ],
)
def test_scores_further_apart_than_the_tolerance_wait_for_a_moderator(world, second, moderates):
    ref = under_assessment(world)
    scored(world, ref, marks=((4, 4, 4), second))
    before = world.snapshot()

    if moderates:
        assert world.advance(ref, "moderate")["state"] == "moderated"
        return
    with pytest.raises(GuardFailed, match="differ by 3 .* a moderator's agreed score is needed"):
        world.advance(ref, "moderate")
    assert world.snapshot() == before
    assert assessment.assessment_of(world.engine, ref)["waiting_for"] == [
        "the assessors' weighted scores differ by 3 (ash 12, asha 9), more than the "
        "tolerance of 2: a moderator's agreed score is needed"
    ]


def test_a_moderators_agreed_score_settles_a_disagreement_and_is_kept_beside_the_others(world):
    ref = under_assessment(world)
    scored(world, ref, marks=((5, 5, 5), (1, 1, 1)))

    shown = assessment.agree_score(
        world.engine,
        ref,
        "mo",
        innovation=3,
        costs=3,
        savings=4,
        reason="Panel agreed the savings case is sound",
    )

    assert [s["weighted"] for s in shown["scores"]] == ["15.00", "3.00"]
    assert shown["agreed"]["weighted"] == "10.00"
    assert shown["agreed"]["moderator"] == "mo"
    assert shown["combined"] == "10.00" and shown["combined_from"] == "agreed"
    assert shown["can_moderate"] is True
    assert world.advance(ref, "moderate")["state"] == "moderated"
    last = [r for r in history_of(world, ref) if r["trigger"] == "agree_score"][0]
    assert last["reason"] == "Panel agreed the savings case is sound"
    assert last["role"] == "caseworker"


def test_an_agreed_score_needs_a_reason_two_scores_and_a_moderator_who_did_not_assess(world):
    world.person("cass", "caseworker", "assessor")
    ref = under_assessment(world)
    scored(world, ref, marks=((5, 5, 5),), assessors=("ash",))
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="needs a reason"):
        assessment.agree_score(world.engine, ref, "mo", innovation=3, costs=3, savings=3, reason="")
    with pytest.raises(RuleViolation, match="cannot be agreed yet: .*has 1"):
        assessment.agree_score(
            world.engine, ref, "mo", innovation=3, costs=3, savings=3, reason="early"
        )
    assert world.snapshot() == before
    scored(world, ref, marks=((1, 1, 1),), assessors=("cass",))
    middle = world.snapshot()
    with pytest.raises(PermissionDenied, match="cass assessed .* another caseworker"):
        assessment.agree_score(
            world.engine, ref, "cass", innovation=3, costs=3, savings=3, reason="mine"
        )
    with pytest.raises(PermissionDenied, match="ash may not agree a score"):
        assessment.agree_score(
            world.engine, ref, "ash", innovation=3, costs=3, savings=3, reason="mine"
        )

    assert world.snapshot() == middle


def test_a_score_is_agreed_once(world):
    world.person("max", "caseworker")
    ref = under_assessment(world)
    scored(world, ref, marks=((5, 5, 5), (1, 1, 1)))
    assessment.agree_score(
        world.engine, ref, "mo", innovation=3, costs=3, savings=3, reason="panel"
    )
    before = world.snapshot()

    with pytest.raises(RuleViolation, match="already has an agreed score from mo"):
        assessment.agree_score(
            world.engine, ref, "max", innovation=4, costs=4, savings=4, reason="second view"
        )

    assert world.snapshot() == before


def test_the_weighted_score_uses_the_programmes_weights(world):
    code = load_programme(world, small_programme("weights-1", weights=(2, 1, 0)))
    ref = under_assessment(world, programme=code)
    scored(world, ref, marks=((5, 1, 4), (4, 2, 0)))

    shown = assessment.assessment_of(world.engine, ref)

    assert [s["weighted"] for s in shown["scores"]] == ["11.00", "10.00"]
    assert shown["combined"] == "10.50"
    assert shown["criteria"] == {"innovation": "2.00", "costs": "1.00", "savings": "0.00"}


def test_assessors_scoring_one_bid_at_the_same_moment_are_both_recorded(any_world):
    world = any_world.cast()
    panel = [world.person(f"panel{n}", "assessor") for n in range(4)]
    ref = under_assessment(world)
    start = threading.Barrier(len(panel))

    def declare_and_score(who):
        start.wait()
        assessment.declare(world.engine, ref, who, conflict=False)
        return assessment.score(world.engine, ref, who, innovation=3, costs=3, savings=3)

    with ThreadPoolExecutor(len(panel)) as pool:
        list(pool.map(declare_and_score, panel))

    shown = assessment.assessment_of(world.engine, ref)
    assert sorted(s["assessor"] for s in shown["scores"]) == panel
    with reading(world.engine) as conn:
        assert verify(conn).ok
