"""A whole demo year logged for a log shipper: one JSON object a line, and no personal data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from workflow.storage.db import make_engine, reading
from workflow.storage.tables import cases, history, organisations, people

pytestmark = pytest.mark.slow

CASEWORK = str(Path(sys.executable).with_name("casework"))


def test_a_demo_run_logs_one_json_object_a_line_with_references_and_names_only(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    env.update(CASEWORK_LOG_FORMAT="json", CASEWORK_LOG_LEVEL="INFO")

    done = subprocess.run(
        [CASEWORK, "demo", "--out", str(tmp_path / "demo"), "--size", "small", "--seed", "7"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stderr.splitlines()
    records = [json.loads(line) for line in lines]  # every line parses on its own
    assert all(isinstance(r, dict) for r in records)
    events = Counter(r["event"] for r in records)
    assert events["case.moved"] > 20 and events["ladder.step"] > 20
    assert events["sweep.done"] > 0 and events["delivery.done"] > 0
    # Not only state changes: scores, returns and their decisions are events an operator can find.
    assert events["bid.declared"] > 0 and events["bid.scored"] > 0
    assert events["return.submitted"] > 0 and events["return.decided"] > 0
    for r in records:
        assert {"time", "level", "event", "message"} <= set(r)
    moved = [r for r in records if r["event"] == "case.moved"]
    assert all(r["case"] and r["person"] and r["duration_ms"] >= 0 for r in moved)
    engine = make_engine(f"sqlite:///{tmp_path / 'demo' / 'casework.db'}")
    try:
        with reading(engine) as conn:
            addresses = set(conn.execute(select(people.c.email)).scalars()) | set(
                conn.execute(select(organisations.c.email)).scalars()
            )
            n_cases = conn.execute(select(func.count()).select_from(cases)).scalar()
            by_people = conn.execute(
                select(cases.c.ref, history.c.actor, history.c.trigger, history.c.payload)
                .join(cases, cases.c.id == history.c.case_id)
                .where(history.c.role != "system")
            ).all()
    finally:
        engine.dispose()
    # Each thing a person did is a line an operator can find by the case and the person:
    # opening a case, recording a check or a contribution as much as a move.
    assert events["case.opened"] == n_cases
    assert events["diligence.recorded"] == sum(
        1 for r in by_people if r.trigger == "diligence" and not r.payload.get("automatic")
    )
    assert events["contribution.recorded"] == sum(
        1 for r in by_people if r.trigger == "record_contribution"
    )
    assert events["admin.changed"] > 0  # the demo's people added, its programmes loaded
    found = {((r.get("case") or "").split("/")[0], r.get("person")) for r in records}
    unlogged = {(r.ref, r.actor, r.trigger) for r in by_people if (r.ref, r.actor) not in found}
    assert not unlogged, sorted(unlogged)[:10]
    addresses.discard(None)
    assert addresses and not any(a in done.stderr for a in addresses)
