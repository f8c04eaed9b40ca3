"""The `casework` command line: parses, calls a service, prints. Nothing else.

Exit codes: 0 done, 1 refused (the reason on stderr), 2 usage error.
"""
from __future__ import annotations

import sys
from typing import Optional

import typer
from typer._click import exceptions as click_errors  # typer vendors its own click

from workflow.cli._common import STATE
from workflow.errors import CaseworkError

app = typer.Typer(name="casework", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Workflow and case management for public grant programmes.")


@app.callback()
def _global(db: Optional[str] = typer.Option(
        None, "--db", metavar="URL", help="Database URL (default: $CASEWORK_DB or sqlite:///casework.db).")) -> None:
    STATE.db_url = db


def _register() -> None:
    from workflow.cli import audit, case, org, programme, states_cmd, user, setup_cmd
    for module in (setup_cmd, org, user, programme, case, audit, states_cmd):
        module.register(app)
    # Each group below lives in its own module and registers itself.
    for name in ("assess", "area", "checkpoint", "outbox", "monitor", "serve_cmd", "passwd",
                 "token", "publish", "demo_cmd", "notify_cmd"):
        try:
            module = __import__(f"workflow.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError as err:
            if err.name != f"workflow.cli.{name}":
                raise
            continue
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
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
    except CaseworkError as err:
        sys.stderr.write(err.command_line.rstrip() + "\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("Stopped.\n")
        sys.exit(130)
