"""The grant agreement: its terms from the programme file, and what each version says.

`offer` draws up version 1 (DESIGN.md section 8); an approved variation draws
up the next. This module is pure: it says what an agreement contains (the
parties, the amount, the conditions, the payment schedule, the monitoring
returns, the end) as plain data; workflow/services/agreements.py stores each
version and workflow/services/agreement_pdf.py draws it as a PDF.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Mapping

__all__ = [
    "AgreementTerms",
    "DEFAULT_TERMS",
    "Party",
    "ScheduleLine",
    "ReturnLine",
    "AgreementText",
    "FUNDER",
    "parse_terms",
    "text_json",
    "text_from_json",
]

FUNDER = "Department for Communities and Local Government (DCLG)"

# What every award of a bundled programme asks of the council, unless its file says otherwise.
_DEFAULT_CONDITIONS = (
    "The grant is spent only on the work described in the bid, and on nothing the council "
    "is already funded to do.",
    "The council sends every monitoring return by its due date, with evidence of spend.",
    "Payments are made in arrears against that evidence; the funder may hold them while the "
    "award is suspended.",
    "Money not spent on the work, or spent against these conditions, is repaid to the funder.",
    "Any change to the amount, the end date or the scope is agreed in writing as a variation "
    "of this agreement.",
)


@dataclass(frozen=True)
class AgreementTerms:
    """The programme file's `[agreement]`: who funds the awards and on what conditions."""

    funder: str = FUNDER
    conditions: tuple[str, ...] = _DEFAULT_CONDITIONS


DEFAULT_TERMS = AgreementTerms()


def parse_terms(table: Mapping[str, Any], problem: Any) -> AgreementTerms:
    """The `[agreement]` table as terms, calling `problem(text)` for each fault in it."""
    for key in table:
        if key not in ("funder", "conditions"):
            problem(f"agreement.{key}: unknown field")
    funder = table.get("funder", FUNDER)
    if not isinstance(funder, str) or not funder.strip():
        problem("agreement.funder: not a piece of text (the funder's name)")
        funder = FUNDER
    conditions = table.get("conditions", list(_DEFAULT_CONDITIONS))
    if (
        not isinstance(conditions, list)
        or not conditions
        or not all(isinstance(c, str) and c.strip() for c in conditions)
    ):
        problem(
            "agreement.conditions: not a list of conditions, each a piece of text "
            '(conditions = ["The grant is spent only on ...", ...])'
        )
        conditions = list(_DEFAULT_CONDITIONS)
    return AgreementTerms(funder=funder.strip(), conditions=tuple(c.strip() for c in conditions))


@dataclass(frozen=True)
class Party:
    role: str  # "Funder", "Lead council", "Partner"
    name: str
    code: str = ""  # the organisation's code (none for the funder)


@dataclass(frozen=True)
class ScheduleLine:
    """One tranche as the agreement states it: "50% when the agreement is accepted"."""

    label: str  # P1, P2 ...
    share: str  # "50%"
    event: str  # "When the agreement is accepted"
    amount_pence: int
    paid: bool = False


@dataclass(frozen=True)
class ReturnLine:
    label: str  # Q1
    due: date | None  # None when the dates count from acceptance not yet made
    words: str = ""  # "3 months after the award is accepted"


@dataclass(frozen=True)
class AgreementText:
    """Everything one version of an agreement says, ready to be drawn."""

    ref: str
    title: str
    programme: str
    category: str
    version: int
    made_on: date
    amount_pence: int
    parties: tuple[Party, ...]
    conditions: tuple[str, ...]
    schedule: tuple[ScheduleLine, ...]
    no_payments: str  # why there is no schedule, when there is none
    returns: tuple[ReturnLine, ...]
    end_on: date | None = None  # None: the award ends when its last return is accepted
    variation: str = ""  # "V1" for a version an approved variation made
    variation_reason: str = ""
    previous_amount_pence: int | None = None


def text_json(text: AgreementText) -> dict[str, Any]:
    """The agreement's text as JSON (dates ISO 8601), kept beside its PDF for the web page."""
    out = asdict(text)
    out["made_on"] = text.made_on.isoformat()
    out["end_on"] = text.end_on.isoformat() if text.end_on else None
    out["returns"] = [
        {**r, "due": r["due"].isoformat() if r["due"] else None} for r in out["returns"]
    ]
    return out


def text_from_json(data: Mapping[str, Any]) -> AgreementText:
    """The AgreementText `text_json` wrote."""
    return AgreementText(
        **{
            **data,
            "made_on": date.fromisoformat(data["made_on"]),
            "end_on": date.fromisoformat(data["end_on"]) if data.get("end_on") else None,
            "parties": tuple(Party(**p) for p in data["parties"]),
            "conditions": tuple(data["conditions"]),
            "schedule": tuple(ScheduleLine(**s) for s in data["schedule"]),
            "returns": tuple(
                ReturnLine(
                    r["label"],
                    date.fromisoformat(r["due"]) if r["due"] else None,
                    r.get("words", ""),
                )
                for r in data["returns"]
            ),
        }
    )
