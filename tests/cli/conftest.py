"""Running the real `casework` console script in a subprocess against a real database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

CASEWORK = str(Path(sys.executable).with_name("casework"))


@dataclass
class Ran:
    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


class Cli:
    def __init__(self, url: str, tmp: Path):
        self.url, self.tmp = url, tmp

    def __call__(self, *args: str, stdin: str | None = None, env: dict | None = None) -> Ran:
        full_env = {
            **os.environ,
            "CASEWORK_DB": self.url,
            "CASEWORK_MAIL": f"file:{self.tmp / 'mail'}",
            **(env or {}),
        }
        p = subprocess.run(
            [CASEWORK, *args],
            capture_output=True,
            text=True,
            input=stdin,
            env=full_env,
            timeout=120,
        )
        return Ran(p.returncode, p.stdout, p.stderr)

    def ok(self, *args: str, **kw) -> Ran:
        ran = self(*args, **kw)
        assert ran.code == 0, f"casework {' '.join(args)} exited {ran.code}: {ran.err}"
        return ran

    def write(self, name: str, content: str) -> str:
        path = self.tmp / name
        path.write_text(content, encoding="utf-8")
        return str(path)


@pytest.fixture
def cli(sqlite_template, tmp_path) -> Cli:
    path = tmp_path / "casework.db"
    shutil.copy(sqlite_template, path)
    return Cli(f"sqlite:///{path}", tmp_path)


def _monitored(engine) -> None:
    from datetime import datetime, timezone

    from tests.builders import World
    from tests.workflow.monitoring_world import bid_in_monitoring

    world = World(engine)
    world.cast()
    bid_in_monitoring(world, datetime(2013, 10, 1, 10, tzinfo=timezone.utc))


@pytest.fixture
def monitored(cli, built_once) -> Cli:
    """A bid in monitoring on the command line's database; its Q1 opens on 19 December 2013.

    Built once a run through the services; each test's database is a copy of it."""
    shutil.copy(built_once.path("cli-monitored", _monitored), cli.tmp / "casework.db")
    return cli
