"""`casework user add|list` (and `user passwd` once the web app lands)."""
from typing import List, Optional

import typer

from workflow.cli._common import JSON_OPT, emit, engine
from workflow.services import directory

user_app = typer.Typer(help="People and their roles.", no_args_is_help=True)


@user_app.command("add")
def add(name: str = typer.Argument(..., metavar="NAME", help="How they sign in, e.g. carol."),
        role: List[str] = typer.Option(..., "--role", metavar="ROLE", help="caseworker, assessor, approver, auditor, admin or council; give --role again for more."),
        email: Optional[str] = typer.Option(None, "--email", metavar="ADDRESS", help="Where their emails go."),
        org: Optional[str] = typer.Option(None, "--org", metavar="CODE", help="Organisation code (council people)."),
        as_json: bool = JSON_OPT) -> None:
    """Add a person with one or more roles."""
    with engine().begin() as conn:
        row = directory.add_user(conn, name, roles=role, email=email, org=org)
    emit(row, as_json) if as_json else typer.echo(f"person {name} added ({', '.join(row['roles'])})")


@user_app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """Every person and their roles."""
    with engine().connect() as conn:
        rows = directory.list_users(conn)
    if as_json:
        emit(rows, True)
    else:
        emit([{**r, "roles": ", ".join(r["roles"])} for r in rows], False,
             ["name", "roles", "email", "org"])


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
