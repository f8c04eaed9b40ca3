"""Bringing a database to the current schema with the migrations shipped in the package.

Every command checks that its database is current before it runs. That check
reads the `alembic_version` table and the migration files' own `revision` and
`down_revision` lines, without importing Alembic: importing it (and its
script directory, which imports every migration) cost each command about a
tenth of a second. tests/workflow/test_setup.py holds the two readings to
Alembic's own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy is imported when a database is asked: `case list`'s plain
    from sqlalchemy import Engine  # read checks its file with `head_revisions` alone

MIGRATIONS = Path(__file__).parent / "migrations"
# `revision = "0010"`, `down_revision = "0009"`, `down_revision = ("0002", "0005")` or None
# (a merge names several; a type annotation may stand before the `=`).
_LINK = re.compile(r"""^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(\([^)]*\)|[^\n]*)""", re.M)
_NAME = re.compile(r"""["']([\w-]+)["']""")


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, target: str = "head") -> None:
    """Apply every migration not yet applied; safe to run twice."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), target)


def current_revisions(engine: Engine) -> set[str]:
    """The revisions the database records as applied (none for an empty database)."""
    from sqlalchemy import inspect, text

    from workflow.storage.db import reading

    with reading(engine) as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def head_revisions() -> set[str]:
    """The revisions no other migration follows (since 0010 joined the branches, one)."""
    revisions: set[str] = set()
    followed: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        links = dict(_LINK.findall(path.read_text(encoding="utf-8")))
        if "revision" in links:
            revisions.update(_NAME.findall(links["revision"]))
            followed.update(_NAME.findall(links.get("down_revision", "")))
    return revisions - followed


def is_current(engine: Engine) -> bool:
    return current_revisions(engine) == head_revisions()
