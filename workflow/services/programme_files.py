"""Programmes: loaded from their files, kept with the text they came from."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select

from states import DEFINITIONS
from states.errors import ProgrammeFileError
from states.money import money_json, pounds
from states.programme import ProgrammeSpec, parse_programme
from workflow import clock
from workflow.services import admin_log, awards
from workflow.services.admin_log import Admin
from workflow.errors import Malformed, ProgrammeNotFound, RuleViolation
from workflow.storage.tables import cases, ledger, programmes
from workflow.storage.prepared import Prepared


def bundled_sources() -> list[tuple[str, str]]:
    """(file name, TOML text) of each programme file shipped in states/programmes/."""
    folder = resources.files("states") / "programmes"
    return sorted(
        (p.name, p.read_text(encoding="utf-8"))
        for p in folder.iterdir()
        if p.name.endswith(".toml")
    )


@lru_cache(maxsize=64)
def _parsed(source: str) -> ProgrammeSpec:
    return parse_programme(source)


def parse(text: str, source: str = "") -> ProgrammeSpec:
    try:
        return parse_programme(text, source)
    except ProgrammeFileError as err:
        raise Malformed(f"Programme file {source or ''}".strip(), err.problems) from None


def load(
    conn: Connection,
    text: str,
    source: str = "",
    *,
    by: Admin | None = None,
    at: datetime | None = None,
) -> tuple[ProgrammeSpec, bool]:
    """Add a programme (or replace its rules); returns (spec, was_new)."""
    found = apply_file(conn, text, source, by=by, at=at)
    return found["spec"], found["new"]


def load_bundled(conn: Connection, name: str, text: str) -> dict[str, Any]:
    """`init`'s load of a file shipped with casework, unless an administrator's own file
    for that programme replaced it: theirs is kept, and the answer says so.

    Returns {"code", "file", "new", "kept"}; "kept" is who loaded the file kept, when, and
    its admin log row's id, or None.
    """
    spec = parse(text, name)
    own = own_file(conn, spec.code, name)
    if own is not None:
        kept = {k: own[k] for k in ("actor", "at", "id")}
        return {"code": spec.code, "file": name, "new": False, "kept": kept}
    found = apply_file(conn, text, name, bundled=True)
    return {"code": spec.code, "file": name, "new": found["new"], "kept": None}


def own_file(conn: Connection, code: str, bundled_name: str) -> dict[str, Any] | None:
    """The admin log's row of the file an administrator loaded for `code`, if that is the
    file in force; None when the bundled file is (or no file was ever logged).

    Loads by `init` say `"bundled": true`; loads logged before that flag existed count as
    bundled when they name the bundled file, as `init` was then their only source."""
    last = admin_log.rows(conn, action="programme_load", target=code, newest_first=True, limit=1)
    if not last:
        return None
    after = last[0]["after"] or {}
    bundled = after.get("bundled", after.get("file") == bundled_name)
    return None if bundled else last[0]


def apply_file(
    conn: Connection,
    text: str,
    source: str = "",
    *,
    by: Admin | None = None,
    at: datetime | None = None,
    bundled: bool = False,
) -> dict[str, Any]:
    """Load a programme file: a new programme, a changed one, or the same text (nothing done).

    A new or changed file is one row of the admin log (the values that changed,
    before and after), in the caller's transaction. A file naming an `sro` who
    is not an approver, or one whose rules would no longer hold for a case
    already past submission (a band below an amount asked or offered, a fund
    below what offers commit, a category removed from under a case), is refused
    naming the cases, and nothing is written. A file naming no `sro` keeps the
    programme's.
    Returns {"spec", "new", "changed", "log"}.
    """
    from workflow.services import sro as sro_service

    spec = parse(text, source)
    at = at or clock.now()
    by = by or Admin.operator()
    existing = conn.execute(select(programmes).where(programmes.c.code == spec.code)).first()
    if existing is not None and existing.source == text:
        return {"spec": spec, "new": False, "changed": False, "log": None}
    admin_log.hold(conn)  # then read again under the log's lock: the "before" is this one
    existing = conn.execute(select(programmes).where(programmes.c.code == spec.code)).first()
    if spec.sro is not None and (existing is None or existing.sro != spec.sro):
        sro_service.check_candidate(conn, spec.code, spec.sro)
    values: dict[str, Any] = dict(
        name=spec.name, kind=spec.kind, fund_pence=spec.fund_pence, source=text, loaded_at=at
    )
    if spec.sro is not None:
        values["sro"] = spec.sro
    if existing is None:
        conn.execute(programmes.insert().values(code=spec.code, last_number=0, **values))
        before: dict[str, Any] | None = None
        after: dict[str, Any] = {
            "file": source or None,
            "sha256": _sha(text),
            "sro": spec.sro,
            "values": _flat(text),
            "bundled": bundled,
        }
    else:
        if existing.kind != spec.kind:
            raise RuleViolation(
                f"Programme {spec.code} is of kind {existing.kind}; a file "
                f"cannot make it {spec.kind}. Nothing was loaded."
            )
        _check_cases(conn, spec)
        conn.execute(programmes.update().where(programmes.c.code == spec.code).values(**values))
        old, new = admin_log.changed(_flat(existing.source), _flat(text))
        before = {"sha256": _sha(existing.source), "sro": existing.sro, "values": old}
        after = {
            "file": source or None,
            "sha256": _sha(text),
            "sro": spec.sro if spec.sro is not None else existing.sro,
            "values": new,
            "bundled": bundled,
        }
    row = admin_log.append(conn, by, "programme_load", spec.code, before=before, after=after, at=at)
    return {"spec": spec, "new": existing is None, "changed": True, "log": row["id"]}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _flat(text: str) -> dict[str, Any]:
    """A programme file's values by dotted name (`categories.single_operation.max`), as
    written (numbers as their text, dates ISO), for the admin log's before and after."""
    try:
        data = tomllib.loads(text, parse_float=str)
    except tomllib.TOMLDecodeError:
        return {"(unreadable)": text[:200]}
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        else:
            out[prefix] = _plain(value)

    walk("", data)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)  # dates, times


def _live_past_submit(conn: Connection, code: str) -> list[Any]:
    """The programme's cases past submission and not finished."""
    out = []
    for row in conn.execute(
        select(
            cases.c.id,
            cases.c.ref,
            cases.c.kind,
            cases.c.state,
            cases.c.category,
            cases.c.amount_pence,
        )
        .where(cases.c.programme == code)
        .order_by(cases.c.id)
    ):
        definition = DEFINITIONS[row.kind]
        if row.state != definition.initial and not definition.is_final(row.state):
            out.append(row)
    return out


def _holding(conn: Connection, code: str) -> list[tuple[str, int]]:
    """(ref, pence) of each case the fund ledger holds money for."""
    signed = case(
        (ledger.c.entry == "reserve", ledger.c.amount_pence), else_=-ledger.c.amount_pence
    )
    q = (
        select(cases.c.ref, func.sum(signed).label("held"))
        .select_from(ledger)
        .join(cases, cases.c.id == ledger.c.case_id)
        .where(ledger.c.programme == code)
        .group_by(cases.c.ref)
        .order_by(cases.c.ref)
    )
    return [(r.ref, int(r.held)) for r in conn.execute(q) if r.held and r.held > 0]


def _count_and_share_problems(conn: Connection, spec: ProgrammeSpec) -> list[str]:
    """A category's offer count below the offers standing in it; an ESG share that no
    longer covers a submitted top-up (the rules `offer` and `submit` run)."""
    from decimal import ROUND_FLOOR, Decimal

    from workflow.services.facts import LIVE_OFFER_STATES
    from workflow.storage.tables import organisations

    out: list[str] = []
    standing: dict[str, list[str]] = {}
    for ref, category in conn.execute(
        select(cases.c.ref, cases.c.category)
        .where(
            cases.c.programme == spec.code,
            cases.c.kind == "bid",
            cases.c.state.in_(list(LIVE_OFFER_STATES)),
        )
        .order_by(cases.c.id)
    ):
        standing.setdefault(category, []).append(ref)
    for code, refs in standing.items():
        category = spec.categories.get(code)
        if (
            category is not None
            and category.max_count is not None
            and len(refs) > category.max_count
        ):
            out.append(
                f"{spec.category_label(code)} would allow {category.max_count} offers, "
                f"and {len(refs)} stand ({', '.join(refs)})"
            )
    for row in _live_past_submit(conn, spec.code):
        category = spec.categories.get(row.category) if row.category else None
        if category is None or category.esg_share is None or row.amount_pence is None:
            continue
        lead = conn.execute(
            select(organisations.c.esg_allocation_pence)
            .join(cases, cases.c.lead == organisations.c.code)
            .where(cases.c.ref == row.ref)
        ).scalar()
        if lead is None:
            continue
        limit = int((Decimal(lead) * category.esg_share).to_integral_value(ROUND_FLOOR))
        if row.amount_pence > limit:
            out.append(
                f"{row.ref}: asks for {pounds(row.amount_pence)}, above the new ESG "
                f"share's {pounds(limit)}"
            )
    return out


def _check_cases(conn: Connection, spec: ProgrammeSpec) -> None:
    """RuleViolation naming every case a changed file would break the rules for."""
    problems: list[str] = []
    committed = committed_pence(conn, spec.code)
    if spec.fund_pence < committed:
        held = ", ".join(f"{ref} ({pounds(p)})" for ref, p in _holding(conn, spec.code))
        problems.append(
            f"fund: {pounds(spec.fund_pence)} is below the {pounds(committed)} "
            f"that offers already commit ({held})"
        )
    for row in _live_past_submit(conn, spec.code):
        if row.category is None:
            continue
        category = spec.categories.get(row.category)
        if category is None:
            problems.append(f"{row.ref}: its category {row.category} would no longer exist")
            continue
        amount = row.amount_pence
        if amount is None:
            continue
        if category.max_pence is not None and amount > category.max_pence:
            problems.append(
                f"{row.ref}: asks for {pounds(amount)}, above the new band's "
                f"{pounds(category.max_pence)} for {spec.category_label(row.category)}"
            )
        if category.min_pence is not None and amount < category.min_pence:
            problems.append(
                f"{row.ref}: asks for {pounds(amount)}, below the new band's "
                f"{pounds(category.min_pence)} for {spec.category_label(row.category)}"
            )
    problems += _count_and_share_problems(conn, spec)
    if problems:
        raise RuleViolation(
            f"Programme {spec.code} was not loaded: the new file would break "
            f"its rules for cases already submitted: " + "; ".join(problems) + ".",
            problems,
        )


_SOURCE = Prepared(select(programmes.c.source).where(programmes.c.code == bindparam("code")))


# Each programme's text as last read, with its parse: a move compares the text it reads
# with this one (a few kilobytes: a memory comparison) rather than hash it for _parsed's
# cache (SipHash over the whole text, about ten microseconds a move).
_LATEST: dict[str, tuple[str, ProgrammeSpec]] = {}


def spec_for(conn: Connection, code: str) -> ProgrammeSpec:
    """The programme as its file is now; every move reads it, so the parse is cached by text."""
    row = _SOURCE.first(conn, {"code": code})
    if row is None:
        # Codes are lower case; people type them as the references print them (TCA-2013),
        # and the lists and the web already take either. Only a miss pays for the retry.
        typed = code.strip().lower()
        if typed == code:
            raise ProgrammeNotFound(code)
        try:
            return spec_for(conn, typed)
        except ProgrammeNotFound:
            raise ProgrammeNotFound(code) from None
    source: str = row.source
    latest = _LATEST.get(code)
    if latest is not None and latest[0] == source:
        return latest[1]
    spec = _parsed(source)
    _LATEST[code] = (source, spec)
    return spec


def find_spec(conn: Connection, code: Any) -> ProgrammeSpec | None:
    if not isinstance(code, str):
        return None
    row = conn.execute(select(programmes.c.source).where(programmes.c.code == code)).first()
    return _parsed(row.source) if row else None


def committed_pence(
    conn: Connection, code: str, *, leave_out_case: int | None = None, category: str | None = None
) -> int:
    """Reserved minus released in the programme's fund ledger (or in one category of it).

    The whole programme's total is the latest ledger row's running balance, so
    an offer's guard reads it in constant time however long the ledger is; a
    category's total (not on any move's path) is added up row by row.
    """
    if category is not None:
        return awards.held_pence(
            conn, programme=code, leave_out_case=leave_out_case, category=category
        )
    return awards.committed(conn, code, leave_out_case=leave_out_case)


def next_reference(conn: Connection, code: str) -> str:
    row = conn.execute(
        programmes.update()
        .where(programmes.c.code == code)
        .values(last_number=programmes.c.last_number + 1)
        .returning(programmes.c.last_number)
    ).first()
    if row is None:
        raise ProgrammeNotFound(code)
    return f"{code.upper()}-{row.last_number:04d}"


def summaries(conn: Connection) -> list[dict[str, Any]]:
    """Each programme's figures: fund, committed, remaining, and (issue 19) what has been
    paid of what is committed and what is being recovered of terminated awards."""
    from workflow.services.payments import figures  # payments reads programme files

    out = []
    for row in conn.execute(select(programmes).order_by(programmes.c.code)):
        committed = committed_pence(conn, row.code)
        money = figures(conn, row.code)
        out.append(
            {
                "code": row.code,
                "name": row.name,
                "kind": row.kind,
                "fund": money_json(row.fund_pence),
                "committed": money_json(committed),
                "remaining": money_json(row.fund_pence - committed),
                "sro": row.sro,
                "paid": money_json(money["paid_pence"]),
                "recovering": money_json(money["recovering_pence"]),
            }
        )
    return out
