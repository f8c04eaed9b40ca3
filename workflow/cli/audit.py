"""`casework audit verify|export`."""
import sys
from typing import Optional

import typer

from workflow import clock
from workflow.cli._common import JSON_OPT, emit, engine
from workflow.db import reading
from workflow.export import FORMATS, chunks
from workflow.history import stream, verify as verify_chains
from workflow.cases import load_case

audit_app = typer.Typer(help="The tamper-evident history.", no_args_is_help=True)


@audit_app.command("verify", short_help="Check every hash chain; name the first broken row.")
def verify(as_json: bool = JSON_OPT) -> None:
    """Recompute every case's chain; name the first broken row of each broken case."""
    with reading(engine()) as conn:
        result = verify_chains(conn)
    if as_json:
        emit({"cases": result.cases, "rows": result.rows,
              "broken": [{"case": k, "problem": v} for k, v in result.broken.items()]}, True)
    else:
        for ref, problem in result.broken.items():
            typer.echo(f"{ref}: {problem}")
        typer.echo(result.summary())
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("export")
def export(fmt: str = typer.Option(..., "--format", metavar="csv|json"),
           case: Optional[str] = typer.Option(None, "--case", metavar="REF", help="Only this case."),
           since: Optional[str] = typer.Option(None, "--since", metavar="TIME", help="Rows from this time on (ISO 8601; no offset = UTC).")) -> None:
    """Stream history rows (every case, or one) as CSV or JSON."""
    if fmt not in FORMATS:
        raise typer.BadParameter(f"'{fmt}' is not csv or json", param_hint="--format")
    try:
        since_at = clock.parse_moment(since) if since else None
    except ValueError:
        raise typer.BadParameter(f"'{since}' is not an ISO 8601 time", param_hint="--since")
    with reading(engine()) as conn:
        case_id = load_case(conn, case).id if case else None
        for chunk in chunks(stream(conn, case_id=case_id, since=since_at), fmt):
            sys.stdout.write(chunk)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
