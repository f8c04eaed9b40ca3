"""`casework org add|list`."""
from typing import Optional

import typer

from workflow.cli._common import JSON_OPT, emit, engine
from workflow import people

org_app = typer.Typer(help="Organisations: councils and other bodies.", no_args_is_help=True)


@org_app.command("add")
def add(code: str,
        name: str = typer.Option(..., "--name"),
        email: str = typer.Option(..., "--email", help="The council contact for returns."),
        escalation_email: Optional[str] = typer.Option(
            None, "--escalation-email", help="Chief executive or s151 officer."),
        kind: str = typer.Option("council", "--kind", help="council | fire | agency"),
        esg_allocation: Optional[str] = typer.Option(
            None, "--esg-allocation", help="Efficiency Support Grant allocation in pounds."),
        org_id: Optional[str] = typer.Option(None, "--org-id", help="360Giving org-id."),
        as_json: bool = JSON_OPT) -> None:
    """Add an organisation, keyed by its ONS/GSS code (or another stable code)."""
    with engine().begin() as conn:
        row = people.add_org(conn, code, name=name, email=email, escalation_email=escalation_email,
                             kind=kind, esg_allocation=esg_allocation, org_id=org_id)
    emit(row, as_json) if as_json else typer.echo(f"organisation {code} added")


@org_app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """Every organisation."""
    with engine().connect() as conn:
        rows = people.list_orgs(conn)
    emit(rows, as_json, ["code", "name", "kind", "email", "escalation_email", "esg_allocation"])


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
