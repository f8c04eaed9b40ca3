"""The `casework` command line: parses, calls a service, prints. Nothing else.

Exit codes: 0 done, 1 refused (the reason on stderr), 2 usage error.

Every command and group is named in COMMANDS below with its one-line summary
and the module that holds it; that module is imported only when the command
is used. So `casework --help` imports no command at all, and `casework case
list` imports workflow/cli/case.py and what it needs, not the web app, the
mail transports or the scheduler (tests/cli/test_startup.py holds this, and
bench/startup.py times it).
"""

from __future__ import annotations

import gc
import importlib
import re
import os
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import NamedTuple, Optional

import typer
from typer._click import Command, Context, HelpFormatter
from typer._click import exceptions as click_errors  # typer vendors its own click
from typer.core import TyperGroup


class Entry(NamedTuple):
    module: str  # under workflow.cli; its register(app) adds the command to `app`
    summary: str  # the line `casework --help` shows, and the command's short help


# In the order `casework --help` lists them. A new command or group: one line
# here, and a module of its own with register(app); its group's help (or the
# command's short_help) is summary(name).
COMMANDS: dict[str, Entry] = {
    "init": Entry("setup_cmd", "Create or upgrade the database; load the programmes."),
    "sweep": Entry("monitor", "Take every reminder and escalation step now due."),
    "status": Entry("monitor", "Last sweep, steps due, outbox; exit 1 when stale."),
    "serve": Entry("serve_cmd", "Run the scheduler, web app and API."),
    "demo": Entry("demo_cmd", "Simulate a whole programme year, with a report."),
    "org": Entry("org", "Organisations: councils and other bodies."),
    "user": Entry("user", "People and their roles."),
    "programme": Entry("programme", "Programmes and their rules."),
    "case": Entry("case", "Bids and network areas."),
    "diligence": Entry("diligence", "Due diligence before a case is found eligible."),
    "audit": Entry("audit", "The tamper-evident history."),
    "states": Entry("states_cmd", "The state machines, drawn from their definitions."),
    "assess": Entry("assess", "Declare interests, score bids and agree moderated scores."),
    "area": Entry("area", "Public Service Transformation Network areas."),
    "checkpoint": Entry("checkpoint", "Monitoring returns: list, submit, accept, query, waive."),
    "payment": Entry("payment", "Payments of awards: approve, pay, hold, export, recover."),
    "review": Entry("review", "Annual reviews of awards: record a decision, list those due."),
    "outbox": Entry("outbox", "Email waiting to go, sent, or dead."),
    "token": Entry("token", "API tokens (shown once, stored hashed)."),
    "publish": Entry("publish", "Open data."),
    "agreement": Entry("agreement", "Grant agreements: every version, as PDF."),
    "variation": Entry("variation", "Variations of awards: propose, countersign, decide."),
    "notify": Entry("notify_cmd", "GOV.UK Notify: the templates to create, delivery receipts."),
    "backup": Entry("backup_cmd", "Copy the database, evidence and seals into one archive."),
    "restore": Entry("backup_cmd", "Restore an archive into an empty database."),
}


def summary(name: str) -> str:
    """The one line that says what a top-level command or group does."""
    return COMMANDS[name].summary


def _load(name: str) -> Command:
    module = importlib.import_module(f"workflow.cli.{COMMANDS[name].module}")
    scratch = typer.Typer(rich_markup_mode=None)  # as the root's: plain help, no rich
    module.register(scratch)
    _started()
    return typer.main.get_group(scratch).commands[name]


# Start-up makes a few hundred thousand objects that live as long as the
# process (modules, classes, functions, SQLAlchemy's tables and statements).
# Python's cyclic garbage collector would walk them again at every full
# collection while they are being made, during the command, and once more as
# the process exits: together about a quarter of `casework case list`'s CPU
# time (bench/startup.py). So `main` turns the collector off until the
# command's module is imported, then moves everything made so far out of the
# collector's sight (gc.freeze: they are never collected, as they never would
# be) and turns it back on for the command's own work, which is collected as
# usual (`serve` and `demo` run for long). Only `main` does this: a test or a
# program that imports this package keeps its collector as it was.
_COLLECTOR_HELD = False
_IN_MAIN = False


def _hold_collector() -> None:
    global _COLLECTOR_HELD
    if gc.isenabled():
        gc.disable()
        _COLLECTOR_HELD = True


def _started() -> None:
    global _COLLECTOR_HELD
    if _COLLECTOR_HELD:
        gc.freeze()
        gc.enable()
        _COLLECTOR_HELD = False


@contextmanager
def importing() -> Iterator[None]:
    """Hold the collector while a command imports what only some of its paths need, as it
    is held while the command's module is imported, and freeze what that made: `case list`'s
    table imports no SQLAlchemy, so `case show` imports it (with the service) when it runs.
    Outside `main` (a test calling a command itself) the collector is left as it is."""
    held = _IN_MAIN and not _COLLECTOR_HELD
    if held:
        _hold_collector()
    try:
        yield
    finally:
        if held:
            _started()


class _Commands(MutableMapping[str, Command]):
    """The root's commands: every name in COMMANDS, each imported on first use."""

    def __init__(self, given: MutableMapping[str, Command]):
        self._loaded = dict(given)

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded:
            if name not in COMMANDS:
                raise KeyError(name)
            self._loaded[name] = _load(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*COMMANDS, *(n for n in self._loaded if n not in COMMANDS)])

    def __len__(self) -> int:
        return len(set(COMMANDS) | set(self._loaded))


class _LazyRoot(TyperGroup):
    """typer's group, its commands loaded on first use and listed from COMMANDS."""

    def __init__(self, **attrs):  # type: ignore[no-untyped-def]
        super().__init__(**attrs)
        self.commands = _Commands(self.commands)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        # click's own listing (same columns, same cut at the terminal's width),
        # but from the summaries: listing must not import every command.
        from typer._click.utils import make_default_short_help

        names = list(COMMANDS)
        limit = formatter.width - 6 - max(len(n) for n in names)
        with formatter.section("Commands"):
            formatter.write_dl([(n, make_default_short_help(summary(n), limit)) for n in names])


_WHOLE = re.compile(r"-?[0-9]+")
# What typer's adapter (pydantic) takes as a whole number: "+2", " 2 ", "1_000", "2.0".
_WHOLE_TO_TYPER = re.compile(r"\s*[+-]?[0-9][0-9_]*(\.0*)?\s*")


def _plain_values_skip_pydantic() -> None:
    """A text option given text, or a flag given a bool, is taken as it is.

    typer (0.29) checks every value with a pydantic TypeAdapter, and building
    the first one imports pydantic: about a sixth of `casework case list`'s
    start-up, to learn that the string typed is a string. A whole number typed
    for an int option (`case show --version 2`) is taken the same way when it
    is within the option's min and max. Values of any other type, or of
    another type than declared, still go through typer's own adapter, built
    when a value comes: an option of another type (a file, a path) that is
    left out is None before any coercion, so `audit verify` without
    `--public-key` builds none. (typer is pinned below 0.30 in
    pyproject.toml; tests/cli/test_startup.py fails if pydantic comes back.)
    """
    from typer import core
    from typer._coercion import RuntimeParam

    build = core.build_runtime_param

    class _AsGiven(RuntimeParam):
        def _coerce_value(self, value, param, ctx):  # type: ignore[no-untyped-def]
            if type(value) is self.annotation:
                return value
            if self.annotation is int and type(value) is str and _WHOLE.fullmatch(value):
                # A plain whole number within the option's min and max is that int
                # (what pydantic would make of it); anything else, or out of range,
                # goes to typer's adapter, which clamps or refuses it in its words.
                number = int(value)
                low, high = self.parameter_info.min, self.parameter_info.max
                if (low is None or number >= low) and (high is None or number <= high):
                    return number
            if (
                self.annotation is int
                and type(value) is str
                and not _WHOLE_TO_TYPER.fullmatch(value)
            ):
                # "2.5", "two": said in casework's words, not the adapter's ("Input should
                # be a valid integer, unable to parse string as an integer").
                raise click_errors.BadParameter(
                    f"'{value}' is not a whole number.", ctx=ctx, param=param
                )
            return build(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

    class _WhenGiven(RuntimeParam):
        # RuntimeParam.coerce answers None (or () for many) for a value left out
        # before it asks _coerce_value: typer's own is built for a value given.
        def _coerce_value(self, value, param, ctx):  # type: ignore[no-untyped-def]
            return build(param.type_descriptor)._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor):  # type: ignore[no-untyped-def]
        if descriptor.annotation in (str, bool, int) and descriptor.file_annotation is None:
            return _AsGiven(
                parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
            )
        return _WhenGiven(
            parameter_info=descriptor.parameter_info, annotation=descriptor.annotation
        )

    core.build_runtime_param = build_runtime_param


_plain_values_skip_pydantic()

app = typer.Typer(
    name="casework",
    cls=_LazyRoot,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Workflow and case management for public grant programmes.",
)


@app.callback()
def _global(
    db: Optional[str] = typer.Option(
        None,
        "--db",
        metavar="URL",
        help="Database URL (default: $CASEWORK_DB or sqlite:///casework.db).",
    ),
) -> None:
    from workflow.cli._common import STATE

    STATE.db_url = db


def every_command() -> TyperGroup:
    """The root group with every command loaded (for tests that walk them all)."""
    root = typer.main.get_command(app)
    for name in COMMANDS:
        root.commands[name]
    return root


def refusal_line(err: BaseException) -> str | None:
    """The one line a refusal or a database fault is said in; None for anything else."""
    from workflow.errors import CaseworkError
    from workflow.storage.dbfaults import is_database_error

    if isinstance(err, CaseworkError):
        return err.command_line.rstrip()
    return _fault_line(err) if is_database_error(err) else None


def _fault_line(err: BaseException) -> str:
    from workflow.cli._common import STATE
    from workflow.storage.db import lock_wait_seconds, read_interrupted, where
    from workflow.storage.dbfaults import explain

    if STATE._engine is not None and (interrupted := read_interrupted(STATE._engine)):
        return interrupted
    try:
        place, wait = where(STATE.db_url), lock_wait_seconds()
    except Exception:  # the settings themselves are at fault: still say what happened
        place, wait = "the database", None
    return explain(err, place, wait_seconds=wait).line


def main(argv: list[str] | None = None) -> None:
    global _IN_MAIN
    _IN_MAIN = True
    _hold_collector()
    try:
        _main(argv)
    finally:
        _started()  # no command was loaded: --help, a mistyped command


def _main(argv: list[str] | None) -> None:
    from workflow.logs import configure as configure_logs

    configure_logs()  # WARNING and worse, unless CASEWORK_LOG_LEVEL says otherwise
    try:
        # Outside standalone mode click hands back a command's typer.Exit code
        # instead of exiting with it.
        code = app(args=argv, prog_name="casework", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except click_errors.NoArgsIsHelpError as err:
        err.show()
        sys.exit(2)
    except click_errors.ClickException as err:
        err.show()
        sys.exit(2 if isinstance(err, click_errors.UsageError) else err.exit_code)
    except typer.Abort:
        sys.stderr.write("Stopped.\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("Stopped.\n")
        sys.exit(130)
    except Exception as err:
        from workflow.errors import CaseworkError

        if isinstance(err, CaseworkError):
            sys.stderr.write(err.command_line.rstrip() + "\n")
            sys.exit(1)
        # A database fault (locked, read-only, damaged, full, unreachable...)
        # is one line saying what to do; the traceback only when asked for.
        from workflow.storage.dbfaults import is_database_error

        if not is_database_error(err):
            if isinstance(err, OSError) and err.filename:
                # A file named on the command line that can't be opened (--out into a
                # folder that does not exist): one line, as any other refusal.
                sys.stderr.write(f"Could not open {err.filename}: {err.strerror}.\n")
                sys.exit(1)
            raise
        if os.environ.get("CASEWORK_DEBUG") == "1":
            import traceback

            traceback.print_exc()
        sys.stderr.write(_fault_line(err) + "\n")
        sys.exit(1)
