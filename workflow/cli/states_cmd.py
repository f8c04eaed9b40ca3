"""`casework states diagram bid|area|checkpoint|payment|variation`."""

from typing import Optional

import typer

from states import DEFINITIONS
from workflow.cli import summary
from workflow.cli._common import AS_READER_OPT, JSON_OPT, Reader, emit

states_app = typer.Typer(help=summary("states"), no_args_is_help=True)


@states_app.command("diagram", short_help="Draw a state machine (Mermaid or DOT).")
def diagram(
    kind: str = typer.Argument(..., metavar="|".join(DEFINITIONS)),
    fmt: str = typer.Option("mermaid", "--format", metavar="mermaid|dot"),
    actor: Optional[str] = AS_READER_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Print a state diagram (Mermaid, or Graphviz DOT), with roles and guards on each arrow."""
    if kind not in DEFINITIONS:
        raise typer.BadParameter(
            f"'{kind}' is not one of {', '.join(DEFINITIONS)}", param_hint="KIND"
        )
    Reader(actor)  # the definitions are anyone's to read; an unknown name is refused
    d = DEFINITIONS[kind]
    if fmt not in ("mermaid", "dot"):
        raise typer.BadParameter(f"'{fmt}' is not mermaid or dot", param_hint="--format")
    drawn = d.mermaid() if fmt == "mermaid" else d.dot()
    if not as_json:
        typer.echo(drawn, nl=False)
        return
    # Every read command takes --json (DESIGN section 6): the machine as data, in codes,
    # one arrow a row as the diagram draws it, and the diagram's text beside it.
    emit(
        {
            "kind": kind,
            "initial": d.initial,
            "final": sorted(d.final),
            "states": list(d.states),
            "transitions": [
                {
                    "from": source,
                    "to": t.dest,
                    "trigger": t.trigger,
                    "guards": list(t.guards),
                    "roles": sorted(t.roles),
                }
                for t in d.transitions
                for source in t.sources
            ],
            "format": fmt,
            "diagram": drawn,
        },
        True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(states_app, name="states")
