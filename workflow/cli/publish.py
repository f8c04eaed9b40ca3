"""`casework publish 360giving PROGRAMME [--out FILE]`."""

import sys
from pathlib import Path
from typing import Optional

import typer

from workflow.cli import summary
from workflow.cli._common import PROGRAMME_CODE, engine

publish_app = typer.Typer(help=summary("publish"), no_args_is_help=True)


@publish_app.command("360giving", short_help="Awards as a validated 360Giving data package.")
def three_sixty_giving(
    programme: str = PROGRAMME_CODE,
    out: Optional[Path] = typer.Option(
        None,
        "--out",
        metavar="FILE",
        dir_okay=False,
        help="Write the package here (default: stdout).",
    ),
    prefix: Optional[str] = typer.Option(
        None,
        "--prefix",
        metavar="PREFIX",
        help="Your 360Giving prefix, for grant ids 360G-PREFIX-REF "
        "(default: $CASEWORK_360G_PREFIX)",
    ),
) -> None:
    """The programme's awards as a 360Giving data package, validated before it is written."""
    # Imported here: its schema validator would slow every other command's start.
    from workflow.services import publish as publishing

    funder = publishing.Funder.from_env(prefix)
    publication, text = publishing.publish(engine(), programme, out, funder=funder)
    if out is None:
        sys.stdout.write(text)
        sys.stderr.write(f"published {publication.summary()}\n")
    else:
        typer.echo(f"published {publication.summary()} to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(publish_app, name="publish")
