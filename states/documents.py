"""Application documents and monitoring returns (DESIGN.md section 7).

`parse_bid`, `parse_area` and `parse_return` check only the document: types,
money format, known programme, category and organisations. They raise one
DocumentError listing every problem, each starting with its field. A field
that is well-formed but missing for its category is not checked here: it is a
rule (states.rules), refused at submit with the same care.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Collection, Mapping

from states.errors import DocumentError
from states.money import WrittenDecimal, money_json, parse_money
from states.programme import ARRANGEMENTS
from states.text import text_problem
from states.words import given

if TYPE_CHECKING:
    from states.programme import ProgrammeSpec

__all__ = [
    "load_document",
    "BidApplication",
    "AreaApplication",
    "AreaPartner",
    "parse_bid",
    "parse_area",
    "parse_return",
    "named_organisations",
    "document_fields",
    "changed_fields",
    "comparison",
    "document_hash",
]

_BID_FIELDS = (
    "programme",
    "category",
    "title",
    "lead",
    "partners",
    "amount",
    "transitional_costs",
    "annual_savings",
    "arrangement",
    "innovation",
    "further_and_faster",
)
_AREA_FIELDS = (
    "programme",
    "title",
    "lead",
    "service_areas",
    "how_to_succeed",
    "partners",
    "contribution",
)
# Kept as given beside the modelled fields: the evidence files an application lists.
_KEPT = ("evidence",)
_KIND_WORDS = {"bids": "bids", "areas": "network areas"}
MAX_DEPTH = 32  # lists and objects inside each other: a return needs 3, a bid 2


# --- reading ---------------------------------------------------------------


def load_document(text: str, suffix: str) -> dict[str, Any]:
    """A document's top-level object from JSON or TOML text, chosen by `suffix`.

    Numbers with a point are read as Decimals that remember how they were
    written, so `parse_money` can refuse `2.5e5` or `+1.5` as written.
    """
    kind = suffix.lower().lstrip(".")
    readers = {"json": [_read_json], "toml": [_read_toml]}.get(kind, [_read_json, _read_toml])
    failures: list[str] = []
    for read in readers:
        try:
            data = read(text)
        except ValueError as err:  # JSONDecodeError and TOMLDecodeError are ValueErrors
            failures.append(str(err))
            continue
        except RecursionError:  # the parsers recurse: thousands deep never gets back here
            data = _TOO_DEEP
        if data is _TOO_DEEP or _deeper_than(data, MAX_DEPTH):
            raise DocumentError(f"document: nested more than {MAX_DEPTH} deep")
        if not isinstance(data, dict):
            raise DocumentError(f"document: the top level is {_a(data)}, not an object")
        return data
    if len(readers) == 1:
        raise DocumentError(f"document: not valid {kind.upper()}: {failures[0]}")
    raise DocumentError(f"document: neither JSON ({failures[0]}) nor TOML ({failures[1]})")


_TOO_DEEP = object()


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend(
                (v, depth + 1) for v in (item.values() if isinstance(item, dict) else item)
            )
    return False


def _read_json(text: str) -> Any:
    return json.loads(
        text,
        parse_float=WrittenDecimal,
        parse_constant=WrittenDecimal,
        object_pairs_hook=_no_repeats,
    )


def _read_toml(text: str) -> Any:
    return tomllib.loads(text, parse_float=WrittenDecimal)


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; a document that
    # says two different amounts is malformed, not a choice for us to make.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"{key!r} is given twice")
        out[key] = value
    return out


def named_organisations(data: Any) -> list[str]:
    """The organisation codes a document names (its lead, a bid's partners), whatever else it holds.

    Read before the document is checked, to look the codes up; anything that
    is not a code (a number where a list should be...) is the checker's to refuse.
    """
    if not isinstance(data, Mapping):
        return []
    partners = data.get("partners")
    named = [data.get("lead"), *(partners if isinstance(partners, list) else ())]
    return [code for code in named if isinstance(code, str)]


# --- a bid -----------------------------------------------------------------


@dataclass(frozen=True)
class BidApplication:
    programme: str
    category: str
    title: str
    lead: str
    partners: tuple[str, ...]
    amount_pence: int | None  # None only in a draft that has not said yet
    transitional_costs_pence: int | None = None
    annual_savings_pence: int | None = None
    arrangement: str | None = None
    innovation: str | None = None
    further_and_faster: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The document as given, money as `"250000.00"`; absent fields left out."""
        out: dict[str, Any] = {
            "programme": self.programme,
            "category": self.category,
            "title": self.title,
            "lead": self.lead,
            "partners": list(self.partners),
        }
        for key in ("amount", "transitional_costs", "annual_savings"):
            pence = getattr(self, f"{key}_pence")
            if pence is not None:
                out[key] = money_json(pence)
        for key in ("arrangement", "innovation", "further_and_faster"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "BidApplication":
        """Back from `to_json()`; the document was checked when the case was opened."""
        return cls(
            programme=d["programme"],
            category=d["category"],
            title=d.get("title", ""),
            lead=d["lead"],
            partners=tuple(d.get("partners") or ()),
            amount_pence=_stored_money(d, "amount"),
            transitional_costs_pence=_stored_money(d, "transitional_costs"),
            annual_savings_pence=_stored_money(d, "annual_savings"),
            arrangement=d.get("arrangement"),
            innovation=d.get("innovation"),
            further_and_faster=d.get("further_and_faster"),
            extra={k: v for k, v in d.items() if k not in _BID_FIELDS},
        )


def parse_bid(
    data: Mapping[str, Any],
    *,
    programme: "ProgrammeSpec | None",
    organisations: Collection[str],
    draft: bool = False,
) -> BidApplication:
    """A checked BidApplication, or one DocumentError naming every problem.

    A `draft` (a bid the council is still writing, on the web a page at a
    time) may leave out its title and amount: what it gives is checked the
    same, and what it leaves out is the `meets_category_rules` rule's to
    refuse at submit.
    """
    c = _Checker(data)
    code = c.programme(programme, "bids")
    category = c.text("category", required=True)
    if (
        category is not None
        and programme is not None
        and programme.kind == "bids"
        and category not in programme.categories
    ):
        c.problem(
            f"category: {category!r} is not a category of {programme.code} "
            f"({', '.join(programme.categories)})"
        )
    title = c.text("title", required=not draft)
    lead = c.organisation("lead", organisations)
    partners = c.partner_codes(lead, organisations)
    amount = c.money("amount", required=not draft)
    if amount == 0:
        c.problem("amount: £0 is not an amount anyone can be offered")
    arrangement = c.text("arrangement")
    cat = programme.categories.get(category or "") if programme is not None else None
    allowed = cat.arrangements if cat is not None and cat.arrangements else ARRANGEMENTS
    if arrangement is not None and arrangement not in allowed:
        c.problem(f"arrangement: {arrangement!r} is not one of {', '.join(allowed)}")
    app = BidApplication(
        programme=code or "",
        category=category or "",
        title=title or "",
        lead=lead or "",
        partners=partners,
        amount_pence=amount,
        transitional_costs_pence=c.money("transitional_costs"),
        annual_savings_pence=c.money("annual_savings"),
        arrangement=arrangement,
        innovation=c.text("innovation"),
        further_and_faster=c.text("further_and_faster"),
        extra=c.extra(_BID_FIELDS, "a bid"),
    )
    c.raise_problems()
    return app


# --- a network area --------------------------------------------------------


@dataclass(frozen=True)
class AreaPartner:
    name: str
    evidence: str | None = None  # that the partner is bought in


@dataclass(frozen=True)
class AreaApplication:
    programme: str
    title: str
    lead: str
    service_areas: tuple[str, ...] = ()
    how_to_succeed: str | None = None
    partners: tuple[AreaPartner, ...] = ()
    contribution_pence: int | None = None  # proposed; the agreed one is recorded later
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The expression of interest as given, money as `"50000.00"`."""
        out: dict[str, Any] = {
            "programme": self.programme,
            "title": self.title,
            "lead": self.lead,
            "service_areas": list(self.service_areas),
        }
        if self.how_to_succeed is not None:
            out["how_to_succeed"] = self.how_to_succeed
        out["partners"] = [
            {"name": p.name} if p.evidence is None else {"name": p.name, "evidence": p.evidence}
            for p in self.partners
        ]
        if self.contribution_pence is not None:
            out["contribution"] = money_json(self.contribution_pence)
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "AreaApplication":
        """Back from `to_json()`; the document was checked when the case was opened."""
        return cls(
            programme=d["programme"],
            title=d.get("title", ""),
            lead=d["lead"],
            service_areas=tuple(d.get("service_areas") or ()),
            how_to_succeed=d.get("how_to_succeed"),
            partners=tuple(
                AreaPartner(p["name"], p.get("evidence")) for p in d.get("partners") or ()
            ),
            contribution_pence=_stored_money(d, "contribution"),
            extra={k: v for k, v in d.items() if k not in _AREA_FIELDS},
        )


def parse_area(
    data: Mapping[str, Any],
    *,
    programme: "ProgrammeSpec | None",
    organisations: Collection[str],
    draft: bool = False,
) -> AreaApplication:
    """A checked AreaApplication (an expression of interest), or one DocumentError;
    a `draft` may leave out its title (`eoi_complete` refuses it at submit)."""
    c = _Checker(data)
    code = c.programme(programme, "areas")
    title = c.text("title", required=not draft)
    lead = c.organisation("lead", organisations)
    areas = c.text_list("service_areas")
    app = AreaApplication(
        programme=code or "",
        title=title or "",
        lead=lead or "",
        service_areas=areas,
        how_to_succeed=c.text("how_to_succeed"),
        partners=c.area_partners(),
        contribution_pence=c.money("contribution"),
        extra=c.extra(_AREA_FIELDS, "an expression of interest"),
    )
    c.raise_problems()
    return app


# --- comparing two versions of an application ------------------------------


def document_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of a stored document's canonical JSON (keys sorted, no spaces, UTF-8):
    what an amendment's history row holds, so the chain vouches for every version."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_fields(kind: str, *documents: Mapping[str, Any]) -> list[str]:
    """The fields of `documents` in the order the document of `kind` declares them,
    then any others (a programme's own) in the order they first appear."""
    order = list(_BID_FIELDS if kind == "bid" else _AREA_FIELDS)
    out = [f for f in order if any(f in d for d in documents)]
    for d in documents:
        out.extend(k for k in d if k not in out)
    return out


def changed_fields(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The names of the fields whose values differ between two stored documents
    (a field given in one and not the other has changed)."""
    return [f for f in document_fields(kind, old, new) if old.get(f) != new.get(f)]


def comparison(kind: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Field by field: `{"field", "before", "after", "changed"}` for every field either holds
    (None where a version does not hold it), in the document's order."""
    return [
        {"field": f, "before": old.get(f), "after": new.get(f), "changed": old.get(f) != new.get(f)}
        for f in document_fields(kind, old, new)
    ]


# --- a monitoring return ---------------------------------------------------


def parse_return(data: Any, *, programme: "ProgrammeSpec") -> dict[str, Any]:
    """The figures of a return, money in pence; fields the programme does not declare
    are refused. A required field left out is the `return_complete` rule's to refuse."""
    c = _Checker(data)
    fields = programme.monitoring.fields
    out: dict[str, Any] = {}
    for key in data:
        spec = fields.get(key)
        if spec is None:
            c.problem(f"{key}: not a field of a {programme.code} return ({', '.join(fields)})")
        elif spec.kind == "money":
            value = c.money(key)
            if value is not None:
                out[key] = value
        else:
            words = c.text(key)
            if words is not None:
                out[key] = words
    c.raise_problems()
    return out


# --- checking --------------------------------------------------------------


class _Checker:
    """Reads the fields of one document, collecting every problem by field name."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            raise DocumentError(f"document: the top level is {_a(data)}, not an object")
        self.data = data
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def raise_problems(self) -> None:
        if self.problems:
            raise DocumentError(self.problems)

    def programme(self, spec: "ProgrammeSpec | None", kind: str) -> str | None:
        code = self.text("programme", required=True)
        if code is None:
            return None
        if spec is None:
            self.problem(f"programme: {code!r} is not a known programme")
            return code
        if spec.code.lower() != code.lower():
            self.problem(f"programme: {code!r} was checked against {spec.code}")
        if spec.kind != kind:
            self.problem(
                f"programme: {spec.code} is a programme of "
                f"{_KIND_WORDS.get(spec.kind, spec.kind)}, not {_KIND_WORDS[kind]}"
            )
        return spec.code

    def text(self, key: str, *, required: bool = False) -> str | None:
        return self.check_text(self.data.get(key), key, required=required)

    def check_text(self, value: Any, path: str, *, required: bool = False) -> str | None:
        """Text kept exactly as given; blank counts as missing only where required."""
        if value is None:
            if required:
                self.problem(f"{path}: missing")
            return None
        if not isinstance(value, str):
            self.problem(f"{path}: {_show(value)} is not text")
            return None
        bad = text_problem(path, value)
        if bad is not None:
            self.problem(bad)
            return None
        if required and not value.strip():
            self.problem(f"{path}: empty")
            return None
        return value

    def money(self, key: str, *, required: bool = False) -> int | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.problem(f"{key}: missing")
            return None
        try:
            return parse_money(value, key)
        except DocumentError as err:
            self.problems.extend(err.problems)
            return None

    def text_list(self, key: str) -> tuple[str, ...]:
        value = self.data.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(f"{key}: {_show(value)} is not a list")
            return ()
        items: list[str] = []
        for i, item in enumerate(value):
            text = self.check_text(item, f"{key}[{i}]", required=True)
            if text is not None and text in items:
                self.problem(f"{key}[{i}]: {text!r} is listed twice")
            elif text is not None:
                items.append(text)
        return tuple(items)

    def organisation(self, key: str, known: Collection[str]) -> str | None:
        code = self.text(key, required=True)
        if code is not None and code not in known:
            self.problem(f"{key}: {code!r} is not a known organisation")
        return code

    def partner_codes(self, lead: str | None, known: Collection[str]) -> tuple[str, ...]:
        codes = self.text_list("partners")
        given = self.data.get("partners")
        listed: list[Any] = given if isinstance(given, list) else []
        for i, code in enumerate(listed):
            if code not in codes or listed.index(code) != i:
                continue  # not text, or a repeat already reported
            if code not in known:
                self.problem(f"partners[{i}]: {code!r} is not a known organisation")
            if code == lead:
                self.problem(f"partners: the lead {code} is listed among its own partners")
        return codes

    def area_partners(self) -> tuple[AreaPartner, ...]:
        value = self.data.get("partners")
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(f"partners: {_show(value)} is not a list of {{name, evidence}}")
            return ()
        out: list[AreaPartner] = []
        for i, item in enumerate(value):
            path = f"partners[{i}]"
            if not isinstance(item, Mapping):
                self.problem(f"{path}: {_show(item)} is not an object with a name and evidence")
                continue
            for key in item:
                if key not in ("name", "evidence"):
                    self.problem(f"{path}.{key}: unknown field (a partner has name and evidence)")
            name = self.check_text(item.get("name"), f"{path}.name", required=True)
            evidence = self.check_text(item.get("evidence"), f"{path}.evidence")
            if name is not None:
                out.append(AreaPartner(name, evidence))
        return tuple(out)

    def extra(self, known: tuple[str, ...], kind: str) -> dict[str, Any]:
        """The fields kept beside the modelled ones (`evidence`, the application's files,
        which the applications service checks), made JSON-safe for storage. Any other
        field is refused, naming what the document may hold: a misspelt optional field
        (`innovaton`) would otherwise be kept quietly while the real one stays empty.
        (Documents stored before keep theirs: `from_json` reads them as they were.)"""
        for key in self.data:
            if key not in known and key not in _KEPT:
                self.problem(f"{key}: not a field of {kind} ({', '.join((*known, *_KEPT))})")
        return {key: self._plain(self.data[key], key) for key in _KEPT if key in self.data}

    def _plain(self, value: Any, path: str) -> Any:
        if isinstance(value, WrittenDecimal):
            return value.written  # a number kept exactly as written
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, (date, time)):  # TOML dates and times (datetime is a date)
            return value.isoformat()
        if isinstance(value, str):
            return self.check_text(value, path)
        if isinstance(value, list):
            return [self._plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            return {k: self._plain(v, f"{path}.{k}") for k, v in value.items()}
        return value  # int, bool


def _stored_money(d: Mapping[str, Any], key: str) -> int | None:
    return None if d.get(key) is None else parse_money(d[key], key)


def _a(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return "null" if value is None else "true or false"
    for kind, words in ((list, "a list"), (str, "a piece of text"), ((int, Decimal), "a number")):
        if isinstance(value, kind):
            return words
    return type(value).__name__


def _show(value: Any) -> str:
    return given(value)
