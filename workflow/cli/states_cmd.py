"""`casework states diagram bid|area|checkpoint|payment|variation`."""

import typer

from states import DEFINITIONS
from workflow.cli import summary

states_app = typer.Typer(help=summary("states"), no_args_is_help=True)


@states_app.command("diagram", short_help="Draw a state machine (Mermaid or DOT).")
def diagram(
    kind: str = typer.Argument(..., metavar="|".join(DEFINITIONS)),
    fmt: str = typer.Option("mermaid", "--format", metavar="mermaid|dot"),
) -> None:
    """Print a state diagram (Mermaid, or Graphviz DOT), with roles and guards on each arrow."""
    if kind not in DEFINITIONS:
        raise typer.BadParameter(
            f"'{kind}' is not one of {', '.join(DEFINITIONS)}", param_hint="KIND"
        )
    d = DEFINITIONS[kind]
    if fmt not in ("mermaid", "dot"):
        raise typer.BadParameter(f"'{fmt}' is not mermaid or dot", param_hint="--format")
    typer.echo(d.mermaid() if fmt == "mermaid" else d.dot(), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(states_app, name="states")
