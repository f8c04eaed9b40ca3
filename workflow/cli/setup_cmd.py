"""`casework init`."""

import typer

from workflow.cli import summary
from workflow.cli._common import JSON_OPT, emit, engine


def register(app: typer.Typer) -> None:
    @app.command("init", short_help=summary("init"))
    def init(
        no_backup: bool = typer.Option(
            False,
            "--no-backup",
            help="Upgrade a database that has cases without "
            "backing it up into CASEWORK_BACKUP_DIR first.",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Create or upgrade the schema and load the bundled programmes (safe to run twice).

        On a database that has cases and a migration to apply, a backup is taken
        into CASEWORK_BACKUP_DIR first (refused when it is not set, unless --no-backup)."""
        from workflow.services.setup import init as do_init

        taken = _backup_first(engine(check=False), no_backup)
        result = do_init(engine(check=False))
        if taken is not None:
            result["backup"] = str(taken.path)
        if as_json:
            emit(result, True)
            return
        if taken is not None:
            typer.echo(f"before migrating, {taken}")
        for p in result["programmes"]:
            typer.echo(_loaded(p))
        typer.echo("database ready")


def _loaded(p: dict) -> str:
    if p["kept"]:
        kept = p["kept"]
        return (
            f"programme {p['code']} kept as {kept['actor']} loaded it on {kept['at'][:10]} "
            f"(not replaced by the bundled {p['file']}; `casework programme load` a file "
            "to change it)"
        )
    return f"programme {p['code']} {'loaded' if p['new'] else 'up to date'} ({p['file']})"


def _backup_first(eng, no_backup: bool):
    from workflow.services.attachments import files_root
    from workflow.runtime.backup import before_upgrade
    from workflow.services.seals import seal_dir
    from workflow.runtime.backup_schedule import backup_dir

    return before_upgrade(
        eng, backup_dir(), files_root=files_root(eng), seal_dir=seal_dir(), skip=no_backup
    )
