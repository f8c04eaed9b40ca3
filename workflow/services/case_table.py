"""`casework case list`'s table, read from a SQLite file without SQLAlchemy.

`reads.list_cases` is every face's list of cases (JSON, the API's pages, a
list `--as` someone). The command line's table shows eight of its fields and
none of what a case allows, and importing SQLAlchemy alone would be more than
half of the command's time (bench/startup.py). So on a SQLite file the table's
fields are read here, through `storage.readonly.plain_read`, with
`list_cases`' own conditions written as SQL, and shaped as `reads.case_json`
shapes them (tests/workflow/test_case_table.py holds the two reads to the same
rows, filter by filter).

Whatever this read does not answer gives None, and the command then reads
through `list_cases` as every other face does, which answers or refuses in its
usual words: PostgreSQL, a URL that is not a plain file's, a missing file, a
database not at the current schema, any fault of the database, and an empty
list filtered by programme (whose code is then checked: a mistyped one is
refused, not answered with no cases).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from states import DEFINITIONS
from states.money import money_json
from workflow.errors import Malformed
from workflow.storage.readonly import plain_file, plain_read
from workflow.storage.schema import head_revisions

CASE_KINDS = ("bid", "area")
_KIND_LABELS = {"bid": "Bid", "area": "Network area"}

_COLUMNS = (
    "ref",
    "kind",
    "programme",
    "state",
    "title",
    "lead",
    "caseworker",
    "amount_pence",
    "contribution_pence",
)


def check_filters(kind: str | None, state: str | None) -> None:
    """Malformed for a kind or a state that names nothing: a typing mistake must not
    look like an empty list."""
    if kind is not None and kind not in CASE_KINDS:
        raise Malformed.unknown("kind", kind, CASE_KINDS, _KIND_LABELS.__getitem__)
    if state is not None:
        known: dict[str, None] = {}
        for k in (kind,) if kind else CASE_KINDS:
            known.update(dict.fromkeys(DEFINITIONS[k].states))
        if state not in known:
            raise Malformed.unknown(
                f"{kind or 'case'} state",
                state,
                list(known),
                DEFINITIONS[kind].state_label if kind else _state_label,
            )


def _state_label(code: str) -> str:
    """A state's label in the first definition of a case that has it."""
    return next(
        DEFINITIONS[k].state_label(code) for k in CASE_KINDS if code in DEFINITIONS[k].states
    )


def table_rows(
    url: str | None,
    *,
    state: str | None = None,
    kind: str | None = None,
    programme: str | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str]] | None:
    """The cases `list_cases` gives for these filters, each with the fields the table shows
    (as `case_json` gives them: `amount` for a bid, `contribution` for an area), and every
    organisation's name by its code, read in one transaction; None when the command must
    read through `list_cases` instead (see above). Malformed for a kind or state that
    names nothing, as `list_cases` refuses it."""
    check_filters(kind, state)
    path = plain_file(url)
    if path is None:
        return None
    # list_cases' conditions (a filter given as "" is no filter there either).
    conditions: list[tuple[str, str]] = []
    if state:
        conditions.append(("state = ?", state))
    if kind:
        conditions.append(("kind = ?", kind))
    if programme:
        conditions.append(("lower(programme) = ?", programme.lower()))
    where = " AND ".join(c for c, _ in conditions)
    query = (
        f"SELECT {', '.join(_COLUMNS)} FROM cases"
        + (f" WHERE {where}" if where else "")
        + " ORDER BY id"
    )
    try:
        with plain_read(path) as conn:
            if not _current(conn):
                return None
            found = conn.execute(query, [v for _, v in conditions]).fetchall()
            names = dict(conn.execute("SELECT code, name FROM organisations").fetchall())
    except sqlite3.Error:
        return None  # said in its own words (storage.dbfaults) by the usual read
    if not found and programme:
        return None  # the usual read says whether the programme exists (reads.refuse_unknown)
    return [_row(*values) for values in found], names


def _current(conn: sqlite3.Connection) -> bool:
    """Whether the file is at the current schema, as `storage.schema.is_current` judges."""
    known = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    if conn.execute(known).fetchone() is None:
        return False
    applied = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
    return applied == head_revisions()


def _row(
    ref: str,
    kind: str,
    programme: str,
    state: str,
    title: str | None,
    lead: str,
    caseworker: str | None,
    amount_pence: int | None,
    contribution_pence: int | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ref": ref,
        "kind": kind,
        "programme": programme,
        "state": state,
        "title": title,
        "lead": lead,
        "caseworker": caseworker,
    }
    if kind == "bid":  # as reads.case_json: a bid's amount, an area's contribution
        out["amount"] = money_json(amount_pence) if amount_pence is not None else None
    else:
        out["contribution"] = (
            money_json(contribution_pence) if contribution_pence is not None else None
        )
    return out
