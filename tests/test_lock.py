"""requirements.lock pins everything pyproject.toml asks for, at versions it allows.

scripts/test.sh and the README's demo command install with `-c requirements.lock`,
so a package pyproject.toml names but the lock leaves out would be installed at
whatever version is newest that day. After changing the dependencies, run
`bash scripts/lock.sh` and commit both files.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;]+)", re.M)


def pins() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, version in _PIN.findall((ROOT / "requirements.lock").read_text(encoding="utf-8")):
        found.setdefault(canonicalize_name(name), []).append(version)
    return found


def asked_for() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        wanted += extra
    return [Requirement(text) for text in wanted]


def test_every_dependency_is_pinned_in_the_lock_at_a_version_pyproject_allows():
    pinned = pins()

    missing = [str(r) for r in asked_for() if canonicalize_name(r.name) not in pinned]
    outside = [
        f"{r} (locked {', '.join(pinned[canonicalize_name(r.name)])})"
        for r in asked_for()
        if canonicalize_name(r.name) in pinned
        and not any(
            r.specifier.contains(v, prereleases=True) for v in pinned[canonicalize_name(r.name)]
        )
    ]

    assert not missing and not outside, (
        f"requirements.lock is behind pyproject.toml (run `bash scripts/lock.sh`): "
        f"not pinned: {missing}; pinned outside what pyproject allows: {outside}"
    )
