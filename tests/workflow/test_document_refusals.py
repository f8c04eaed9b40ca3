"""Opening a case from a document with a wrongly typed field: a refusal naming it, nothing written."""

import pytest

from workflow.services import lifecycle as cases
from workflow.errors import Malformed

WRONG = [
    ("partners", 5),
    ("partners", {"E07000028": True}),
    ("partners", "E07000028"),
    ("lead", ["E07000026"]),
    ("lead", 7),
    ("programme", 2013),
    ("programme", ["tca-2013"]),
    ("amount", [250000]),
    ("amount", True),
    ("title", {"text": "hub"}),
    ("category", None),
]


@pytest.mark.parametrize("field,value", WRONG)
def test_a_wrongly_typed_field_is_refused_by_name_and_nothing_is_written(world, field, value):
    w = world.cast()
    before = w.snapshot()

    with pytest.raises(Malformed) as refused:
        cases.open_case(w.engine, "bid", w.bid_document(**{field: value}), "carol")

    assert any(problem.startswith(f"{field}:") for problem in refused.value.problems), refused.value
    assert w.snapshot() == before
