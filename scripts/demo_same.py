"""Do two trees of casework play the same demo year? A check for changes meant to change nothing.

    python scripts/demo_same.py OLD NEW [--seed 2013] [--size small] [--keep DIR]

OLD and NEW are each a git revision of this repository (its files written out
by `git archive`) or a directory holding a tree. Each plays `casework demo`
with the same seed and size, run by this interpreter with the tree first on
its path, into a folder of its own; then every table of the two demo
databases is compared row for row, by every column (history: ids, sequences,
payloads as stored, hashes; outbox: addresses, subjects, both bodies, Notify's
values; cases, agreements with their PDFs, payments, ledger...), but for
password hashes (salted at random, so different at every play). It prints
each table's row count and the first differing row of any table that differs,
and exits 1 if any does. The demo's clock is simulated, so a table that
differs differs because the trees do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Columns that differ between two plays of one tree, by design: salted with random bytes.
SALTED = {("people", "password_hash")}


def _tree(spec: str, scratch: Path, name: str) -> Path:
    """A directory holding the tree `spec` names (a directory, or a revision checked out)."""
    if Path(spec).is_dir():
        return Path(spec).resolve()
    where = scratch / f"tree-{name}"
    where.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", spec], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)
    return where


def _play(tree: Path, out: Path, seed: int, size: str) -> Path:
    """Play the demo with `tree`'s code; the demo database it made."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    code = "import sys; from workflow.cli import main; sys.exit(main())"
    args = ["demo", "--out", str(out), "--seed", str(seed), "--size", size]
    subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=tree,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return out / "casework.db"


def _tables(db: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " ORDER BY name"
        )
    ]


def _rows(db: sqlite3.Connection, table: str) -> tuple[list[str], list[tuple[object, ...]]]:
    cursor = db.execute(f'SELECT * FROM "{table}"')
    columns = [d[0] for d in cursor.description if (table, d[0]) not in SALTED]
    listed = ", ".join(f'"{c}"' for c in columns)  # ordered by every column: a total order
    rows = db.execute(f'SELECT {listed} FROM "{table}" ORDER BY {listed}').fetchall()
    return columns, rows


def compare(old_db: Path, new_db: Path) -> bool:
    """Print each table's rows compared; whether every table is the same."""
    old, new = sqlite3.connect(old_db), sqlite3.connect(new_db)
    same = True
    tables = _tables(old)
    if tables != _tables(new):
        print(f"tables differ: {tables} / {_tables(new)}")
        same = False
    for table in tables:
        if table not in _tables(new):
            continue
        (old_cols, old_rows), (new_cols, new_rows) = _rows(old, table), _rows(new, table)
        if old_cols == new_cols and old_rows == new_rows:
            print(f"  same       {table}: {len(old_rows)} rows")
            continue
        same = False
        print(f"  DIFFERENT  {table}: {len(old_rows)} rows / {len(new_rows)} rows")
        if old_cols != new_cols:
            print(f"    columns {old_cols} / {new_cols}")
            continue
        for a, b in zip(old_rows, new_rows):
            if a != b:
                for column, x, y in zip(old_cols, a, b):
                    if x != y:
                        print(f"    first difference, column {column}: {x!r:.200} / {y!r:.200}")
                break
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--seed", type=int, default=2013)
    parser.add_argument("--size", default="small", choices=("small", "full"))
    parser.add_argument("--keep", type=Path, help="play into this folder and keep it")
    args = parser.parse_args()
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="demo-same-"))
    scratch.mkdir(parents=True, exist_ok=True)
    dbs = []
    for name, spec in (("old", args.old), ("new", args.new)):
        tree = _tree(spec, scratch, name)
        print(f"{name}: {spec} ({tree}), seed {args.seed}, size {args.size}", flush=True)
        dbs.append(_play(tree, scratch / f"demo-{name}", args.seed, args.size))
    same = compare(*dbs)
    if args.keep is None:
        shutil.rmtree(scratch)
    print("the same, table for table" if same else "NOT the same")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
