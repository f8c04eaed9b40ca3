"""`casework backup FILE`, `casework backup --verify FILE` and `casework restore FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from workflow.cli import summary
from workflow.cli._common import JSON_OPT, STATE, emit, engine


def register(app: typer.Typer) -> None:
    @app.command("backup", short_help=summary("backup"))
    def backup_(
        file: Path = typer.Argument(
            ...,
            metavar="FILE",
            help="The archive to write (.tar.gz), or a folder to write a dated one in.",
        ),
        verify: bool = typer.Option(
            False,
            "--verify",
            help="Check the archive FILE instead of writing one, as restore would: its "
            "manifest, then its history's chains and seals, on a temporary copy.",
        ),
        public_key: Optional[Path] = typer.Option(
            None,
            "--public-key",
            metavar="FILE",
            help="With --verify: check the seals against this public key (default: the "
            "keys the backup recorded at `audit keygen`), as restore --public-key does.",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """A consistent copy while `serve` runs: the database, the evidence files
        (CASEWORK_FILES) and the seals (CASEWORK_SEAL_DIR) in one .tar.gz with a
        manifest of SHA-256s."""
        if public_key is not None and not verify:
            raise typer.BadParameter("goes with --verify only", param_hint="--public-key")
        if verify:
            from workflow.runtime import restore
            from workflow.services.seals import read_public_key

            # What `restore` checks before it writes, on a temporary copy: a backup that
            # would be refused is found out now, not on the day it is needed.
            trusted = {read_public_key(public_key)} if public_key else None
            found = restore.check(file, trusted=trusted)
            manifest = found.manifest
            about = manifest.get("database") or {}
            summary = {
                "archive": str(file),
                "ok": True,
                "made_at": manifest.get("made_at"),
                "dialect": about.get("dialect"),
                "cases": about.get("cases"),
                "history_rows": about.get("history_rows"),
                "members": len(manifest.get("members") or {}),
                "files": manifest.get("files"),
                "seals": manifest.get("seals"),
                "verify": found.verification.summary(),
                "seal_check": found.seals,
            }
            if as_json:
                emit(summary, True)
            else:
                typer.echo(
                    f"{file} is whole: {summary['members']} members match the manifest "
                    f"({summary['cases']:,} cases from {summary['dialect']}, made "
                    f"{summary['made_at']})"
                )
                typer.echo(f"audit verify: {summary['verify']}")
                typer.echo(found.seals)
            return
        from workflow.services.attachments import files_root
        from workflow.runtime.backup import backup
        from workflow.services.seals import seal_dir

        eng = engine()
        report = backup(eng, file, files_root=files_root(eng), seal_dir=seal_dir())
        emit(report.as_json(), True) if as_json else typer.echo(str(report))
        for note in report.notes:
            typer.echo(note, err=True)

    @app.command("restore", short_help=summary("restore"))
    def restore_(
        file: Path = typer.Argument(..., metavar="FILE", help="The archive to restore."),
        db: Optional[str] = typer.Option(
            None,
            "--db",
            metavar="URL",
            help="The empty database to restore into (default: the global --db).",
        ),
        public_key: Optional[Path] = typer.Option(
            None,
            "--public-key",
            metavar="FILE",
            help="Check the seals against this public key (default: the keys the "
            "backup recorded at `audit keygen`).",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Restore an archive into a database that has no cases, after checking its
        hashes, `audit verify` and the newest seal; refuses otherwise, changing nothing."""
        from workflow.services.attachments import files_root
        from workflow.storage.db import make_engine
        from workflow.services.seals import seal_dir
        from workflow.runtime.restore import restore
        from workflow.services.seals import read_public_key

        trusted = {read_public_key(public_key)} if public_key else None
        eng = make_engine(db or STATE.db_url)
        try:
            report = restore(
                file, eng, files_root=files_root(eng), seal_dir=seal_dir(), trusted=trusted
            )
        finally:
            eng.dispose()
        if as_json:
            emit(
                {
                    "archive": str(file),
                    "made_at": report.made_at,
                    "cases": report.cases,
                    "files": report.files,
                    "verify": report.verification.summary(),
                    "seals": report.seals,
                    "schema_current": report.schema_current,
                    "seconds": round(report.seconds, 3),
                },
                True,
            )
        else:
            for line in report.lines():
                typer.echo(line)
