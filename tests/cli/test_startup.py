"""The command line starts without what it does not use (bench/startup.py times it).

Each check runs a real subprocess and reads its sys.modules at exit: a
command that only reads cases must not pay for the ORM, the email templates,
the mail transports, the web server or the metrics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from workflow.cli import COMMANDS, every_command, summary

# What the issue names, and what only the web app, `serve` and the demo use.
NEVER_ON_START = (
    "sqlalchemy.orm",
    "sqlmodel",
    "jinja2",
    "aiosmtplib",
    "uvicorn",
    "prometheus_client",
    "fastapi",
    "starlette",
    "alembic",
)

# Runs `casework ARGS...` in this process, then prints which modules it imported.
_RUN = """
import atexit, json, sys
atexit.register(lambda: print("\\n" + json.dumps(sorted(sys.modules))))
sys.argv = ["casework", *sys.argv[1:]]
from workflow.cli import main
main()
"""


def modules_after(*args: str, env: dict | None = None) -> set[str]:
    ran = subprocess.run(
        [sys.executable, "-c", _RUN, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr
    return set(json.loads(ran.stdout.rstrip().rsplit("\n", 1)[-1]))


def test_importing_the_command_line_imports_no_database_template_or_mail_library():
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, json, workflow.cli; print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    imported = set(json.loads(ran.stdout))

    assert not {*NEVER_ON_START, "sqlalchemy", "rich"} & imported


def test_the_services_that_change_a_case_load_no_pdf_or_template_library():
    # Nearly every command imports lifecycle: the agreement's PDF library (fpdf2, which
    # brings in cryptography) and Jinja2 wait for the first agreement or email.
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, json; "
            "import workflow.services.lifecycle, workflow.services.assessment; "
            "print(json.dumps(sorted(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    imported = set(json.loads(ran.stdout))

    assert not {"fpdf", "cryptography", "jinja2", "sqlalchemy.orm"} & imported


def test_help_lists_every_command_without_importing_one():
    imported = modules_after("--help")

    assert not {f"workflow.cli.{entry.module}" for entry in COMMANDS.values()} & imported
    assert not {*NEVER_ON_START, "sqlalchemy", "rich"} & imported


def test_listing_cases_imports_neither_the_orm_nor_the_mail_templates(cli):
    imported = modules_after("case", "list", env={"CASEWORK_DB": cli.url})

    assert "workflow.cli.case" in imported
    assert not {*NEVER_ON_START, "rich"} & imported
    assert not {f"workflow.cli.{e.module}" for n, e in COMMANDS.items() if n != "case"} & imported


# What `case list`'s table on a SQLite file needs none of (services.case_table reads it with
# sqlite3): SQLAlchemy (and the asyncio, ssl and importlib.metadata it imports), its tables,
# the service every face lists through, and the state machines (a table shows no triggers).
NOT_FOR_THE_TABLE = (
    "sqlalchemy",
    "asyncio",
    "ssl",
    "importlib.metadata",
    "psycopg",
    "transitions",
    "states.machine",
    "workflow.storage.tables",
    "workflow.storage.db",
    "workflow.services.reads",
    "workflow.services.directory",
    "workflow.services.engine",
)


@pytest.mark.parametrize("filters", [(), ("--state", "in_monitoring", "--programme", "TCA-2013")])
def test_listing_cases_as_a_table_on_sqlite_imports_no_sqlalchemy_nor_state_machine(
    monitored, filters
):
    listed = monitored.ok("case", "list", *filters).out

    imported = modules_after("case", "list", *filters, env={"CASEWORK_DB": monitored.url})

    assert "In monitoring" in listed
    assert not {*NOT_FOR_THE_TABLE, *NEVER_ON_START, "rich"} & imported


def test_an_empty_table_of_cases_imports_no_sqlalchemy_either(cli):
    assert cli.ok("case", "list").out == "(none)\n"

    imported = modules_after("case", "list", env={"CASEWORK_DB": cli.url})

    assert not {*NOT_FOR_THE_TABLE, *NEVER_ON_START, "rich"} & imported


# What reading a case needs none of: the services that change one (and what they bring in:
# the agreement's PDF and the cryptography under it, bank holidays, the metrics), the admin
# log and the chain writer, the guards' facts, the programme files' parser.
NOT_FOR_READING = (
    "workflow.services.lifecycle",
    "workflow.services.payments",
    "workflow.services.agreements",
    "workflow.services.agreement_pdf",
    "workflow.services.variations",
    "workflow.services.reviews",
    "workflow.services.diligence",
    "workflow.services.controls",
    "workflow.services.seals",
    "workflow.services.messages",
    "workflow.services.effects",
    "workflow.services.facts",
    "workflow.runtime.metrics",
    "fpdf",
    "cryptography",
    "holidays",
    "pydantic",
)
NOT_FOR_LISTING = (
    "workflow.services.admin_log",
    "workflow.services.chain",
    "states.facts",
    "workflow.services.programme_files",
    "states.programme",
    "tomllib",
)


def test_listing_cases_imports_no_service_that_changes_a_case(cli):
    imported = modules_after("case", "list", env={"CASEWORK_DB": cli.url})

    assert not {*NOT_FOR_READING, *NOT_FOR_LISTING} & imported


def test_showing_a_case_imports_no_service_that_changes_a_case(monitored):
    ref = monitored.ok("case", "list", "--json").json()[0]["ref"]

    imported = modules_after("case", "show", ref, env={"CASEWORK_DB": monitored.url})

    assert not {*NEVER_ON_START, *NOT_FOR_READING, "rich"} & imported


# Prints, at exit, whether the collector is on and how many objects start-up froze.
_COLLECTOR = """
import atexit, gc, json, sys
atexit.register(lambda: print("\\n" + json.dumps([gc.isenabled(), gc.get_freeze_count()])))
sys.argv = ["casework", *sys.argv[1:]]
from workflow.cli import main
main()
"""


@pytest.mark.parametrize("args", [("case", "list"), ("--help",)])
def test_a_command_runs_with_the_collector_on_and_what_start_up_made_frozen(cli, args):
    # main() holds the collector off while modules load, then freezes what they made
    # (so no collection walks it again, nor the exit) and turns it back on: a long
    # command (serve, demo) still has its garbage collected.
    ran = subprocess.run(
        [sys.executable, "-c", _COLLECTOR, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "CASEWORK_DB": cli.url},
        timeout=120,
    )
    enabled, frozen = json.loads(ran.stdout.rstrip().rsplit("\n", 1)[-1])

    assert ran.returncode == 0, ran.stderr
    assert enabled
    assert frozen > 10_000


def test_importing_the_command_line_leaves_the_collector_alone():
    ran = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, json, workflow.cli; "
            "print(json.dumps([gc.isenabled(), gc.get_freeze_count()]))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert json.loads(ran.stdout) == [True, 0]


def test_commands_that_ask_no_case_what_it_allows_load_no_state_machine(cli):
    # Each definition's transitions Machine is built when first asked (states/machine.py): a
    # move, or a case's `allowed_triggers` (so `case show` with cases does, and `case list
    # --json`; its table shows no triggers and loads none: NOT_FOR_THE_TABLE above).
    assert "transitions" not in modules_after("--help")
    assert "transitions" not in modules_after("org", "list", env={"CASEWORK_DB": cli.url})


def test_a_whole_number_option_is_taken_without_pydantic(monitored):
    # typer would check `--version 1` with a pydantic adapter (0.1 s of imports);
    # workflow/cli/__init__.py takes a plain whole number within min and max as it is.
    ref = monitored.ok("case", "list", "--json").json()[0]["ref"]

    imported = modules_after(
        "case", "show", ref, "--version", "1", env={"CASEWORK_DB": monitored.url}
    )

    assert "pydantic" not in imported


def test_a_whole_number_option_given_something_else_is_refused_in_casework_s_words(monitored):
    ref = monitored.ok("case", "list", "--json").json()[0]["ref"]

    for typed in ("2.5", "two"):
        ran = monitored("case", "show", ref, "--version", typed)

        assert ran.code == 2
        assert f"Invalid value for '--version': '{typed}' is not a whole number." in ran.err
        assert "Input should be" not in ran.err


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_command_says_in_its_own_help_what_the_list_says(name):
    command = every_command().commands[name]

    assert command.get_short_help_str(limit=200) == summary(name)


def test_reading_the_outbox_imports_no_metrics(cli):
    # Only a delivery run counts messages (prometheus_client); listing the outbox does not.
    imported = modules_after("outbox", "list", env={"CASEWORK_DB": cli.url})

    assert "workflow.runtime.mail" in imported
    assert "prometheus_client" not in imported


def test_an_option_of_another_type_left_out_builds_no_pydantic_adapter(cli):
    # `--public-key FILE` and `--seals DIR` are paths: typer's adapter for them (and
    # pydantic) is built only when one is given.
    imported = modules_after("audit", "verify", env={"CASEWORK_DB": cli.url})

    assert "pydantic" not in imported


def test_verifying_a_database_with_no_seals_imports_no_cryptography(cli):
    # Ed25519 is needed to make, read or check a signature; with no seal there is none.
    imported = modules_after("audit", "verify", env={"CASEWORK_DB": cli.url})

    assert "workflow.services.chain" in imported
    assert not any(m == "cryptography" or m.startswith("cryptography.") for m in imported)
