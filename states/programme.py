"""A programme read from its TOML file: fund, categories, criteria, monitoring, ladder.

The numbers of the rules live here, not in code (DESIGN.md section 1). A file
must give `code`, `name`, `kind` and `fund`, and for bids each category's band
and count; everything else defaults to DESIGN.md. `parse_programme` reports
every problem at once, each with its field path, and loads nothing on error.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Mapping, overload

from states.agreement import DEFAULT_TERMS, AgreementTerms, parse_terms
from states.diligence import STANDARD_CHECKS, Check, check_problems
from states.errors import DocumentError, ProgrammeFileError
from states.ladder import (
    ACTIONS,
    CATCH_UP_POLICIES,
    DEFAULT_LADDER,
    STANDARD_STEPS,
    LadderStep,
    ladder_problems,
)
from states.money import WrittenDecimal, parse_money, pounds
from states.words import given, humanise

KINDS = ("bids", "areas")
ARRANGEMENTS = ("linked_it", "joint_procurement", "joint_contracting", "other")
# Fields of an application a category can require (states.documents.BidApplication).
STATABLE_FIELDS = (
    "transitional_costs",
    "annual_savings",
    "arrangement",
    "innovation",
    "further_and_faster",
)
CRITERIA = ("innovation", "costs", "savings")  # the fields of states.facts.Score
DEFAULT_AREA_DECISION = date(2013, 7, 31)  # "announced in the summer"

__all__ = [
    "ProgrammeSpec",
    "Category",
    "Monitoring",
    "ReturnField",
    "Contacts",
    "EoiRules",
    "Tranche",
    "DEFAULT_TRANCHES",
    "tranche_event_label",
    "LadderStep",
    "DEFAULT_LADDER",
    "DEFAULT_RETURN_FIELDS",
    "ARRANGEMENTS",
    "STATABLE_FIELDS",
    "CRITERIA",
    "KINDS",
    "parse_programme",
]

_CODE = re.compile(r"[a-z0-9][a-z0-9-]*")
_NAME = re.compile(r"[a-z][a-z0-9_]*")
# Deliberately narrow: these go into mail headers (no spaces, commas, angle brackets).
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class Category:
    name: str
    min_pence: int | None = None
    max_pence: int | None = None
    max_count: int | None = None
    min_count: int | None = None
    esg_share: Decimal | None = None  # of the lead's ESG allocation (0.25 for esg_top_up)
    needs_esg_allocation: bool = False
    min_partner_councils: int = 0  # councils besides the lead
    required_fields: tuple[str, ...] = ()
    arrangements: tuple[str, ...] = ()
    label: str = ""  # "ESG top-up": what people read for the code
    description: str = ""  # one sentence: who it is for


@dataclass(frozen=True)
class ReturnField:
    kind: str  # money | text
    required: bool = False
    label: str = ""  # "Spend to date"


DEFAULT_RETURN_FIELDS: dict[str, ReturnField] = {
    "spend_to_date": ReturnField("money", label="Spend to date"),
    "savings_to_date": ReturnField("money", label="Savings to date"),
    "progress": ReturnField("text", label="Progress"),
    "risks": ReturnField("text", label="Risks"),
}


@dataclass(frozen=True)
class Monitoring:
    every_months: int | None = 3
    count: int | None = 4
    dates: tuple[date, ...] = ()
    fields: dict[str, ReturnField] = field(default_factory=lambda: dict(DEFAULT_RETURN_FIELDS))


@dataclass(frozen=True)
class Contacts:
    lead: str
    director: str


@dataclass(frozen=True)
class EoiRules:
    """What a network area's expression of interest must contain."""

    min_service_areas: int = 1
    min_partners: int = 2  # named partner bodies, each with evidence


@dataclass(frozen=True)
class Tranche:
    """One tranche of the payment schedule: a share of the award released by an event.

    `on` is "accepted" (the agreement accepted), a return's label ("Q2": when
    that return is accepted) or "last_return" (when the case's last return is
    accepted). `share` is a percentage of the award; the schedule's shares add
    up to 100 and the last tranche takes what is left, so the payments add up
    to the award to the penny.
    """

    share: Decimal
    on: str


# DESIGN.md section 8: payment in arrears against evidence.
DEFAULT_TRANCHES: tuple[Tranche, ...] = (
    Tranche(Decimal(50), "accepted"),
    Tranche(Decimal(25), "Q2"),
    Tranche(Decimal(25), "last_return"),
)
_RETURN_LABEL = re.compile(r"Q([1-9][0-9]*)")


def tranche_event_label(on: str) -> str:
    """What people read for a tranche's event: "When the Q2 return is accepted"."""
    if on == "accepted":
        return "When the agreement is accepted"
    if on == "last_return":
        return "When the last return is accepted"
    return f"When the {on} return is accepted"


@dataclass(frozen=True)
class ProgrammeSpec:
    code: str
    name: str
    kind: str  # bids | areas
    fund_pence: int
    categories: dict[str, Category]
    criteria: dict[str, Decimal]  # weight of each 0-5 score
    # Each assessor's weighted score is sum(score x weight); when the highest
    # and lowest differ by more than this, a moderator's agreed score is needed.
    score_tolerance: int
    monitoring: Monitoring
    ladder: tuple[LadderStep, ...]
    catch_up: str  # all | latest
    contacts: Contacts
    decision_date: date | None
    eoi: EoiRules = EoiRules()
    source: str = ""  # the TOML text it was read from
    origin: str = ""  # where that text came from (a path), for messages
    criteria_labels: Mapping[str, str] = field(default_factory=dict)
    agreement: AgreementTerms = DEFAULT_TERMS  # [agreement]: the funder and the conditions
    # The senior responsible owner the file names (a person with role approver),
    # or None: the programme keeps the one it has (workflow.services.sro).
    sro: str | None = None
    # The payment schedule ([[payments]]); none, with `no_payments` saying why.
    tranches: tuple[Tranche, ...] = ()
    no_payments: str = ""
    # Due diligence before eligibility (states.diligence), in the file's order.
    diligence: Mapping[str, Check] = field(default_factory=dict)
    # An offer above this needs a second approver's countersignature (DESIGN.md section 9);
    # None: no amount needs one (a high fraud risk still needs the SRO's).
    countersign_above_pence: int | None = None

    # --- words for people (DESIGN.md section 12) ------------------------------
    def category_label(self, code: str) -> str:
        """ "ESG top-up" for `esg_top_up`; an unknown code made readable."""
        category = self.categories.get(code)
        return category.label if category and category.label else humanise(code)

    def category_sentence(self, code: str) -> str:
        category = self.categories.get(code)
        return category.description if category else ""

    def step(self, name: str) -> LadderStep | None:
        return next((s for s in self.ladder if s.name == name), STANDARD_STEPS.get(name))

    def step_label(self, name: str) -> str:
        """ "First escalation" for the ladder step `escalated_1`."""
        step = self.step(name)
        return step.label if step and step.label else humanise(name)

    def field_label(self, name: str) -> str:
        """ "Spend to date" for the return field `spend_to_date`."""
        found = self.monitoring.fields.get(name)
        return found.label if found and found.label else humanise(name)

    def criterion_label(self, name: str) -> str:
        return self.criteria_labels.get(name) or humanise(name)

    def words_problems(self) -> list[str]:
        """Every category, ladder step and return field without words for people."""
        out: list[str] = []
        for code, category in self.categories.items():
            if not category.label:
                out.append(f"{self.code}: category '{code}' has no label for people")
            if not category.description:
                out.append(f"{self.code}: category '{code}' has no sentence saying who it is for")
        for step in self.ladder:
            if not step.label:
                out.append(f"{self.code}: ladder step '{step.name}' has no label for people")
            if not step.sentence:
                out.append(
                    f"{self.code}: ladder step '{step.name}' has no sentence saying what it does"
                )
        for name, found in self.monitoring.fields.items():
            if not found.label:
                out.append(f"{self.code}: return field '{name}' has no label for people")
        for code, check in self.diligence.items():
            if not check.label or not check.sentence:
                out.append(
                    f"{self.code}: due-diligence check '{code}' has no label and "
                    f"sentence for people"
                )
        return out


# DESIGN.md section 1's "must state" column and eligibility, by category name.
_CATEGORY_DEFAULTS: dict[str, dict[str, Any]] = {
    "single_operation": {
        "required_fields": ("transitional_costs", "annual_savings"),
        "min_partner_councils": 1,
        "label": "Single operation",
        "description": "A group of councils moving to one operation across "
        "front line and back office.",
    },
    "shared_arrangement": {
        "required_fields": ("arrangement", "innovation", "transitional_costs", "annual_savings"),
        "arrangements": ARRANGEMENTS,
        "label": "Shared arrangement",
        "description": "Councils with a more limited arrangement: linked "
        "IT, joint procurement or contracting.",
    },
    "esg_top_up": {
        "required_fields": ("further_and_faster",),
        "needs_esg_allocation": True,
        "label": "ESG top-up",
        "description": "A top-up for a council in receipt of Efficiency Support Grant.",
    },
}

_TOP = {
    "code",
    "name",
    "kind",
    "fund",
    "description",
    "score_tolerance",
    "catch_up",
    "decision_date",
    "contacts",
    "criteria",
    "categories",
    "rules",
    "monitoring",
    "ladder",
    "eoi",
    "agreement",
    "sro",
    "payments",
    "no_payments",
    "diligence",
    "countersign_above",
}
_PERSON = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")  # a person's name, as `user add`


def parse_programme(text: str, source: str = "") -> ProgrammeSpec:
    """A ProgrammeSpec from TOML text, or ProgrammeFileError listing every problem."""
    try:
        data = tomllib.loads(text, parse_float=WrittenDecimal)
    except tomllib.TOMLDecodeError as err:
        raise ProgrammeFileError(f"not valid TOML: {err}", source) from None
    r = _Reader()
    r.unknown(data, _TOP, "")
    code = r.text(data, "code", required=True)
    if code is not None and not _CODE.fullmatch(code):
        r.problem(f"code: {code!r} is not lower-case letters, digits and hyphens (tca-2013)")
    name = r.text(data, "name", required=True)
    kind = r.text(data, "kind", required=True)
    if kind is not None and kind not in KINDS:
        r.problem(f"kind: {kind!r} is not bids or areas")
    fund = r.money(data, "fund", required=True)
    if fund == 0:
        r.problem("fund: £0 leaves nothing to award")
    tolerance = r.integer(data, "score_tolerance", default=2)
    catch_up = r.text(data, "catch_up", default="all")
    if catch_up not in CATCH_UP_POLICIES:
        r.problem(f"catch_up: {catch_up!r} is not all or latest")
    countersign_above = r.money(data, "countersign_above")
    decision = r.date(
        data, "decision_date", default=DEFAULT_AREA_DECISION if kind == "areas" else None
    )
    slug = code or "programme"
    contacts = _contacts(r, data, slug)
    criteria_labels: dict[str, str] = {}
    criteria = _criteria(r, data, criteria_labels)
    categories = _categories(r, data, kind)
    monitoring = _monitoring(r, data)
    ladder = _ladder(r, data)
    eoi_table = r.table(data, "eoi")
    r.unknown(eoi_table, {"min_service_areas", "min_partners"}, "eoi")
    eoi = EoiRules(
        r.integer(eoi_table, "min_service_areas", "eoi", default=1),
        r.integer(eoi_table, "min_partners", "eoi", default=2),
    )
    terms = parse_terms(r.table(data, "agreement"), r.problem)
    sro = r.text(data, "sro")
    if sro is not None and not _PERSON.fullmatch(sro):
        r.problem(
            f"sro: {sro!r} is not a person's name (the senior responsible owner, "
            f"a person with role approver)"
        )
    tranches, no_payments = _payments(r, data, kind, monitoring)
    diligence = _diligence(r, data, categories)
    if r.problems:
        raise ProgrammeFileError(r.problems, source)
    # Each is required: a missing one was a problem above.
    assert code is not None and name is not None and kind is not None and fund is not None
    return ProgrammeSpec(
        code=code,
        name=name,
        kind=kind,
        fund_pence=fund,
        categories=categories,
        criteria=criteria,
        score_tolerance=tolerance,
        monitoring=monitoring,
        ladder=ladder,
        catch_up=catch_up,
        contacts=contacts,
        decision_date=decision,
        eoi=eoi,
        source=text,
        origin=source,
        criteria_labels=criteria_labels,
        agreement=terms,
        sro=sro,
        countersign_above_pence=countersign_above,
        tranches=tranches,
        no_payments=no_payments,
        diligence=diligence,
    )


def _payments(
    r: _Reader, data: Mapping[str, Any], kind: str | None, monitoring: Monitoring
) -> tuple[tuple[Tranche, ...], str]:
    """The [[payments]] schedule, or `no_payments` saying why there is none.

    A programme of bids that says neither pays DESIGN.md's default schedule.
    """
    why = r.text(data, "no_payments", default="")
    if "payments" not in data:
        if why or kind != "bids":
            return (), why
        return DEFAULT_TRANCHES, ""
    if why:
        r.problem("no_payments: give either [[payments]] or no_payments, not both")
    entries = data["payments"]
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, Mapping) for e in entries)
    ):
        r.problem("payments: not an array of tables ([[payments]] with share and on)")
        return (), ""
    count = len(monitoring.dates) if monitoring.dates else monitoring.count
    out: list[Tranche] = []
    for i, entry in enumerate(entries):
        path = f"payments[{i}]"
        r.unknown(entry, {"share", "on"}, path)
        share = r.number(entry, "share", path, required=True)
        if share is not None and not 0 < share <= 100:
            r.problem(f"{path}.share: {share} is not a percentage above 0 and at most 100")
        elif share is not None and share != share.quantize(Decimal("0.01")):
            r.problem(f"{path}.share: {share} has more than two decimals")
        on = r.text(entry, "on", path, required=True)
        found = _RETURN_LABEL.fullmatch(on or "")
        if on is not None and on not in ("accepted", "last_return") and found is None:
            r.problem(f"{path}.on: {given(on)} is not accepted, last_return or a return like Q2")
        elif found is not None and count is not None and int(found.group(1)) > count:
            r.problem(f"{path}.on: {on} is past the last of the programme's {count} returns")
        if on is not None and any(t.on == on for t in out):
            r.problem(f"{path}.on: {on} is named by an earlier tranche too")
        if share is not None and on is not None:
            out.append(Tranche(share, on))
    total = sum((t.share for t in out), Decimal(0))
    if len(out) == len(entries) and total != 100:
        r.problem(f"payments: the shares add up to {total}%, not 100%")
    return tuple(out), ""


def _contacts(r: _Reader, data: Mapping[str, Any], slug: str) -> Contacts:
    table = r.table(data, "contacts")
    r.unknown(table, {"lead", "director"}, "contacts")
    found = {}
    for key in ("lead", "director"):
        email = r.text(table, key, "contacts", default=f"{slug}-{key}@example.org")
        if email is not None and not _EMAIL.fullmatch(email):
            r.problem(f"contacts.{key}: {email!r} is not an email address")
        found[key] = email
    return Contacts(**found)


def _criteria(r: _Reader, data: Mapping[str, Any], labels: dict[str, str]) -> dict[str, Decimal]:
    weights = {name: Decimal(1) for name in CRITERIA}
    table = r.table(data, "criteria")
    for name, entry in table.items():
        path = f"criteria.{name}"
        if name not in CRITERIA:
            r.problem(f"{path}: unknown criterion (assessors score {', '.join(CRITERIA)})")
            continue
        if isinstance(entry, Mapping):  # [criteria.innovation] weight = 2, label = "…"
            r.unknown(entry, {"weight", "label"}, path)
            label = r.text(entry, "label", path)
            if label:
                labels[name] = label
            weight = r.number(entry, "weight", path, required=True)
        else:  # innovation = 2
            weight = r.number(table, name, "criteria")
        if weight is not None:
            weights[name] = weight
    if not any(weights.values()):
        r.problem("criteria: every weight is 0, so no bid could be ranked")
    return weights


def _categories(r: _Reader, data: Mapping[str, Any], kind: str | None) -> dict[str, Category]:
    tables = r.table(data, "categories")
    rules = r.table(data, "rules")
    if kind == "areas":
        for key in ("categories", "rules"):
            if key in data:
                r.problem(f"{key}: a programme of areas has no categories")
        return {}
    if kind == "bids" and not tables:
        r.problem("categories: missing (a programme of bids needs at least one category)")
    for name in rules:
        if name not in tables:
            r.problem(f"rules.{name}: unknown category")
    out: dict[str, Category] = {}
    for name in tables:
        path = f"categories.{name}"
        if not _NAME.fullmatch(name):
            r.problem(f"{path}: {name!r} is not a name of lower-case letters, digits and _")
        table = r.table(tables, name, "categories")
        r.unknown(
            table,
            {"label", "description", "min", "max", "esg_share", "max_count", "min_count"},
            path,
        )
        low, high = r.money(table, "min", path), r.money(table, "max", path)
        share = r.number(table, "esg_share", path)
        if high is None and share is None and "max" not in table and "esg_share" not in table:
            r.problem(
                f"{path}.max: missing (a category's band needs max, or esg_share for "
                f"a share of the lead council's ESG allocation)"
            )
        if low is not None and high is not None and low > high:
            r.problem(f"{path}.min: {pounds(low)} is above max {pounds(high)}")
        if share is not None and not 0 < share <= 1:
            r.problem(f"{path}.esg_share: {share} is not a share above 0 and at most 1")
        most = r.integer(table, "max_count", path, required=True)
        least = r.integer(table, "min_count", path)
        if most is not None and least is not None and least > most:
            r.problem(f"{path}.min_count: {least} is above max_count {most}")
        defaults = _CATEGORY_DEFAULTS.get(name, {})
        rpath = f"rules.{name}"
        rule = r.table(rules, name, "rules")
        r.unknown(
            rule,
            {"required_fields", "min_partner_councils", "arrangements", "needs_esg_allocation"},
            rpath,
        )
        required = r.names(
            rule,
            "required_fields",
            rpath,
            allowed=STATABLE_FIELDS,
            default=defaults.get("required_fields", ()),
        )
        arrangements = r.names(
            rule, "arrangements", rpath, default=defaults.get("arrangements", ())
        )
        label = r.text(table, "label", path, default=defaults.get("label"))
        if label is None:
            r.problem(f'{path}.label: missing (what people read for {name!r}, like "ESG top-up")')
        out[name] = Category(
            name=name,
            label=label or "",
            description=r.text(table, "description", path, default=defaults.get("description", ""))
            or "",
            min_pence=low,
            max_pence=high,
            max_count=most,
            min_count=least,
            esg_share=share,
            needs_esg_allocation=r.boolean(
                rule,
                "needs_esg_allocation",
                rpath,
                default=bool(defaults.get("needs_esg_allocation", False) or share is not None),
            ),
            min_partner_councils=r.integer(
                rule, "min_partner_councils", rpath, default=defaults.get("min_partner_councils", 0)
            ),
            required_fields=required,
            arrangements=arrangements,
        )
    return out


def _diligence(
    r: _Reader, data: Mapping[str, Any], categories: Mapping[str, Category]
) -> dict[str, Check]:
    """`[diligence.CODE]` tables: kind, words, overridable, categories (bids only)."""
    tables = r.table(data, "diligence")
    out: dict[str, Check] = {}
    for code in tables:
        path = f"diligence.{code}"
        if not _NAME.fullmatch(code):
            r.problem(f"{path}: {code!r} is not a name of lower-case letters, digits and _")
            continue
        entry = r.table(tables, code, "diligence")
        r.unknown(entry, {"kind", "label", "sentence", "overridable", "categories"}, path)
        standard = STANDARD_CHECKS.get(code)
        kind = r.text(entry, "kind", path, required=True)
        overridable = r.boolean(entry, "overridable", path, default=False)
        label = r.text(entry, "label", path, default=standard.label if standard else "")
        sentence = r.text(entry, "sentence", path, default=standard.sentence if standard else "")
        r.problems.extend(check_problems(code, kind, overridable, label, sentence, path))
        named = r.names(entry, "categories", path, default=())
        for name in named:
            if name not in categories:
                r.problem(f"{path}.categories: '{name}' is not a category of this programme")
        out[code] = Check(
            code=code,
            kind=kind or "manual",
            label=label or "",
            sentence=sentence or "",
            overridable=overridable,
            categories=named,
        )
    return out


def _monitoring(r: _Reader, data: Mapping[str, Any]) -> Monitoring:
    table = r.table(data, "monitoring")
    r.unknown(table, {"every_months", "count", "dates", "fields"}, "monitoring")
    dates: tuple[date, ...] = ()
    every: int | None = 3
    count: int | None = 4
    if "dates" in table:
        if "every_months" in table or "count" in table:
            r.problem("monitoring.dates: give either dates or every_months and count, not both")
        found = table["dates"]
        if (
            not isinstance(found, list)
            or not found
            or not all(isinstance(d, date) and not isinstance(d, datetime) for d in found)
        ):
            r.problem("monitoring.dates: not a list of TOML dates (dates = [2014-03-31, …])")
        else:
            dates = tuple(found)
            if any(b <= a for a, b in zip(dates, dates[1:])):
                r.problem("monitoring.dates: the dates are not in strictly increasing order")
        every, count = None, None
    else:
        every = r.integer(table, "every_months", "monitoring", default=3, minimum=1)
        count = r.integer(table, "count", "monitoring", default=4, minimum=1)
    fields = dict(DEFAULT_RETURN_FIELDS)
    declared = r.table(table, "fields", "monitoring")
    for name in declared:
        path = f"monitoring.fields.{name}"
        if not _NAME.fullmatch(name):
            r.problem(f"{path}: {name!r} is not a name of lower-case letters, digits and _")
        entry = r.table(declared, name, "monitoring.fields")
        r.unknown(entry, {"kind", "required", "label"}, path)
        standard = DEFAULT_RETURN_FIELDS.get(name)
        label = r.text(entry, "label", path, default=standard.label if standard else humanise(name))
        kind = r.text(
            entry,
            "kind",
            path,
            required=standard is None,
            default=standard.kind if standard else None,
        )
        if kind is not None and kind not in ("money", "text"):
            r.problem(f"{path}.kind: {kind!r} is not money or text")
        elif standard and kind != standard.kind:
            r.problem(f"{path}.kind: {name} is always {standard.kind}")
        required = r.boolean(entry, "required", path, default=False)
        fields[name] = ReturnField(kind or "text", required, label or "")
    return Monitoring(every_months=every, count=count, dates=dates, fields=fields)


def _ladder(r: _Reader, data: Mapping[str, Any]) -> tuple[LadderStep, ...]:
    if "ladder" not in data:
        return DEFAULT_LADDER
    entries = data["ladder"]
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        r.problem("ladder: not an array of tables ([[ladder]])")
        return DEFAULT_LADDER
    steps: list[LadderStep] = []
    escalations = 0
    unworded: list[str] = []
    before = len(r.problems)
    for i, entry in enumerate(entries):
        path = f"ladder[{i}]"
        r.unknown(
            entry,
            {
                "name",
                "offset_days",
                "working_days",
                "action",
                "level",
                "at_risk",
                "to",
                "cc",
                "label",
                "sentence",
            },
            path,
        )
        standard = STANDARD_STEPS.get(entry.get("name"))
        action = r.text(entry, "action", path, required=True)
        if action is not None and action not in ACTIONS:
            r.problem(f"{path}.action: {action!r} is not one of {', '.join(ACTIONS)}")
            action = None
        escalations += action == "escalate"
        step = LadderStep(
            name=r.text(entry, "name", path, required=True) or f"step_{i}",
            offset_days=r.integer(entry, "offset_days", path, required=True, minimum=None) or 0,
            action=action or "remind",
            to=r.names(entry, "to", path, default=()),
            cc=r.names(entry, "cc", path, default=()),
            working_days=r.boolean(entry, "working_days", path, default=False),
            level=r.integer(
                entry, "level", path, default=escalations if action == "escalate" else 0
            ),
            at_risk=r.boolean(entry, "at_risk", path, default=False),
            label=r.text(entry, "label", path, default=standard.label if standard else "") or "",
            sentence=r.text(entry, "sentence", path, default=standard.sentence if standard else "")
            or "",
        )
        # Words are checked after the ladder's shape, so a missing label never
        # hides a step out of order.
        if "name" in entry and not step.label:
            unworded.append(
                f"{path}.label: missing (what people read for the step "
                f'{step.name!r}, like "First escalation")'
            )
        if "name" in entry and not step.sentence:
            unworded.append(f"{path}.sentence: missing (one sentence saying what the step does)")
        if "name" in entry and not _NAME.fullmatch(step.name):
            r.problem(
                f"{path}.name: {step.name!r} is not a name of lower-case letters, "
                f"digits and _ (it names the email templates)"
            )
        steps.append(step)
    if len(r.problems) == before:  # ordering checks on half-read steps would only repeat them
        r.problems.extend(ladder_problems(steps))
    r.problems.extend(unworded)
    return tuple(steps)


class _Reader:
    """Reads typed fields out of TOML tables, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def _get(self, table: Mapping[str, Any], key: str, path: str, required: bool) -> Any:
        if key not in table and required:
            self.problem(f"{_join(path, key)}: missing")
        return table.get(key)

    def unknown(self, table: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in table:
            if key not in allowed:
                self.problem(f"{_join(path, key)}: unknown field")

    def table(self, table: Mapping[str, Any], key: str, path: str = "") -> Mapping[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, Mapping):
            self.problem(f"{_join(path, key)}: not a table")
            return {}
        return value

    @overload
    def text(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        required: bool = False,
        default: str,
    ) -> str: ...
    @overload
    def text(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        required: bool = False,
        default: None = None,
    ) -> str | None: ...

    def text(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        required: bool = False,
        default: str | None = None,
    ) -> str | None:
        value = self._get(table, key, path, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            self.problem(f"{_join(path, key)}: {_show(value)} is not a piece of text")
            return default
        return value

    def money(
        self, table: Mapping[str, Any], key: str, path: str = "", *, required: bool = False
    ) -> int | None:
        value = self._get(table, key, path, required)
        if value is None:
            return None
        try:
            return parse_money(value, _join(path, key))
        except DocumentError as err:
            self.problems.extend(err.problems)
            return None

    def number(
        self, table: Mapping[str, Any], key: str, path: str = "", *, required: bool = False
    ) -> Decimal | None:
        value = self._get(table, key, path, required)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, Decimal))
            or (isinstance(value, Decimal) and not value.is_finite())
        ):
            self.problem(f"{_join(path, key)}: {_show(value)} is not a number")
            return None
        if value < 0:
            self.problem(f"{_join(path, key)}: {_show(value)} is below 0")
            return None
        return Decimal(value) if isinstance(value, int) else Decimal(str(value))

    @overload
    def integer(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        required: bool = False,
        default: int,
        minimum: int | None = 0,
    ) -> int: ...
    @overload
    def integer(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        required: bool = False,
        default: None = None,
        minimum: int | None = 0,
    ) -> int | None: ...

    def integer(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        required: bool = False,
        default: int | None = None,
        minimum: int | None = 0,
    ) -> int | None:
        value = self._get(table, key, path, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(f"{_join(path, key)}: {_show(value)} is not a whole number")
            return default
        if minimum is not None and value < minimum:
            self.problem(f"{_join(path, key)}: {value} is below {minimum}")
            return default
        return value

    def boolean(self, table: Mapping[str, Any], key: str, path: str = "", *, default: bool) -> bool:
        value = table.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{_join(path, key)}: {_show(value)} is not true or false")
            return default
        return value

    def date(
        self, table: Mapping[str, Any], key: str, path: str = "", *, default: date | None
    ) -> date | None:
        value = table.get(key)
        if value is None:
            return default
        if not isinstance(value, date) or isinstance(value, datetime):
            self.problem(f"{_join(path, key)}: {_show(value)} is not a TOML date (2013-07-31)")
            return default
        return value

    def names(
        self,
        table: Mapping[str, Any],
        key: str,
        path: str = "",
        *,
        default: tuple[str, ...],
        allowed: tuple[str, ...] = (),
    ) -> tuple[str, ...]:
        value = table.get(key)
        if value is None:
            return tuple(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{_join(path, key)}: not a list of names")
            return tuple(default)
        for v in value:
            if allowed and v not in allowed:
                self.problem(f"{_join(path, key)}: {v!r} is not one of {', '.join(allowed)}")
        return tuple(value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any) -> str:
    return given(value)
