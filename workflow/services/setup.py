"""Bringing an installation up to date: schema, bundled programmes, definition versions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from states import DEFINITIONS
from workflow.services import directory
from workflow.storage.db import check_intact, check_reachable
from workflow.errors import SetupError
from workflow.storage.tables import cases
from workflow.storage.schema import is_current, upgrade


def stranded_cases(engine: Engine) -> list[str]:
    """Cases in a state their kind's current definition no longer has."""
    out: list[str] = []
    with engine.connect() as conn:
        for kind, definition in DEFINITIONS.items():
            if kind in ("checkpoint", "payment"):  # not cases: rows of a case
                continue
            rows = conn.execute(
                select(cases.c.ref, cases.c.state, cases.c.definition_version).where(
                    cases.c.kind == kind, cases.c.state.not_in(definition.states)
                )
            )
            out += [
                f"{r.ref} ({r.state}, opened under {kind} definition "
                f"v{r.definition_version}; now v{definition.version})"
                for r in rows
            ]
    return out


def check_definitions(engine: Engine) -> None:
    stranded = stranded_cases(engine)
    if stranded:
        raise SetupError(
            "The state definitions no longer fit these cases, so nothing was "
            "loaded; move or migrate them first: " + "; ".join(stranded)
        )


def check_people(engine: Engine) -> None:
    """No person may hold the sweep's name: history could not tell them apart."""
    with engine.connect() as conn:
        named = directory.reserved_people(conn)
    if named:
        raise SetupError(
            "init did not finish: "
            + ", ".join(f"'{n}'" for n in named)
            + " is the sweep's name (system), so history could not tell that person "
            "from the sweep; rename them (a new `user add` under another name) "
            "and remove the old row, then run init again."
        )


def init(engine: Engine) -> dict[str, Any]:
    """Create or upgrade the schema and load the bundled programmes; safe to run twice."""
    check_reachable(engine)
    check_intact(engine)
    upgrade(engine)
    check_definitions(engine)
    check_people(engine)
    # Here, not at the top: `ready`, which every command runs, needs no programme file.
    from workflow.services import programme_files as programme_store

    with engine.begin() as conn:
        loaded = [
            programme_store.load_bundled(conn, name, text)
            for name, text in programme_store.bundled_sources()
        ]
    return {"programmes": loaded}


def ready(engine: Engine) -> None:
    """Refuse to work on a database that `casework init` has not brought up to date."""
    check_reachable(engine)
    if not is_current(engine):
        raise SetupError("This database is not at the current schema: run `casework init` first.")
