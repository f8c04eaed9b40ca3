"""The answers of an application as people read them (states.questions.answers)."""

from pathlib import Path

from states import questions
from states.programme import parse_programme

PROGRAMMES = Path(__file__).resolve().parents[2] / "states" / "programmes"
DOC = {
    "category": "shared_arrangement",
    "title": "Joint procurement hub",
    "partners": ["E07000028"],
    "amount": "250000",
    "arrangement": "joint_procurement",
    "innovation": "One buying team.",
    "transitional_costs": "120000",
    "annual_savings": "400000",
}


def _tca(**replace: str):
    text = (PROGRAMMES / "tca-2013.toml").read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return parse_programme(text, "tca-2013.toml")


def _uncached(spec, document, names):
    return [
        (q.name, q.label, questions._shown(q, document.get(q.name), spec, names))
        for q in questions.questions(spec, document.get("category"))
    ]


def test_answers_are_the_questions_answered_each_file_and_category_its_own():
    first, renamed = _tca(), _tca(**{"Shared arrangement": "Shared working"})
    names = {"E07000028": "Carlisle City Council"}

    for spec in (first, renamed, first):  # asked again: the same answers
        for document in (DOC, {**DOC, "category": "single_operation"}, {**DOC, "category": None}):
            assert questions.answers(spec, document, names) == _uncached(spec, document, names)
    shown = {field: answer for field, _, answer in questions.answers(renamed, DOC, names)}
    assert shown["category"] == "Shared working"  # the renamed file's own words
    assert shown["partners"] == "Carlisle City Council"


def test_a_refusal_for_people_drops_the_field_codes_of_application_fields_only():
    from states.questions import without_field_codes

    said = "Shared arrangement asks at most £500,000; this bid asks £600,000 (amount)"
    assert without_field_codes(said) == (
        "Shared arrangement asks at most £500,000; this bid asks £600,000"
    )
    kept = "it needs 1 partner council (partners); this bid names 0 (a fire authority)"
    assert (
        without_field_codes(kept)
        == "it needs 1 partner council; this bid names 0 (a fire authority)"
    )
