"""The code passes the project's linters, as scripts/test.sh (and so CI) runs them.

`ruff check` with the rules in pyproject.toml ([tool.ruff.lint]), `ruff format
--check` (the code is laid out by ruff's formatter, at 100 columns), and mypy in
strict mode on the packages [tool.mypy] names. Run them yourself before
landing: `.venv/bin/ruff format . && .venv/bin/ruff check . && .venv/bin/mypy`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / tool), *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_ruff_finds_nothing_to_fix():
    ran = run("ruff", "check", "--output-format", "concise", ".")

    assert ran.returncode == 0, ran.stdout + ran.stderr


def test_ruff_format_would_change_nothing():
    ran = run("ruff", "format", "--check", ".")

    assert ran.returncode == 0, (
        ran.stdout + ran.stderr + "\nLay the code out with `.venv/bin/ruff format .`"
    )


def test_mypy_strict_finds_no_type_error():
    ran = run("mypy")

    assert ran.returncode == 0, ran.stdout + ran.stderr
