"""`casework programme list|show|load` (ranking lives with the awards commands)."""
from pathlib import Path

import typer

from workflow.cli._common import JSON_OPT, PROGRAMME_CODE, emit, engine
from workflow.services import programme_files as programme_store

programme_app = typer.Typer(help="Programmes and their rules.", no_args_is_help=True)


@programme_app.command("list")
def list_(as_json: bool = JSON_OPT) -> None:
    """Each programme with its fund, what is committed and what remains."""
    with engine().connect() as conn:
        rows = programme_store.summaries(conn)
    emit(rows, as_json, ["code", "name", "kind", "fund", "committed", "remaining"])


@programme_app.command("show")
def show(code: str = PROGRAMME_CODE, as_json: bool = JSON_OPT) -> None:
    """A programme's rules as loaded (the file it came from)."""
    with engine().connect() as conn:
        spec = programme_store.spec_for(conn, code)
        summary = next(s for s in programme_store.summaries(conn) if s["code"] == spec.code)
    if as_json:
        emit({**summary, "source": spec.source}, True)
    else:
        emit(summary, False)
        typer.echo("")
        typer.echo(spec.source.rstrip())


@programme_app.command("load")
def load(file: Path = typer.Argument(..., metavar="FILE", exists=True, dir_okay=False, readable=True,
                                  help="A programme file (TOML)."),
         as_json: bool = JSON_OPT) -> None:
    """Add a programme (another round) or update one from its TOML file."""
    text = file.read_text(encoding="utf-8")
    with engine().begin() as conn:
        spec, new = programme_store.load(conn, text, file.name)
    if as_json:
        emit({"code": spec.code, "new": new}, True)
    else:
        typer.echo(f"programme {spec.code} {'loaded' if new else 'updated'}")


def register(app: typer.Typer) -> None:
    app.add_typer(programme_app, name="programme")
