"""Every field of every document, given every kind of JSON value: a refusal naming it, or a value.

Never another exception (a TypeError from a number where a list belongs was
one). Hypothesis writes the values; each document is parsed as `case open`,
`checkpoint submit` and the API read it, from JSON text.
"""

import json
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from states.documents import load_document, named_organisations, parse_area, parse_bid, parse_return
from states.errors import DocumentError
from states.programme import parse_programme

PROGRAMMES = Path(__file__).resolve().parents[2] / "states" / "programmes"
TCA = parse_programme((PROGRAMMES / "tca-2013.toml").read_text())
PSTN = parse_programme((PROGRAMMES / "pstn-2013.toml").read_text())
ORGS = {"E07000026", "E07000028", "E07000029"}

BID = {
    "programme": "tca-2013",
    "category": "shared_arrangement",
    "title": "Joint procurement hub",
    "lead": "E07000026",
    "partners": ["E07000028", "E07000029"],
    "amount": "250000",
    "transitional_costs": "120000.50",
    "annual_savings": "400000.00",
    "arrangement": "joint_procurement",
    "innovation": "One buyer for three councils.",
    "further_and_faster": "Next year, two more districts.",
}
AREA = {
    "programme": "pstn-2013",
    "title": "Greater Tewkesbury",
    "lead": "E07000026",
    "service_areas": ["troubled families", "health and care"],
    "how_to_succeed": "One team for the whole area.",
    "partners": [{"name": "Gloucestershire Police", "evidence": "letter of 3 March"}],
    "contribution": "50000",
}
RETURN = {
    name: ("1000.00" if spec.kind == "money" else "On track.")
    for name, spec in TCA.monitoring.fields.items()
}

# Every kind of value JSON has, small and nested.
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def parsed_as_sent(document: dict, parse, **kw):
    """Through JSON text, as a file or a request body arrives (numbers keep how they were written)."""
    return parse(load_document(json.dumps(document), ".json"), **kw)


def refuses_naming(field: str, document: dict, parse, **kw) -> None:
    """Parsed, or refused with every problem naming a field; the field itself when its value is
    not text (a text value may be refused for what it says about another field: a lead that is
    also listed among the partners)."""
    try:
        parsed_as_sent(document, parse, **kw)
    except DocumentError as refused:
        problems = refused.problems
        named = {p.split(":")[0].split("[")[0].split(".")[0] for p in problems}
        assert problems and named <= set(document) | {"document"}, problems
        if not isinstance(document[field], str):
            assert field in named, problems


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(BID)), value=json_values)
def test_every_bid_field_with_any_json_value_is_a_refusal_naming_it_or_accepted(field, value):
    document = {**BID, field: value}
    assert set(named_organisations(document)) <= {"E07000026", "E07000028", "E07000029"} | (
        {value}
        if isinstance(value, str)
        else set(v for v in value if isinstance(v, str))
        if isinstance(value, list)
        else set()
    )
    refuses_naming(field, document, parse_bid, programme=TCA, organisations=ORGS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(AREA)), value=json_values)
def test_every_area_field_with_any_json_value_is_a_refusal_naming_it_or_accepted(field, value):
    named_organisations({**AREA, field: value})
    refuses_naming(field, {**AREA, field: value}, parse_area, programme=PSTN, organisations=ORGS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(sorted(RETURN)), value=json_values)
def test_every_return_field_with_any_json_value_is_a_refusal_naming_it_or_accepted(field, value):
    refuses_naming(field, {**RETURN, field: value}, parse_return, programme=TCA)


def test_each_kind_of_json_value_in_each_bid_field_is_tried():
    # The property above samples; this walks every field with one value of each JSON type.
    kinds = [None, True, 0, 2.5, "E07000028", [], ["x", 1], {}, {"a": [1]}, Decimal("1")]
    for field in BID:
        for value in kinds:
            document = {**BID, field: float(value) if isinstance(value, Decimal) else value}
            refuses_naming(field, document, parse_bid, programme=TCA, organisations=ORGS)
    for field in AREA:
        for value in kinds[:-1]:
            refuses_naming(
                field, {**AREA, field: value}, parse_area, programme=PSTN, organisations=ORGS
            )


def test_a_number_where_the_partners_belong_is_a_refusal_naming_partners():
    try:
        parse_bid({**BID, "partners": 5}, programme=TCA, organisations=ORGS)
    except DocumentError as refused:
        assert refused.problems == ["partners: 5 is not a list"]
    else:
        raise AssertionError("partners = 5 was accepted")
    assert named_organisations({**BID, "partners": 5}) == ["E07000026"]


def test_a_return_that_is_not_an_object_is_refused():
    for figures in (5, [1, 2], "figures", True):
        try:
            parse_return(figures, programme=TCA)
        except DocumentError as refused:
            assert refused.problems[0].startswith("document: the top level is")
        else:
            raise AssertionError(f"{figures!r} was accepted as a return")
