"""The report's questions to councils: the question, what the council amended, its answer."""

from demo.clarifications import clarification_rows
from workflow.services import applications


def test_a_question_answered_with_an_amendment_is_one_row(world):
    world.cast()
    ref = world.bid(by="cllr")
    world.advance(ref, "submit", "check", "start_assessment")
    world.advance(ref, "ask_clarification", by="ash", reason="How are the savings shared?")
    applications.amend(world.engine, ref, world.bid_document(innovation="Shared by spend."), "cllr")
    world.advance(ref, "answer", by="cllr", reason="By each council's spend.")
    other = world.bid(by="cllr", title="Shared legal team")
    world.advance(other, "submit", "check", "start_assessment")
    world.advance(other, "ask_clarification", reason="Who hosts the team?")

    rows = clarification_rows(world.engine)

    assert [(r["ref"], r["question"], r["asked_by"], r["amended"], r["answer"]) for r in rows] == [
        (
            ref,
            "How are the savings shared?",
            "assessor",
            [{"version": 2, "changed": ["innovation"]}],
            "By each council's spend.",
        ),
        (other, "Who hosts the team?", "caseworker", [], None),
    ]
