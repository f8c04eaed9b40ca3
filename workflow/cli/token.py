"""`casework token create|list|revoke`: personal API tokens, shown once, kept hashed."""

from typing import Optional

import typer

from workflow import clock

from workflow.services import tokens
from workflow.cli import summary
from workflow.cli._common import JSON_OPT, emit, engine

token_app = typer.Typer(help=summary("token"), no_args_is_help=True)


@token_app.command("create", short_help="Create an API token for NAME (shown once).")
def create(
    name: str = typer.Argument(..., metavar="NAME", help="The person the token acts as."),
    expires: Optional[int] = typer.Option(
        None,
        "--expires",
        metavar="DAYS",
        help="Refused after this many days (default: until revoked).",
    ),
) -> None:
    """A new token for NAME, printed once on one line: only its hash is kept."""
    with engine().begin() as conn:
        token, _ = tokens.create(conn, name, now=clock.now(), expires_days=expires)
    typer.echo(token)


@token_app.command("list", short_help="Every token: person, created, expires, revoked.")
def list_(as_json: bool = JSON_OPT) -> None:
    """Every token: its id, person, when created, when it expires, whether revoked."""
    with engine().connect() as conn:
        rows = tokens.list_tokens(conn)
    if as_json:
        emit(rows, True)
        return
    emit([_for_people(r) for r in rows], False, ["id", "name", "created", "expires", "revoked"])


def _for_people(row: dict) -> dict:
    """Times in London, in words ("2:46pm, 6 December 2026"), as every other table."""
    from workflow.cli._words import when

    return {
        **row,
        "created": when(row["created"]),
        "expires": when(row["expires"]) or "never",
        "revoked": when(row["revoked_at"]) or "no",
    }


@token_app.command("revoke")
def revoke(
    token_id: int = typer.Argument(..., metavar="ID", help="From `token list`."),
    as_json: bool = JSON_OPT,
) -> None:
    """Refuse a token from now on."""
    with engine().begin() as conn:
        row = tokens.revoke(conn, token_id, now=clock.now())
    if as_json:
        emit(row, True)
    else:
        typer.echo(f"token {row['id']} ({row['name']}) revoked at {_for_people(row)['revoked']}")


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
