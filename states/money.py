"""Money: whole pence inside, pounds with at most two decimals at the edges.

A float never holds money. Documents are read with `parse_float=Decimal`, so an
amount arrives as an `int`, a `Decimal` or a `str`; `parse_money` turns each
into whole pence or refuses it naming the field (DESIGN.md section 7).
"""

from __future__ import annotations

import re
from decimal import Decimal

from states.errors import DocumentError

__all__ = [
    "parse_money",
    "pounds",
    "money_json",
    "from_json",
    "for_people",
    "MONEY_FIELDS",
    "WrittenDecimal",
    "MAX_PENCE",
]

# The fields that hold money, in documents, returns and every face's output: JSON keeps
# "250000.00" for scripts; the command line and the web show people "£250,000".
MONEY_FIELDS = frozenset(
    {
        "amount",
        "fund",
        "committed",
        "remaining",
        "running_total",
        "contribution",
        "esg_allocation",
        "transitional_costs",
        "annual_savings",
        "spend_to_date",
        "savings_to_date",
        "paid",
        "recovering",
        "eligible",
        "recover",
        "was",
    }
)

# ASCII digits only: `\d` would also take Arabic-Indic or full-width digits.
_AMOUNT = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")

# Fifteen digits of pounds keep pence well inside a signed 64-bit column.
MAX_PENCE = 10**17 - 1

_RULE = "is not an amount in pounds (digits with at most two decimals, no sign, commas or spaces)"


class WrittenDecimal(Decimal):
    """A Decimal that remembers the text it was read from.

    `Decimal("250000.0e0")` prints as `250000.0` and TOML's `+1.5` reaches
    `parse_float` as `+1.5` but becomes `Decimal("1.5")`, so checking the value
    alone would let an exponent or a sign through. `states.documents` reads
    numbers into this class so `parse_money` can check what was written.
    """

    __slots__ = ("written",)
    written: str

    def __new__(cls, text: str) -> "WrittenDecimal":
        self = super().__new__(cls, text)
        self.written = text
        return self


def parse_money(value: object, field: str) -> int:
    """Whole pence from an int, a Decimal or a string of pounds; DocumentError otherwise."""
    if isinstance(value, bool):  # bool is an int subclass: True is not £1
        raise DocumentError(f"{field}: {value!r} {_RULE}")
    if isinstance(value, int):
        if value < 0:
            raise DocumentError(f"{field}: {value} {_RULE}")
        return _checked(value * 100, field, value)
    if isinstance(value, WrittenDecimal):
        text = value.written
    elif isinstance(value, Decimal):
        # A plain Decimal (read by someone else with parse_float=Decimal) is
        # judged by its canonical text: exponents and NaN show up there.
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise DocumentError(f"{field}: {_shown(value)} {_RULE}")
    if not _AMOUNT.fullmatch(text):
        raise DocumentError(f"{field}: {_shown(text)} {_RULE}")
    pounds_part, _, pence_part = text.partition(".")
    return _checked(int(pounds_part) * 100 + int(pence_part.ljust(2, "0")), field, text)


def pounds(pence: int) -> str:
    """`£2,000,000` or `£2,000,000.50`: pence shown only when there are some."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}£{whole:,}" + (f".{part:02d}" if part else "")


def money_json(pence: int) -> str:
    """`"250000.00"`: pounds with two decimals and no separators, for JSON output."""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}{whole}.{part:02d}"


_JSON = re.compile(r"-?[0-9]+(?:\.[0-9]{1,2})?")


def from_json(text: str) -> int:
    """Whole pence from what `money_json` wrote (a remaining fund may be negative)."""
    if not _JSON.fullmatch(text):
        raise DocumentError(f"{_shown(text)} is not an amount as casework writes them")
    whole, _, part = text.lstrip("-").partition(".")
    pence = int(whole) * 100 + int(part.ljust(2, "0"))
    return -pence if text.startswith("-") else pence


def for_people(value: object) -> str:
    """Pence (int) or JSON pounds (`"250000.00"`) as people read money: `£250,000`.

    Nothing is shown for no value; text that is not an amount is shown as it is.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return pounds(value)
    try:
        return pounds(from_json(str(value)))
    except DocumentError:
        return str(value)


def _checked(pence: int, field: str, shown: object) -> int:
    if pence > MAX_PENCE:
        raise DocumentError(f"{field}: {shown} is too large to be an amount in pounds")
    return pence


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value!r} (a floating-point number)"
    text = repr(value) if isinstance(value, str) else f"{value!s}"
    return text if len(text) <= 40 else text[:37] + "..."
