"""`casework area contribution REF POUNDS --as NAME`."""

from __future__ import annotations

import typer

from workflow.services import areas
from workflow.cli import summary
from workflow.cli._common import AS_OPT, CASE_REF, JSON_OPT, emit, engine

area_app = typer.Typer(help=summary("area"), no_args_is_help=True)


@area_app.command("contribution", short_help="Record an area's agreed contribution.")
def contribution(
    ref: str = CASE_REF,
    amount: str = typer.Argument(..., metavar="POUNDS", help="The agreed amount in pounds."),
    actor: str = AS_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Record the contribution agreed with an area to the network's running costs."""
    result = areas.record_contribution(engine(), ref, amount, actor)
    emit(result, True) if as_json else typer.echo(result["recorded"])


def register(app: typer.Typer) -> None:
    app.add_typer(area_app, name="area")
