"""A programme's awards as a 360Giving data package, validated offline before it is written.

Which awards: every bid that was offered an award. Each is published with
what the programme still commits to it (the fund ledger: reserved less
released). An offer the council declined, or an award terminated with its
unpaid funds released, commits nothing and is left out, as the 360Giving
guidance asks of grants that did not go ahead; `left_out` says which and why.

Recipients are named by their org-id: the organisation's own (`org add
--org-id`), or for an English council its `GB-LAE-` code, found by name in
the register shipped in states/reference/. An organisation found nowhere
stops the publication, naming it. The package is checked against the
standard's own schemas (states/reference/, no network) and a package that
fails is not written: each problem names the grant and the field.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import Engine, func, select

from states.bid import BID
from states.money import pounds
from states.register import REGISTER_DAY, council_named
from workflow import clock
from workflow.services import awards, payments
from workflow.services import programme_files as programme_store
from workflow.services.calendar import london_day
from workflow.storage.db import reading
from workflow.errors import Malformed, RuleViolation, SetupError
from workflow.storage.tables import agreements, cases, checkpoints, history, organisations
from workflow.storage.records import CaseRecord

__all__ = [
    "Funder",
    "Publication",
    "PublicationRefused",
    "build",
    "validate",
    "write",
    "publish",
    "dumps",
    "org_id_for",
    "council_named",
    "AWARDED_STATES",
]

# The grant schema as the package schema refers to it (an absolute URL, never fetched).
GRANT_SCHEMA_URI = (
    "https://raw.githubusercontent.com/ThreeSixtyGiving/standard/1.4.2/"
    "schema/360-giving-schema.json"
)
STANDARD_VERSION = "1.4"
OGL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
AWARDED_STATES = BID.group("offered")
# GSS code prefix -> the 360Giving geoCodeType codelist's code.
GEO_CODE_TYPES = {
    "E06": "UA",
    "E07": "NMD",
    "E08": "MD",
    "E09": "LONB",
    "E10": "CTY",
    "W06": "UA",
    "S12": "CA",
}
_GSS = re.compile(r"^[ENSW][0-9]{8}$")
_PREFIX = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,78}[A-Za-z0-9])?")
_CORE = (
    "id",
    "title",
    "description",
    "currency",
    "amountAwarded",
    "awardDate",
    "fundingOrganization",
)


@dataclass(frozen=True)
class Funder:
    """Who publishes: the 360Giving prefix of grant ids and the funding organisation."""

    prefix: str = "casework"
    # The department that ran both programmes in 2013, by its key in the
    # Government Organisation Register (GB-GOR): D4, held by DCLG from its
    # start in May 2006 (states/reference/README.md says where this was read).
    id: str = "GB-GOR-D4"
    name: str = "Department for Communities and Local Government"

    @classmethod
    def from_env(cls, prefix: str | None = None) -> "Funder":
        """`CASEWORK_360G_PREFIX`, `CASEWORK_FUNDER_ID`, `CASEWORK_FUNDER_NAME` override these."""
        env = os.environ
        funder = cls(
            prefix=prefix or env.get("CASEWORK_360G_PREFIX") or cls.prefix,
            id=env.get("CASEWORK_FUNDER_ID") or cls.id,
            name=env.get("CASEWORK_FUNDER_NAME") or cls.name,
        )
        problems = []
        if not _PREFIX.fullmatch(funder.prefix):
            problems.append(
                f"prefix: {funder.prefix!r} is not a 360Giving prefix (letters, "
                f"digits and hyphens, without the leading 360G-)"
            )
        if not _PREFIX.fullmatch(funder.id) or not funder.name.strip():
            problems.append(
                "funder: CASEWORK_FUNDER_ID must be an org-id (GB-COH-09506232, say) "
                "and CASEWORK_FUNDER_NAME a name"
            )
        if problems:
            raise Malformed("The publisher", problems)
        return funder


class PublicationRefused(RuleViolation):
    """Nothing was published; `violations` names each grant or organisation at fault."""

    def __init__(self, what: str, problems: Iterable[str]):
        problems = list(problems)
        super().__init__(f"{what}: " + "; ".join(problems) + ".", problems)


@dataclass
class Publication:
    package: dict[str, Any]
    left_out: list[dict[str, str]] = field(default_factory=list)

    @property
    def grants(self) -> list[dict[str, Any]]:
        grants: list[dict[str, Any]] = self.package["grants"]
        return grants

    def summary(self) -> str:
        total = sum(Decimal(str(g["amountAwarded"])) for g in self.grants)
        n = len(self.grants)
        line = f"{n} grant{'' if n == 1 else 's'}, {pounds(int(total * 100))} in all"
        if self.left_out:
            line += "; left out: " + ", ".join(f"{x['ref']} ({x['why']})" for x in self.left_out)
        return line


# --- the register of English councils: states.register -----------------------------


def org_id_for(org: Any, on: date = REGISTER_DAY) -> tuple[str | None, str]:
    """(org-id, '') for an organisation row, or (None, why it has none)."""
    if org.org_id:
        return org.org_id, ""
    where = f"{org.code} ({org.name})"
    if org.kind != "council":
        return None, (
            f"{where} has no 360Giving org-id; record one with --org-id "
            f"(only English councils are looked up in the register)"
        )
    found = council_named(org.name, on)
    if len(found) == 1:
        return f"GB-LAE-{found[0].key}", ""
    if not found:
        return None, (
            f"{where} has no 360Giving org-id and no English council of that name "
            f"is in the register; record its org-id with --org-id"
        )
    keys = ", ".join(f"GB-LAE-{c.key} ({c.official_name})" for c in found)
    return None, (
        f"{where} matches several councils in the register ({keys}); record one with --org-id"
    )


# --- building --------------------------------------------------------------------------
def build(engine: Engine, code: str, *, funder: Funder | None = None) -> Publication:
    """The package of programme `code`'s awards; PublicationRefused if any recipient is unknown."""
    funder = funder or Funder.from_env()
    now = clock.now()
    with reading(engine) as conn:
        spec = programme_store.spec_for(conn, code)
        if spec.kind != "bids":
            raise PublicationRefused(
                f"{spec.code} publishes no grants",
                [f"{spec.code} is a programme of network areas, which are not awarded grants"],
            )
        rows = CaseRecord.all(
            conn.execute(
                select(cases)
                .where(
                    cases.c.programme == spec.code,
                    cases.c.kind == "bid",
                    cases.c.state.in_(AWARDED_STATES),
                )
                .order_by(cases.c.id)
            )
        )
        offered = _offer_days(conn, [r.id for r in rows])
        held = {r.id: awards.reserved_for(conn, r.id) for r in rows}
        paid = {r.id: payments.paid_pence(conn, r.id) for r in rows}
        planned = _planned_dates(conn, [r.id for r in rows])
        codes = {c for r in rows for c in [r.lead, *r.partners]}
        orgs = {
            o.code: o
            for o in conn.execute(select(organisations).where(organisations.c.code.in_(codes)))
        }
    grants, left_out, problems = [], [], []
    for row in rows:
        if held[row.id] <= 0:
            why = (
                row.state
                if BID.is_in(row.state, "offer_given_back")
                else f"{row.state}, nothing committed"
            )
            left_out.append({"ref": row.ref, "why": why})
            continue
        lead = orgs[row.lead]
        org_id, why = org_id_for(lead, offered.get(row.id, REGISTER_DAY))
        if org_id is None:
            problems.append(f"{row.ref}: {why}")
            continue
        grant = _grant(row, spec, funder, lead, org_id, orgs, held[row.id], offered.get(row.id))
        # Issue 19: what has been paid, and when the funded work runs (accepted to last return).
        grant["amountDisbursed"] = _amount(paid[row.id])
        if row.id in planned:
            grant["plannedDates"] = [planned[row.id]]
        grants.append(grant)
    if problems:
        raise PublicationRefused(f"The 360Giving data for {spec.code} was not published", problems)
    if not grants:
        raise PublicationRefused(
            f"{spec.code} has nothing to publish",
            [
                "no award has been offered yet"
                if not left_out
                else "every award offered was declined or terminated"
            ],
        )
    package = {
        "grants": grants,
        "version": STANDARD_VERSION,
        "title": f"{spec.name}: awards",
        "identifier": f"{funder.prefix}-{spec.code}",
        "description": f"Awards of the {spec.name} programme, offered and accepted, "
        f"as of {london_day(now).isoformat()}.",
        "issued": london_day(now).isoformat(),
        "modified": now.isoformat(),
        "publisher": {"name": funder.name, "identifier": funder.id},
        "license": OGL,
    }
    return Publication(package, left_out)


def _offer_days(conn: Any, case_ids: list[int]) -> dict[int, date]:
    if not case_ids:
        return {}
    q = (
        select(history.c.case_id, history.c.at)
        .where(history.c.case_id.in_(case_ids), history.c.trigger == "offer")
        .order_by(history.c.case_id, history.c.seq)
    )
    return {r.case_id: london_day(r.at) for r in conn.execute(q)}


def _planned_dates(conn: Any, case_ids: list[int]) -> dict[int, dict[str, str]]:
    """Each accepted award's period: from the day its returns were scheduled (the award
    accepted) to the end its latest agreement states (a variation may move it), or, when
    that agreement states none, its last return's due date."""
    if not case_ids:
        return {}
    latest = (
        select(agreements.c.case_id, func.max(agreements.c.version).label("version"))
        .where(agreements.c.case_id.in_(case_ids))
        .group_by(agreements.c.case_id)
        .subquery()
    )
    agreed_end = {
        r.case_id: r.end_on
        for r in conn.execute(
            select(agreements.c.case_id, agreements.c.end_on).join(
                latest,
                (agreements.c.case_id == latest.c.case_id)
                & (agreements.c.version == latest.c.version),
            )
        )
        if r.end_on is not None
    }
    q = (
        select(
            checkpoints.c.case_id,
            func.min(checkpoints.c.scheduled_at).label("start"),
            func.max(checkpoints.c.due).label("end"),
        )
        .where(checkpoints.c.case_id.in_(case_ids))
        .group_by(checkpoints.c.case_id)
    )
    out = {}
    for r in conn.execute(q):
        if r.start is None or r.end is None:
            continue
        out[r.case_id] = {
            "title": "The funded work, monitored by its returns",
            "startDate": london_day(r.start).isoformat(),
            "endDate": agreed_end.get(r.case_id, r.end).isoformat(),
        }
    return out


def _grant(
    row: CaseRecord,
    spec: Any,
    funder: Funder,
    lead: Any,
    org_id: str,
    orgs: dict[str, Any],
    held_pence: int,
    award_day: date | None,
) -> dict[str, Any]:
    partners = [orgs[c].name for c in row.partners if c in orgs]
    # The category's sentence says who it is for; its short label is the fallback.
    label = spec.category_sentence(row.category).rstrip(".") or spec.category_label(row.category)
    description = f"{row.title}. {label}. Led by {lead.name}" + (
        f", with {', '.join(partners[:-1])} and {partners[-1]}."
        if len(partners) > 1
        else f", with {partners[0]}."
        if partners
        else "."
    )
    applied = row.amount_pence or 0
    if held_pence < applied:
        description += (
            f" {BID.state_label(row.state)}: {pounds(applied - held_pence)} "
            f"of the award was released."
        )
    grant: dict[str, Any] = {
        "id": f"360G-{funder.prefix}-{row.ref}",
        "title": row.title,
        "description": description,
        "currency": "GBP",
        "amountAppliedFor": _amount(applied),
        "amountAwarded": _amount(held_pence),
    }
    if award_day is not None:  # without one, validation names the grant
        grant["awardDate"] = award_day.isoformat()
    grant.update(
        {
            "recipientOrganization": [{"id": org_id, "name": lead.name}],
            "fundingOrganization": [{"id": funder.id, "name": funder.name}],
            "grantProgramme": [{"code": spec.code, "title": spec.name}],
            "fromOpenCall": "Yes",
            "dateModified": row.updated_at.isoformat() if row.updated_at else None,
        }
    )
    places = [_place(orgs[c]) for c in [row.lead, *row.partners] if c in orgs]
    places = [p for p in places if p is not None]
    if places:
        grant["beneficiaryLocation"] = places
    return grant


def _amount(pence: int) -> Decimal:
    return Decimal(pence) / 100 if pence % 100 else Decimal(pence // 100)


def _place(org: Any) -> dict[str, str] | None:
    kind = GEO_CODE_TYPES.get(org.code[:3]) if _GSS.match(org.code) else None
    if kind is None:
        return None
    return {"geoCode": org.code, "geoCodeType": kind, "name": org.name, "countryCode": "GB"}


# --- validating and writing ---------------------------------------------------------------
@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    if "date-time" not in Draft202012Validator.FORMAT_CHECKER.checkers:
        raise SetupError(
            "Dates cannot be checked: install rfc3339-validator (360Giving dates "
            "are a oneOf that needs format checking)."
        )
    folder = resources.files("states") / "reference"
    grant = json.loads((folder / "360-giving-schema.json").read_text("utf-8"))
    package = json.loads((folder / "360-giving-package-schema.json").read_text("utf-8"))
    # Their $schema is http://…, which referencing does not recognise: say the dialect.
    grant_resource = DRAFT202012.create_resource(grant)
    registry = Registry().with_resources(
        [(GRANT_SCHEMA_URI, grant_resource), (grant["$id"], grant_resource)]
    )
    return Draft202012Validator(
        package, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def validate(package: dict[str, Any]) -> list[str]:
    """Every problem with the package, each naming its grant (by reference) and field."""
    grants: list[Any] = package["grants"] if isinstance(package.get("grants"), list) else []
    problems = []
    for n, g in enumerate(grants):  # the schema's oneOf hides which field is missing
        if not isinstance(g, dict):
            continue
        missing = [f for f in _CORE if f not in g]
        if "recipientOrganization" not in g and "recipientIndividual" not in g:
            missing.append("recipientOrganization")
        problems += [f"{_who(g, n)}: {f} is missing" for f in missing]
    if problems:
        return problems
    for err in sorted(_validator().iter_errors(package), key=lambda e: list(e.path)):
        path = list(err.absolute_path)
        if len(path) >= 2 and path[0] == "grants" and isinstance(path[1], int):
            field = ".".join(map(str, path[2:])) or "grant"
            where = f"{_who(grants[path[1]], path[1])}: {field}"
        else:
            where = "package: " + (".".join(map(str, path)) or "top level")
        problems.append(f"{where}: {_message(err)}")
    return problems


def _who(grant: Any, n: int | None = None) -> str:
    gid = grant.get("id") if isinstance(grant, dict) else None
    return f"grant {gid}" if isinstance(gid, str) and gid else f"grant #{(n or 0) + 1} (no id)"


def _message(err: Any) -> str:
    if err.validator == "oneOf" and err.context:
        return "; ".join(sorted({_message(c) for c in err.context}))
    if err.validator == "enum":
        return f"{err.instance!r} is not one of the values the standard allows"
    return str(err.message)


def dumps(package: dict[str, Any]) -> str:
    """JSON text of a package: amounts as exact decimal numbers (never through a float)."""
    marks: dict[str, str] = {}

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            token = f"\x00amount{len(marks)}\x00"
            marks[json.dumps(token)] = str(value)
            return token
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(package), ensure_ascii=False, indent=2)
    for token, number in marks.items():
        text = text.replace(token, number)
    return text + "\n"


def write(publication: Publication, out: Path | None) -> str:
    """Validate, then write to `out` atomically (or return the text): nothing on failure."""
    problems = validate(publication.package)
    if problems:
        raise PublicationRefused(
            "The 360Giving data failed the standard's schema and was not written", problems
        )
    text = dumps(publication.package)
    if out is not None:
        out = Path(out)
        folder = out.parent if str(out.parent) else Path(".")
        if not folder.is_dir():  # said of the file asked for, not of the temporary one
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(out))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{out.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return text


def publish(
    engine: Engine, code: str, out: Path | None = None, *, funder: Funder | None = None
) -> tuple[Publication, str]:
    """Build, validate and write programme `code`'s package; returns it and its text."""
    publication = build(engine, code, funder=funder)
    return publication, write(publication, out)
