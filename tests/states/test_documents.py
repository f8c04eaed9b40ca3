"""Documents: `case open` checks only the document and names every fault by field."""

import json
from pathlib import Path

import pytest

from states.documents import (
    AreaApplication,
    AreaPartner,
    BidApplication,
    load_document,
    parse_area,
    parse_bid,
    parse_return,
)
from states.errors import DocumentError
from states.programme import parse_programme

PROGRAMMES = Path(__file__).resolve().parents[2] / "states" / "programmes"
TCA = parse_programme((PROGRAMMES / "tca-2013.toml").read_text())
PSTN = parse_programme((PROGRAMMES / "pstn-2013.toml").read_text())
ORGS = {"E07000026", "E07000028", "E07000029", "E08000003", "E06000001"}

BID_JSON = """{
  "programme": "tca-2013",
  "category": "shared_arrangement",
  "title": "Joint procurement hub for three districts",
  "lead": "E07000026",
  "partners": ["E07000028", "E07000029"],
  "amount": "250000",
  "transitional_costs": 120000.5,
  "annual_savings": "400000.00",
  "arrangement": "joint_procurement",
  "innovation": "One buyer for three councils,\\tone catalogue.\\nShared contracts."
}"""


def bid_problems(data: dict) -> list[str]:
    with pytest.raises(DocumentError) as refused:
        parse_bid(data, programme=TCA, organisations=ORGS)
    return refused.value.problems


def a_bid(**changes) -> dict:
    data = load_document(BID_JSON, ".json")
    data.update(changes)
    return {k: v for k, v in data.items() if v is not ...}


# --- reading -------------------------------------------------------------------


def test_a_json_application_becomes_a_bid_in_pence():
    bid = parse_bid(load_document(BID_JSON, ".json"), programme=TCA, organisations=ORGS)

    assert bid.amount_pence == 25_000_000
    assert bid.transitional_costs_pence == 12_000_050
    assert bid.annual_savings_pence == 40_000_000
    assert bid.partners == ("E07000028", "E07000029")
    assert bid.further_and_faster is None
    assert "\t" in bid.innovation and "\n" in bid.innovation  # kept exactly


def test_a_toml_application_reads_the_same():
    toml = """
programme = "tca-2013"
category = "esg_top_up"
title = "Going further, faster"
lead = "E06000001"
amount = 250000.01
further_and_faster = \"\"\"Two years early.
With partners.\"\"\"
"""
    bid = parse_bid(load_document(toml, ".toml"), programme=TCA, organisations=ORGS)

    assert bid.amount_pence == 25_000_001
    assert bid.further_and_faster == "Two years early.\nWith partners."


def test_a_document_with_another_suffix_is_tried_as_json_then_toml():
    assert load_document('{"a": 1}', ".txt") == {"a": 1}
    assert load_document("a = 1", "") == {"a": 1}


@pytest.mark.parametrize(
    "text, suffix, expected",
    [
        ('{"amount": 1,}', ".json", "document: not valid JSON: "),
        ("amount = ", ".toml", "document: not valid TOML: "),
        ("neither", ".txt", "document: neither JSON ("),
        ('["a list"]', ".json", "document: the top level is a list, not an object"),
        ("12.5", ".json", "document: the top level is a number, not an object"),
        (
            '{"amount": "1", "amount": "2"}',
            ".json",
            "document: not valid JSON: 'amount' is given twice",
        ),
    ],
)
def test_a_malformed_document_is_refused(text, suffix, expected):
    with pytest.raises(DocumentError) as refused:
        load_document(text, suffix)

    assert refused.value.problems[0].startswith(expected)


@pytest.mark.parametrize(
    "written",
    [
        '"£250,000"',
        '"250,000"',
        '"250 000"',
        "2.5E+5",
        "250000.0e0",
        '"-250000"',
        "-250000",
        '"250000.001"',
        "250000.001",
        "NaN",
        "Infinity",
        '".5"',
        '"250000."',
        '"２５００００"',
    ],
)
def test_malformed_money_in_a_json_document_is_refused_naming_the_field(written):
    data = load_document(BID_JSON.replace('"250000"', written), ".json")

    problems = bid_problems(data)

    assert len(problems) == 1
    assert problems[0].startswith("amount: ") and "is not an amount in pounds" in problems[0]


@pytest.mark.parametrize(
    "written", ["2.5e5", "+250000.5", "250_000.50", "inf", "nan", "250000.001", '"£250000"']
)
def test_malformed_money_in_a_toml_document_is_refused_naming_the_field(written):
    toml = (
        f'programme = "tca-2013"\ncategory = "single_operation"\ntitle = "t"\n'
        f'lead = "E07000026"\npartners = ["E07000028"]\namount = {written}\n'
    )

    problems = bid_problems(load_document(toml, ".toml"))

    assert len(problems) == 1 and problems[0].startswith("amount: ")


# --- what the document must be -------------------------------------------------


def test_every_problem_is_listed_at_once_each_starting_with_its_field():
    data = a_bid(
        category="shared",
        title="",
        lead="E99999999",
        partners=["E07000028", "E07000028", "E09999999"],
        amount="£250,000",
        arrangement="handshake",
        innovation="bell\x07",
    )

    assert bid_problems(data) == [
        "category: 'shared' is not a category of tca-2013 "
        "(single_operation, shared_arrangement, esg_top_up)",
        "title: empty",
        "lead: 'E99999999' is not a known organisation",
        "partners[1]: 'E07000028' is listed twice",
        "partners[2]: 'E09999999' is not a known organisation",
        "amount: '£250,000' is not an amount in pounds "
        "(digits with at most two decimals, no sign, commas or spaces)",
        "arrangement: 'handshake' is not one of linked_it, joint_procurement, "
        "joint_contracting, other",
        "innovation: contains a control character (U+0007); only tabs and new lines are allowed",
    ]


def test_a_lead_listed_among_its_own_partners_is_malformed():
    assert bid_problems(a_bid(partners=["E07000028", "E07000026"])) == [
        "partners: the lead E07000026 is listed among its own partners"
    ]


def test_a_bid_must_name_a_known_programme_of_bids():
    with pytest.raises(DocumentError, match="programme: 'tca-2014' is not a known programme"):
        parse_bid(a_bid(programme="tca-2014"), programme=None, organisations=ORGS)
    with pytest.raises(
        DocumentError, match="programme: pstn-2013 is a programme of network areas, not bids"
    ):
        parse_bid(a_bid(programme="pstn-2013"), programme=PSTN, organisations=ORGS)


@pytest.mark.parametrize("field", ["programme", "category", "title", "lead", "amount"])
def test_the_fields_every_bid_has_are_needed(field):
    assert f"{field}: missing" in bid_problems(a_bid(**{field: ...}))


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("title", 42, "title: 42 is not text"),
        ("partners", "E07000028", "partners: 'E07000028' is not a list"),
        ("partners", ["E07000028", 7], "partners[1]: 7 is not text"),
        ("title", "carriage\rreturn", "title: contains a control character (U+000D)"),
        ("amount", "0", "amount: £0 is not an amount anyone can be offered"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused(field, value, expected):
    assert any(p.startswith(expected) for p in bid_problems(a_bid(**{field: value})))


def test_a_field_missing_for_its_category_is_a_rule_not_a_document_problem():
    bid = parse_bid(
        a_bid(category="esg_top_up", arrangement=..., innovation=...),
        programme=TCA,
        organisations=ORGS,
    )

    assert bid.further_and_faster is None and bid.category == "esg_top_up"


def test_the_stored_bid_reads_back_as_it_was():
    bid = parse_bid(load_document(BID_JSON, ".json"), programme=TCA, organisations=ORGS)

    stored = json.loads(json.dumps(bid.to_json()))

    assert stored["amount"] == "250000.00"
    assert stored["transitional_costs"] == "120000.50"
    assert "further_and_faster" not in stored
    assert BidApplication.from_json(stored) == bid


def test_a_field_the_rules_do_not_know_is_refused_not_kept_quietly():
    # A misspelt optional field would otherwise sit beside the empty real one.
    data = load_document(BID_JSON.replace('"amount"', '"innovaton": "Shared", "amount"'), ".json")

    with pytest.raises(DocumentError) as refused:
        parse_bid(data, programme=TCA, organisations=ORGS)

    assert refused.value.problems == [
        "innovaton: not a field of a bid (programme, category, title, lead, partners, amount, "
        "transitional_costs, annual_savings, arrangement, innovation, further_and_faster, "
        "evidence)"
    ]


def test_a_document_stored_before_unknown_fields_were_refused_reads_back_with_them():
    bid = parse_bid(load_document(BID_JSON, ".json"), programme=TCA, organisations=ORGS)
    stored = {**bid.to_json(), "notes": {"rating": "4.50"}}

    assert BidApplication.from_json(stored).to_json()["notes"] == {"rating": "4.50"}


# --- an expression of interest ---------------------------------------------------

EOI = {
    "programme": "pstn-2013",
    "title": "Bradford and partners",
    "lead": "E08000003",
    "service_areas": ["troubled families", "health and social care"],
    "how_to_succeed": "Pooled budgets and one front door.",
    "partners": [
        {"name": "West Yorkshire Police", "evidence": "Letter from the chief constable"},
        {"name": "Bradford CCG"},
    ],
    "contribution": "50000",
}


def area_problems(data: dict) -> list[str]:
    with pytest.raises(DocumentError) as refused:
        parse_area(data, programme=PSTN, organisations=ORGS)
    return refused.value.problems


def test_an_expression_of_interest_becomes_an_area_application():
    area = parse_area(EOI, programme=PSTN, organisations=ORGS)

    assert area.partners == (
        AreaPartner("West Yorkshire Police", "Letter from the chief constable"),
        AreaPartner("Bradford CCG", None),
    )
    assert area.contribution_pence == 5_000_000
    assert AreaApplication.from_json(json.loads(json.dumps(area.to_json()))) == area


def test_missing_service_areas_partners_and_how_to_succeed_are_rules_not_document_problems():
    bare = {"programme": "pstn-2013", "title": "Somewhere", "lead": "E08000003"}

    area = parse_area(bare, programme=PSTN, organisations=ORGS)

    assert (area.service_areas, area.partners, area.how_to_succeed) == ((), (), None)


def test_an_expression_of_interest_with_faults_lists_them_all():
    data = {
        **EOI,
        "programme": "tca-2013",
        "lead": "E00000000",
        "service_areas": "housing",
        "partners": [{"evidence": "none"}, "Police", {"name": "NHS", "url": "x"}],
        "contribution": "50,000",
    }

    with pytest.raises(DocumentError) as refused:
        parse_area(data, programme=TCA, organisations=ORGS)

    assert refused.value.problems == [
        "programme: tca-2013 is a programme of bids, not network areas",
        "lead: 'E00000000' is not a known organisation",
        "service_areas: 'housing' is not a list",
        "partners[0].name: missing",
        "partners[1]: 'Police' is not an object with a name and evidence",
        "partners[2].url: unknown field (a partner has name and evidence)",
        "contribution: '50,000' is not an amount in pounds "
        "(digits with at most two decimals, no sign, commas or spaces)",
    ]


# --- a monitoring return -----------------------------------------------------------


def test_a_return_is_normalised_to_pence():
    figures = parse_return(
        {
            "spend_to_date": "100000.5",
            "savings_to_date": 20000,
            "progress": "On track",
            "risks": None,
        },
        programme=TCA,
    )

    assert figures == {
        "spend_to_date": 10_000_050,
        "savings_to_date": 2_000_000,
        "progress": "On track",
    }


def test_a_return_with_unknown_fields_or_bad_money_is_refused_naming_each():
    with pytest.raises(DocumentError) as refused:
        parse_return(load_document('{"spend_to_date": 1e5, "jobs": 3}', ".json"), programme=TCA)

    assert refused.value.problems == [
        "spend_to_date: '1e5' is not an amount in pounds "
        "(digits with at most two decimals, no sign, commas or spaces)",
        "jobs: not a field of a tca-2013 return (spend_to_date, savings_to_date, progress, risks)",
    ]


def test_an_empty_return_is_well_formed_and_left_to_the_rule():
    assert parse_return({}, programme=PSTN) == {}


def test_a_refusal_describes_what_was_given_in_words_not_as_python():
    from states.documents import parse_bid

    tca = parse_programme(
        (
            Path(__file__).resolve().parents[2] / "states" / "programmes" / "tca-2013.toml"
        ).read_text()
    )
    doc = {
        "programme": "tca-2013",
        "category": "shared_arrangement",
        "title": "Hub",
        "lead": "E07000026",
        "amount": "250000",
        "partners": [{"name": "County police", "evidence": "Signed letter"}],
    }

    with pytest.raises(DocumentError) as refused:
        parse_bid(doc, programme=tca, organisations={"E07000026"})

    assert "partners[0]: a table of name, evidence is not text" in refused.value.problems
    assert not any("{'" in p for p in refused.value.problems)
