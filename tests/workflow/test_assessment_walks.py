"""Any mix of declarations (late conflicts too), scores, agreed scores and moderation
leaves an assessment that only counts scores from assessors without a conflict."""

import shutil
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from workflow.services import assessment, lifecycle
from workflow.storage.db import make_engine
from workflow.errors import CaseworkError
from workflow.services.chain import verify
from workflow.storage.tables import scores

ASSESSORS = ["ash", "asha", "amir"]
# Marks that mostly agree within the tolerance, and one that does not.
MARKS = st.sampled_from([(4, 4, 4), (4, 3, 4), (3, 3, 3), (1, 1, 1)])
# Declaring and scoring come up most, so walks reach late conflicts and moderation.
STEP = st.one_of(
    st.tuples(st.just("declare"), st.sampled_from(ASSESSORS), st.just(False)),
    st.tuples(st.just("declare"), st.sampled_from(ASSESSORS), st.just(True)),
    st.tuples(st.just("score"), st.sampled_from(ASSESSORS), MARKS),
    st.tuples(st.just("score"), st.sampled_from(ASSESSORS), MARKS),
    st.tuples(st.just("agree"), st.sampled_from(["mo", "carol"]), MARKS),
    st.tuples(st.just("moderate"), st.just("carol"), st.none()),
)


@pytest.fixture(scope="module")
def seeded(sqlite_template, tmp_path_factory):
    """A bid under assessment, with three assessors and a moderator, copied for every example."""
    from tests.builders import World
    from tests.workflow.awarding import under_assessment

    path = tmp_path_factory.mktemp("assessment-walks") / "bid.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    world = World(engine).cast()
    world.person("amir", "assessor")
    world.person("mo", "caseworker")
    ref = under_assessment(world)
    engine.dispose()
    return path, ref


def _do(engine, ref, action, person, detail):
    if action == "declare":
        return assessment.declare(
            engine, ref, person, conflict=detail, reason="A conflict" if detail else None
        )
    if action == "moderate":
        return lifecycle.advance(engine, ref, "moderate", person)
    innovation, costs, savings = detail
    if action == "score":
        return assessment.score(
            engine, ref, person, innovation=innovation, costs=costs, savings=savings
        )
    return assessment.agree_score(
        engine,
        ref,
        person,
        innovation=innovation,
        costs=costs,
        savings=savings,
        reason="Panel view",
    )


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(STEP, min_size=8, max_size=24))
def test_only_live_scores_of_unconflicted_assessors_ever_count(seeded, tmp_path_factory, steps):
    template, ref = seeded
    path = tmp_path_factory.mktemp("walk") / "w.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    try:
        rows_before, done = len(lifecycle.case_history(engine, ref)), 0
        for action, person, detail in steps:
            try:
                _do(engine, ref, action, person, detail)
                done += 1
            except CaseworkError:
                pass
            shown = assessment.assessment_of(engine, ref)
            conflicted = {d["person"] for d in shown["declarations"] if d["conflict"]}
            counted = [s for s in shown["scores"] if s["counts"]]
            assert not {s["assessor"] for s in counted} & conflicted
            assert all(
                s["set_aside_at"] for s in shown["scores"] if s["assessor"] in conflicted
            )  # scored, then declared
            if shown["agreed"] is None and counted:
                mean = sum(Decimal(s["weighted"]) for s in counted) / len(counted)
                assert shown["combined"] == assessment.score_text(mean)
            if shown["state"] == "moderated":
                assert len(counted) >= 2
                event("moderated")
            if any(s["set_aside_at"] for s in shown["scores"]):
                event("a score set aside")

        with engine.connect() as conn:
            live = conn.execute(
                select(scores.c.assessor, scores.c.agreed).where(scores.c.set_aside_at.is_(None))
            ).all()
            assert len(live) == len(set(live))  # one live score each
            assert verify(conn).ok
        assert len(lifecycle.case_history(engine, ref)) == rows_before + done
    finally:
        engine.dispose()
