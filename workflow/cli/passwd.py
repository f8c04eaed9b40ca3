"""`casework user passwd NAME`: set a person's web sign-in password.

On a terminal it asks twice without echoing; otherwise it reads one line from
stdin, so a script can pipe a password in without it showing in `ps`.
"""
import sys

import typer

from workflow.services import passwords
from workflow.cli._common import engine
from workflow.cli.user import user_app
from workflow.errors import Malformed


def _read_password() -> str:
    if sys.stdin.isatty():
        return typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        raise Malformed("The new password", ["nothing was given on stdin"])
    return line[:-1] if line.endswith("\n") else line


def passwd(name: str = typer.Argument(..., metavar="NAME")) -> None:
    """Set NAME's password for signing in to the web app (prompt, or one line of stdin)."""
    password = _read_password()
    passwords.set_password(engine(), name, password.removesuffix("\r"))
    typer.echo(f"password set for {name}")


def register(app: typer.Typer) -> None:
    # `user` is registered by workflow.cli.user; typer builds the group lazily,
    # so a command added here still appears under it.
    user_app.command("passwd", short_help="Set a person's password for the web app.")(passwd)
