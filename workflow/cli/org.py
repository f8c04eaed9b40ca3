"""`casework org add|update|list`."""

from typing import Optional

import typer

from workflow.cli import summary
from workflow.cli._common import AS_READER_OPT, JSON_OPT, Reader, emit, engine
from workflow.services import directory

org_app = typer.Typer(help=summary("org"), no_args_is_help=True)


@org_app.command("add", short_help="Add an organisation by its ONS/GSS code.")
def add(
    code: str = typer.Argument(..., metavar="CODE", help="Its ONS/GSS code, e.g. E07000026."),
    name: str = typer.Option(
        ..., "--name", metavar="TEXT", help="Its full name, e.g. Allerdale Borough Council."
    ),
    email: str = typer.Option(
        ..., "--email", metavar="ADDRESS", help="The council contact for returns."
    ),
    escalation_email: Optional[str] = typer.Option(
        None, "--escalation-email", metavar="ADDRESS", help="Chief executive or s151 officer."
    ),
    kind: str = typer.Option("council", "--kind", metavar="council|fire|agency"),
    esg_allocation: Optional[str] = typer.Option(
        None,
        "--esg-allocation",
        metavar="POUNDS",
        help="Efficiency Support Grant allocation in pounds.",
    ),
    org_id: Optional[str] = typer.Option(None, "--org-id", metavar="ID", help="360Giving org-id."),
    as_json: bool = JSON_OPT,
) -> None:
    """Add an organisation, keyed by its ONS/GSS code (or another stable code)."""
    with engine().begin() as conn:
        row = directory.add_org(
            conn,
            code,
            name=name,
            email=email,
            escalation_email=escalation_email,
            kind=kind,
            esg_allocation=esg_allocation,
            org_id=org_id,
        )
    emit(row, as_json) if as_json else typer.echo(f"organisation {code} added")


@org_app.command("update", short_help="Change an organisation (written to the admin log).")
def update(
    code: str = typer.Argument(..., metavar="CODE", help="Its ONS/GSS code."),
    name: Optional[str] = typer.Option(None, "--name", metavar="TEXT", help="Its full name."),
    email: Optional[str] = typer.Option(
        None, "--email", metavar="ADDRESS", help="The council contact for returns."
    ),
    escalation_email: Optional[str] = typer.Option(
        None,
        "--escalation-email",
        metavar="ADDRESS",
        help="Chief executive or s151 officer ('' clears it).",
    ),
    esg_allocation: Optional[str] = typer.Option(
        None,
        "--esg-allocation",
        metavar="POUNDS",
        help="Efficiency Support Grant allocation in pounds ('' clears it).",
    ),
    org_id: Optional[str] = typer.Option(
        None, "--org-id", metavar="ID", help="360Giving org-id ('' clears it)."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Change what is given of an organisation; one row of the admin log, before and after.

    A lower ESG allocation that would break the rules for a case already submitted is
    refused, naming the cases.
    """
    from workflow import clock
    from workflow.services import administration
    from workflow.services.admin_log import Admin

    with engine().begin() as conn:
        row = administration.update_org(
            conn,
            code,
            Admin.operator(),
            at=clock.now(),
            name=name,
            email=email,
            escalation_email=escalation_email,
            esg_allocation=esg_allocation,
            org_id=org_id,
        )
    if as_json:
        emit(row, True)
    else:
        typer.echo(f"organisation {code} {'updated' if row['changed'] else 'unchanged'}")


@org_app.command("list")
def list_(actor: Optional[str] = AS_READER_OPT, as_json: bool = JSON_OPT) -> None:
    """Every organisation."""
    Reader(actor).require("directory")
    with engine().connect() as conn:
        rows = directory.list_orgs(conn)
    emit(rows, as_json, ["code", "name", "kind", "email", "escalation_email", "esg_allocation"])


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
