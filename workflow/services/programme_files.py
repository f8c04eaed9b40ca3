"""Programmes: loaded from their files, kept with the text they came from."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import Connection, bindparam, select

from states.errors import ProgrammeFileError
from states.money import money_json
from states.programme import ProgrammeSpec, parse_programme
from workflow import clock
from workflow.services import awards
from workflow.errors import Malformed, ProgrammeNotFound
from workflow.storage.tables import programmes
from workflow.storage.prepared import Prepared


def bundled_sources() -> list[tuple[str, str]]:
    """(file name, TOML text) of each programme file shipped in states/programmes/."""
    folder = resources.files("states") / "programmes"
    return sorted((p.name, p.read_text(encoding="utf-8"))
                  for p in folder.iterdir() if p.name.endswith(".toml"))


@lru_cache(maxsize=64)
def _parsed(source: str) -> ProgrammeSpec:
    return parse_programme(source)


def parse(text: str, source: str = "") -> ProgrammeSpec:
    try:
        return parse_programme(text, source)
    except ProgrammeFileError as err:
        raise Malformed(f"Programme file {source or ''}".strip(), err.problems) from None


def load(conn: Connection, text: str, source: str = "") -> tuple[ProgrammeSpec, bool]:
    """Add a programme (or replace its rules); returns (spec, was_new)."""
    spec = parse(text, source)
    existing = conn.execute(select(programmes.c.code).where(programmes.c.code == spec.code)).first()
    values = dict(name=spec.name, kind=spec.kind, fund_pence=spec.fund_pence, source=text,
                  loaded_at=clock.now())
    if existing:
        conn.execute(programmes.update().where(programmes.c.code == spec.code).values(**values))
        return spec, False
    conn.execute(programmes.insert().values(code=spec.code, last_number=0, **values))
    return spec, True


_SOURCE = Prepared(select(programmes.c.source).where(programmes.c.code == bindparam("code")))


def spec_for(conn: Connection, code: str) -> ProgrammeSpec:
    """The programme as its file is now; every move reads it, so the parse is cached by text."""
    row = _SOURCE.first(conn, {"code": code})
    if row is None:
        raise ProgrammeNotFound(code)
    return _parsed(row.source)


def find_spec(conn: Connection, code: Any) -> ProgrammeSpec | None:
    if not isinstance(code, str):
        return None
    row = conn.execute(select(programmes.c.source).where(programmes.c.code == code)).first()
    return _parsed(row.source) if row else None


def committed_pence(conn: Connection, code: str, *, leave_out_case: int | None = None,
                    category: str | None = None) -> int:
    """Reserved minus released in the programme's fund ledger (or in one category of it).

    The whole programme's total is the latest ledger row's running balance, so
    an offer's guard reads it in constant time however long the ledger is; a
    category's total (not on any move's path) is added up row by row.
    """
    if category is not None:
        return awards.held_pence(conn, programme=code, leave_out_case=leave_out_case,
                                 category=category)
    return awards.committed(conn, code, leave_out_case=leave_out_case)


def next_reference(conn: Connection, code: str) -> str:
    row = conn.execute(programmes.update().where(programmes.c.code == code)
                       .values(last_number=programmes.c.last_number + 1)
                       .returning(programmes.c.last_number)).first()
    if row is None:
        raise ProgrammeNotFound(code)
    return f"{code.upper()}-{row.last_number:04d}"


def summaries(conn: Connection) -> list[dict[str, Any]]:
    out = []
    for row in conn.execute(select(programmes).order_by(programmes.c.code)):
        committed = committed_pence(conn, row.code)
        out.append({"code": row.code, "name": row.name, "kind": row.kind,
                    "fund": money_json(row.fund_pence), "committed": money_json(committed),
                    "remaining": money_json(row.fund_pence - committed)})
    return out
