"""`casework user add|list|passwd|disable|enable|roles`.

`user passwd` sets a person's web sign-in password: on a terminal it asks
twice without echoing; otherwise it reads one line from stdin, so a script can
pipe a password in without it showing in `ps`.
"""

import sys
from typing import List, Optional

import typer

from workflow.services import directory, passwords
from workflow.cli import summary
from workflow.cli._common import AS_READER_OPT, JSON_OPT, Reader, emit, engine
from workflow.errors import Malformed

user_app = typer.Typer(help=summary("user"), no_args_is_help=True)


@user_app.command("add")
def add(
    name: str = typer.Argument(..., metavar="NAME", help="How they sign in, e.g. carol."),
    role: List[str] = typer.Option(
        ...,
        "--role",
        metavar="ROLE",
        help="caseworker, assessor, approver, auditor, admin or council; give --role again for more.",
    ),
    email: Optional[str] = typer.Option(
        None, "--email", metavar="ADDRESS", help="Where their emails go."
    ),
    org: Optional[str] = typer.Option(
        None, "--org", metavar="CODE", help="Organisation code (council people)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a person with one or more roles."""
    with engine().begin() as conn:
        row = directory.add_user(conn, name, roles=role, email=email, org=org)
    emit(row, as_json) if as_json else typer.echo(
        f"person {name} added ({', '.join(row['roles'])})"
    )


@user_app.command("list")
def list_(actor: Optional[str] = AS_READER_OPT, as_json: bool = JSON_OPT) -> None:
    """Every person and their roles."""
    Reader(actor).require("directory")
    with engine().connect() as conn:
        rows = directory.list_users(conn)
    if as_json:
        emit(rows, True)
    else:
        emit(
            [
                {
                    **r,
                    "roles": ", ".join(r["roles"]),
                    "standing": "disabled" if r["disabled"] else "enabled",
                }
                for r in rows
            ],
            False,
            ["name", "roles", "email", "org", "standing"],
        )


def _read_password() -> str:
    if sys.stdin.isatty():
        return typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    line = sys.stdin.readline()
    if not line:
        raise Malformed("The new password", ["nothing was given on stdin"])
    return line[:-1] if line.endswith("\n") else line


@user_app.command("passwd", short_help="Set a person's password for the web app.")
def passwd(name: str = typer.Argument(..., metavar="NAME")) -> None:
    """Set NAME's password for signing in to the web app (prompt, or one line of stdin)."""
    password = _read_password()
    passwords.set_password(engine(), name, password.removesuffix("\r"))
    typer.echo(f"password set for {name}")


def _standing(name: str, disabled: bool, as_json: bool) -> None:
    from workflow import clock
    from workflow.services import administration
    from workflow.services.admin_log import Admin

    with engine().begin() as conn:
        row = administration.set_disabled(conn, name, disabled, Admin.operator(), at=clock.now())
    if as_json:
        emit(row, True)
    else:
        word = "disabled" if disabled else "enabled"
        typer.echo(f"{name} {word}" if row["changed"] else f"{name} was already {word}")


@user_app.command("disable", short_help="Stop a person signing in, using tokens or acting.")
def disable(name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPT) -> None:
    """Disable NAME: no sign-in, API token or action from now on; their history stays.

    Written to the admin log. The last admin, and a programme's senior responsible
    owner, cannot be disabled.
    """
    _standing(name, True, as_json)


@user_app.command("enable", short_help="Let a disabled person sign in and act again.")
def enable(name: str = typer.Argument(..., metavar="NAME"), as_json: bool = JSON_OPT) -> None:
    """Enable NAME again (written to the admin log)."""
    _standing(name, False, as_json)


@user_app.command("roles", short_help="Add or remove a person's roles.")
def roles(
    name: str = typer.Argument(..., metavar="NAME"),
    add: List[str] = typer.Option(
        [], "--add", metavar="ROLE", help="A role to give; again for more."
    ),
    remove: List[str] = typer.Option(
        [], "--remove", metavar="ROLE", help="A role to take away; again for more."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Give NAME roles (--add) and take others away (--remove); one row of the admin log."""
    from workflow import clock
    from workflow.services import administration
    from workflow.services.admin_log import Admin

    with engine().begin() as conn:
        row = administration.change_roles(
            conn, name, Admin.operator(), at=clock.now(), add=add, remove=remove
        )
    if as_json:
        emit(row, True)
    else:
        typer.echo(
            f"{name}: {', '.join(row['roles'])}" + ("" if row["changed"] else " (nothing changed)")
        )


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
