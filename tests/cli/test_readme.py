"""The README's walkthrough, run as a newcomer would run it: every line, in order.

The commands are read from README.md itself, so the README cannot drift from
what casework does: a renamed option, an example document that no longer
opens, a reference or a message that changed all fail here.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from states.documents import load_document, parse_return
from states.programme import parse_programme
from tests.cli.conftest import CASEWORK
from workflow.services import passwords
from workflow.services.programme_files import bundled_sources
from workflow.storage.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)


def commands(block: str) -> list[tuple[list[str], str]]:
    """Each command line (continuations joined) with the comment that follows it."""
    out = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        comment = line.split("#", 1)[1].strip() if "#" in line else ""
        if words:
            out.append((words, comment))
    return out


class Newcomer:
    """A shell in a fresh folder that holds the repository's examples/, as the README assumes."""

    def __init__(self, folder: Path):
        self.folder = folder
        shutil.copytree(ROOT / "examples", folder / "examples")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
        self.env["CASEWORK_MAIL"] = f"file:{folder / 'mail'}"

    def run(self, words: list[str], typed: str | None = None) -> subprocess.CompletedProcess:
        assert words[0] == "casework", (
            f"the README asks for a command this test cannot run: {words}"
        )
        return subprocess.run(
            [CASEWORK, *words[1:]],
            cwd=self.folder,
            env=self.env,
            input=typed,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def newcomer(tmp_path) -> Newcomer:
    return Newcomer(tmp_path)


def test_the_walkthrough_runs_line_by_line_prints_what_it_says_and_refuses_as_shown(newcomer):
    walkthrough = commands(blocks(section("Using it"))[0])
    assert len(walkthrough) >= 10
    ran = []
    for words, comment in walkthrough:
        if words[0] in ("source", "."):
            continue  # the test already runs the venv's casework
        if words[0] == "export":
            name, value = words[1].split("=", 1)
            newcomer.env[name] = value
            continue
        if words[:2] == ["casework", "serve"]:
            continue  # runs until stopped; tests/web cover it
        # A password is typed at a terminal; from a pipe it is one line of stdin.
        typed = "correct horse battery staple\n" if words[1:3] == ["user", "passwd"] else None
        done = newcomer.run(words, typed)
        assert done.returncode == 0, f"{shlex.join(words)} exited {done.returncode}: {done.stderr}"
        if comment.startswith("prints "):
            assert done.stdout.strip() == comment.removeprefix("prints "), shlex.join(words)
        ran.append((words, done))

    shown = next(done for words, done in ran if words[1:3] == ["case", "show"])
    assert json.loads(shown.stdout)["allowed_triggers"] == [
        "check",
        "declare_ineligible",
        "withdraw",
    ]
    verified = next(done for words, done in ran if words[1:3] == ["audit", "verify"])
    # DESIGN section 6's form: opened, submitted, three automatic checks, the fraud risk rated
    assert verified.stdout.strip() == "1 cases, 6 rows checked, 0 broken"
    assert (newcomer.folder / "casework.db").exists()  # where CASEWORK_DB said
    # Before `serve`, the walkthrough gives carol the password she signs in with.
    assert any(words[1:] == ["user", "passwd", "carol"] for words, _done in ran)
    engine = make_engine(f"sqlite:///{newcomer.folder / 'casework.db'}")
    try:
        assert passwords.check_password(engine, "carol", "correct horse battery staple")
    finally:
        engine.dispose()

    # Then the refusal the README shows next: word for word, exit 1, nothing written.
    prompt, answer = blocks(section("Using it"))[1].strip().splitlines()
    history = newcomer.run(["casework", "case", "history", "TCA-2013-0001", "--json"]).stdout
    refused = newcomer.run(shlex.split(prompt.removeprefix("$ ")))
    assert refused.returncode == 1
    assert refused.stderr.strip() == answer
    assert (
        newcomer.run(["casework", "case", "history", "TCA-2013-0001", "--json"]).stdout == history
    )


def test_every_example_document_opens(newcomer):
    newcomer.env["CASEWORK_DB"] = f"sqlite:///{newcomer.folder / 'casework.db'}"
    setup = [
        ["init"],
        ["org", "add", "E07000026", "--name", "Allerdale", "--email", "a@allerdale.gov.uk"],
        ["org", "add", "E07000028", "--name", "Carlisle", "--email", "c@carlisle.gov.uk"],
        ["org", "add", "E07000029", "--name", "Copeland", "--email", "c@copeland.gov.uk"],
        ["org", "add", "E08000003", "--name", "Manchester", "--email", "m@manchester.gov.uk"],
        ["user", "add", "alex", "--role", "council", "--org", "E07000026"],
        ["user", "add", "mo", "--role", "council", "--org", "E08000003"],
    ]
    for words in setup:
        assert newcomer.run(["casework", *words]).returncode == 0

    bid = newcomer.run(
        [
            "casework",
            "case",
            "open",
            "bid",
            "--from-file",
            "examples/bid.toml",
            "--as",
            "alex",
            "--json",
        ]
    )
    area = newcomer.run(
        [
            "casework",
            "case",
            "open",
            "area",
            "--from-file",
            "examples/area.toml",
            "--as",
            "mo",
            "--json",
        ]
    )
    submitted = newcomer.run(
        ["casework", "case", "advance", "TCA-2013-0001", "submit", "--as", "alex"]
    )

    assert bid.returncode == 0, bid.stderr
    assert json.loads(bid.stdout)["amount"] == "250000.00"
    assert area.returncode == 0, area.stderr
    assert [p["name"] for p in json.loads(area.stdout)["application"]["partners"]] == [
        "Greater Manchester Police",
        "Jobcentre Plus, North West",
    ]
    assert json.loads(area.stdout)["application"]["contribution"] == "50000.00"
    assert submitted.returncode == 0, submitted.stderr  # the category's rules are met


@pytest.mark.parametrize("programme", ["tca-2013.toml", "pstn-2013.toml"])
def test_the_example_return_is_a_return_of_either_bundled_programme(programme):
    spec = parse_programme(dict(bundled_sources())[programme])
    text = (ROOT / "examples" / "return.toml").read_text(encoding="utf-8")

    figures = parse_return(load_document(text, ".toml"), programme=spec)

    assert figures["spend_to_date"] == 4_200_000  # pence
    assert figures["savings_to_date"] == 1_550_050
    assert set(figures) == {"spend_to_date", "savings_to_date", "progress", "risks"}
