"""`casework init`."""
import typer

from workflow.cli import summary
from workflow.cli._common import JSON_OPT, emit, engine


def register(app: typer.Typer) -> None:
    @app.command("init", short_help=summary("init"))
    def init(as_json: bool = JSON_OPT) -> None:
        """Create or upgrade the schema and load the bundled programmes (safe to run twice)."""
        from workflow.services.setup import init as do_init
        result = do_init(engine(check=False))
        if as_json:
            emit(result, True)
            return
        for p in result["programmes"]:
            typer.echo(f"programme {p['code']} {'loaded' if p['new'] else 'up to date'} ({p['file']})")
        typer.echo("database ready")
