"""Money is whole pence inside and pounds with at most two decimals at the edges."""

from decimal import Decimal

import pytest

from states.errors import DocumentError
from states.money import WrittenDecimal, money_json, parse_money, pounds


@pytest.mark.parametrize(
    "value, pence",
    [
        (250000, 25_000_000),
        (0, 0),
        ("250000", 25_000_000),
        ("250000.5", 25_000_050),
        ("250000.50", 25_000_050),
        ("0.01", 1),
        (Decimal("250000.50"), 25_000_050),
        (WrittenDecimal("49999.99"), 4_999_999),
    ],
)
def test_an_amount_is_digits_with_at_most_two_decimals(value, pence):
    assert parse_money(value, "amount") == pence


@pytest.mark.parametrize(
    "value",
    [
        250000.0,  # a float, however round
        "£250,000",  # currency sign and commas
        "250,000",
        "250 000",
        " 250000",
        "250000\n",
        "2.5E+5",  # an exponent
        Decimal("2.5E+5"),
        WrittenDecimal("250000.0e0"),  # an exponent that a plain Decimal would hide
        "-1",  # a sign
        "+1",
        WrittenDecimal("+1.5"),
        -1,
        "1.234",  # a third decimal
        Decimal("1.234"),
        "NaN",
        Decimal("NaN"),
        Decimal("Infinity"),
        WrittenDecimal("inf"),
        ".5",  # a bare decimal point
        "250000.",
        "２５００００",  # full-width digits are not ASCII digits
        "٢٥٠",  # nor are Arabic-Indic ones
        "",
        True,  # a bool is an int to Python, not to us
        None,
        [250000],
    ],
)
def test_anything_else_is_refused_naming_the_field(value):
    with pytest.raises(DocumentError, match=r"^amount: .* is not an amount in pounds"):
        parse_money(value, "amount")


def test_the_refusal_shows_what_was_written():
    with pytest.raises(DocumentError) as refused:
        parse_money("£250,000", "amount")

    assert refused.value.problems == [
        "amount: '£250,000' is not an amount in pounds "
        "(digits with at most two decimals, no sign, commas or spaces)"
    ]


def test_an_amount_too_large_for_the_database_is_refused():
    with pytest.raises(DocumentError, match="amount: .* too large"):
        parse_money("1" + "0" * 18, "amount")


@pytest.mark.parametrize(
    "pence, shown",
    [
        (200_000_000, "£2,000,000"),
        (200_000_050, "£2,000,000.50"),
        (1, "£0.01"),
        (0, "£0"),
        (-59_999_999, "-£599,999.99"),
    ],
)
def test_pounds_for_people_show_pence_only_when_there_are_some(pence, shown):
    assert pounds(pence) == shown


@pytest.mark.parametrize(
    "pence, shown",
    [
        (25_000_000, "250000.00"),
        (25_000_050, "250000.50"),
        (1, "0.01"),
        (0, "0.00"),
    ],
)
def test_pounds_in_json_have_two_decimals_and_no_separators(pence, shown):
    assert money_json(pence) == shown


def test_json_money_reads_back_to_the_same_pence():
    for pence in (0, 1, 99, 100, 4_999_999, 25_000_050, 900_000_000):
        assert parse_money(money_json(pence), "amount") == pence


def test_money_reads_back_as_it_is_written_for_every_face():
    from states.money import for_people, from_json, money_json

    for pence in (0, 1, 99, 100, 250_000_00, -1_50, 900_000_000_00):
        assert from_json(money_json(pence)) == pence
    assert for_people("250000.00") == for_people(250_000_00) == "£250,000"
    assert for_people("-1.50") == "-£1.50"
    assert for_people(None) == "" and for_people("n/a") == "n/a"
