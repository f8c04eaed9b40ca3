"""Every command's --help names what each option takes, in words a caseworker reads."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from workflow.cli import app, every_command

ROOT = every_command()


def _paths(command, prefix=()):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from _paths(sub, (*prefix, name))


COMMANDS = [p for p in _paths(ROOT)]


def _group(path):
    command = ROOT
    for name in path:
        command = command.commands[name]
    return command


def _section(help_text: str, title: str) -> list[str]:
    lines = (
        help_text.split(f"{title}:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        if f"{title}:\n" in help_text
        else []
    )
    return [
        line
        for line in lines
        if line.startswith("  -") or line.startswith("  ") and not line.startswith("   ")
    ]


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "casework")
def test_help_names_what_each_option_takes(path):
    shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)

    assert shown.exit_code == 0, shown.output
    for line in _section(shown.output, "Options"):
        # `--as NAME`, not typer's bare type label `--as <str>`
        assert not re.match(r"\s+--[\w-]+ <\w+>", line), line
    for line in _section(shown.output, "Arguments"):
        name = line.split()[0]
        assert name.isupper() or "|" in name, f"{' '.join(path)}: argument {name} has no metavar"


GROUPS = [p for p in COMMANDS if hasattr(_group(p), "commands")]


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "casework")
def test_a_list_of_commands_says_what_each_does_without_being_cut_off(path):
    # 80 columns: a terminal's default, and what a pipe gets
    shown = CliRunner().invoke(app, [*path, "--help"], terminal_width=80)

    commands = _section(shown.output, "Commands")
    assert commands, shown.output
    for line in commands:
        assert not line.rstrip().endswith("..."), f"{' '.join(path) or 'casework'}: {line.strip()}"
