"""The migrations are one history with one head, and a database from before the join upgrades in place.

tests/data/demo-six-heads.sqlite.gz is a database made on 2026-12-06 by the
code as it was before revision 0010 joined the six branches (commit e0470d5):
`casework demo --size small`, then an API token, a web password, one API
hand-over sent with an Idempotency-Key and one failed sign-in, so that every
table holds rows. Its `alembic_version` holds the six heads of that day.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from workflow.storage.db import make_engine
from workflow.storage.schema import alembic_config, head_revisions, is_current
from workflow.services.setup import init

ROOT = Path(__file__).resolve().parents[2]
BEFORE_THE_JOIN = ROOT / "tests" / "data" / "demo-six-heads.sqlite.gz"
SIX_HEADS = {"0002", "0005", "0006", "0007", "0008", "0009"}
CASEWORK = str(Path(sys.executable).with_name("casework"))
ALEMBIC = str(Path(sys.executable).with_name("alembic"))


def rows_of_every_table(path: Path) -> dict[str, list[dict]]:
    """Every row of every table but alembic_version, read with plain sqlite3."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        names = [
            n
            for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "AND name != 'alembic_version' ORDER BY name"
            )
        ]
        return {
            n: [dict(r) for r in conn.execute(f'SELECT * FROM "{n}" ORDER BY rowid')] for n in names
        }
    finally:
        conn.close()


def as_before(after: dict[str, list[dict]], before: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """`after` with only the columns `before` had: later revisions add columns (2301 the
    outbox's Notify ids), and every row must keep what it held."""
    return {
        table: [
            {k: row[k] for k in (before[table][0] if before.get(table) else row)} for row in rows
        ]
        for table, rows in after.items()
    }


def numbering(programmes: list[dict]) -> list[tuple]:
    """Which programmes there are and the last case number each gave.

    init loads the bundled programme files again (their rules and loaded_at
    are the files' of now), but a programme's cases go on being numbered
    from where they were.
    """
    return sorted((p["code"], p["last_number"]) for p in programmes)


def versions_of(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {v for (v,) in conn.execute("SELECT version_num FROM alembic_version")}
    finally:
        conn.close()


@pytest.fixture
def demo_before_the_join(tmp_path) -> Path:
    path = tmp_path / "casework.db"
    with gzip.open(BEFORE_THE_JOIN) as packed, path.open("wb") as out:
        shutil.copyfileobj(packed, out)
    return path


def test_the_migrations_are_one_history_with_one_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()

    assert len(heads) == 1, (
        f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}): a new revision's "
        f"down_revision is the newest revision, not 0001"
    )
    assert head_revisions() == set(heads)


def test_the_fixture_is_a_database_of_six_heads_with_rows_in_every_table(demo_before_the_join):
    assert versions_of(demo_before_the_join) == SIX_HEADS
    assert all(rows_of_every_table(demo_before_the_join).values())


def test_alembic_upgrade_head_from_the_repository_root_keeps_every_row(demo_before_the_join):
    before = rows_of_every_table(demo_before_the_join)
    env = {**os.environ, "CASEWORK_DB": f"sqlite:///{demo_before_the_join}"}

    ran = subprocess.run(
        [ALEMBIC, "upgrade", "head"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert ran.returncode == 0, ran.stderr
    assert versions_of(demo_before_the_join) == head_revisions()
    assert kept(as_before(rows_of_every_table(demo_before_the_join), before), before) == before
    verified = subprocess.run(
        [CASEWORK, "audit", "verify"], env=env, capture_output=True, text=True, timeout=120
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.strip() == "13 cases, 256 rows checked, 0 broken"


def test_alembic_takes_the_database_from_its_x_argument(demo_before_the_join, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CASEWORK_DB"}

    ran = subprocess.run(
        [ALEMBIC, "-x", f"db=sqlite:///{demo_before_the_join}", "current"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert ran.returncode == 0, ran.stderr
    assert set(ran.stdout.split()) >= SIX_HEADS


def test_casework_init_upgrades_a_database_of_six_heads_to_the_one_head(demo_before_the_join):
    before = rows_of_every_table(demo_before_the_join)
    engine = make_engine(f"sqlite:///{demo_before_the_join}")
    assert not is_current(engine)

    result = init(engine)
    engine.dispose()

    assert not any(p["new"] for p in result["programmes"])
    assert versions_of(demo_before_the_join) == head_revisions()
    after = as_before(rows_of_every_table(demo_before_the_join), before)
    assert numbering(after.pop("programmes")) == numbering(before.pop("programmes"))
    # Loading the bundled files again changed their rules: each is a row of the admin log.
    assert {r["action"] for r in after.pop("admin_log")} == {"programme_load"}
    after["meta"] = [r for r in after["meta"] if r["key"] != "admin_log"]
    assert kept(after, before) == before


def test_a_database_of_six_heads_is_refused_until_it_is_upgraded(demo_before_the_join):
    env = {**os.environ, "CASEWORK_DB": f"sqlite:///{demo_before_the_join}"}

    ran = subprocess.run(
        [CASEWORK, "case", "list"], env=env, capture_output=True, text=True, timeout=120
    )

    assert ran.returncode == 1
    assert "casework init" in ran.stderr


def kept(after: dict, before: dict) -> dict:
    """The tables there were before, as they are after (later revisions add empty ones,
    but for 2101's application versions: each case's document as its version 1)."""
    if "application_versions" not in before and "cases" in after:

        def js(value):  # plain sqlite3 reads JSON columns as their text
            return json.loads(value) if isinstance(value, str) else value

        versions = after.pop("application_versions", [])
        assert sorted((v["case_id"], v["version"], js(v["changed"])) for v in versions) == sorted(
            (c["id"], 1, []) for c in after["cases"]
        )
        documents = {c["id"]: js(c["application"]) for c in after["cases"]}
        assert all(js(v["document"]) == documents[v["case_id"]] for v in versions)
    assert not any(rows for name, rows in after.items() if name not in before)
    return {name: after[name] for name in before}


def every_row(engine) -> dict[str, list[dict]]:
    """Every row of every table but alembic_version, read through the reflected schema."""
    from sqlalchemy import MetaData, select

    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as conn:
        return {
            name: sorted(
                (dict(r._mapping) for r in conn.execute(select(t))),
                key=lambda r: repr(sorted(r.items(), key=repr)),
            )
            for name, t in tables.tables.items()
            if name != "alembic_version"
        }


@pytest.mark.postgres
def test_a_postgresql_database_at_the_six_heads_upgrades_in_place(pg_db):
    from alembic import command

    from tests.workflow.awarding import offer, recommended
    from tests.builders import World
    from workflow.storage.schema import current_revisions

    world = World(pg_db).cast()
    offer(world, recommended(world))
    with pg_db.begin() as conn:  # the schema of before the join, built by its own migrations
        command.downgrade(alembic_config(conn), "0009")
    assert current_revisions(pg_db) == SIX_HEADS
    before = every_row(pg_db)

    init(pg_db)

    assert current_revisions(pg_db) == head_revisions()
    after = as_before(every_row(pg_db), before)
    del before["programmes"], after["programmes"]  # init loads them again: loaded_at is now
    assert kept(after, before) == before
