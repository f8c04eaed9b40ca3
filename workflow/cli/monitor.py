"""`casework sweep` and `casework status`: the ladder's sweep, and what an operator checks first."""

from typing import Optional

import typer

from workflow import clock
from workflow.cli import summary
from workflow.cli._common import AS_READER_OPT, JSON_OPT, Reader, emit, engine


def _moment(value: Optional[str]):
    if value is None:
        return None
    try:
        return clock.parse_moment(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not an ISO 8601 time such as 2014-04-02T09:00 or 2014-04-02T09:00+01:00",
            param_hint="--now",
        ) from None


def _age(seconds) -> str:
    if seconds is None:
        return "never"
    seconds = float(seconds)
    if seconds >= 2 * 86400:  # "4,436 days ago", not "4436.5 d ago"
        return f"{int(seconds // 86400):,} days ago"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def register(app: typer.Typer) -> None:
    @app.command("sweep", short_help=summary("sweep"))
    def sweep_(
        now: Optional[str] = typer.Option(
            None,
            "--now",
            metavar="TIME",
            help="Sweep as at this moment (ISO 8601; no offset = UTC); never "
            "earlier than a moment already swept.",
        ),
        as_json: bool = JSON_OPT,
    ) -> None:
        """Do every reminder and escalation step that is due (acts as `system`)."""
        from workflow.runtime.sweep import sweep

        report = sweep(engine(), _moment(now))
        emit(report.as_json(), True) if as_json else typer.echo(str(report))
        for error in report.errors:
            typer.echo(f"not done: {error}", err=True)
        if report.errors:
            raise SystemExit(1)  # not typer.Exit: main() drops the code click returns for it

    @app.command("status", short_help=summary("status"))
    def status_(actor: Optional[str] = AS_READER_OPT, as_json: bool = JSON_OPT) -> None:
        """Last sweep, steps due, outbox depth; exit 1 when the sweep is stale."""
        Reader(actor)  # anyone known may look (as /healthz); an unknown name is refused
        from workflow.runtime.status import status

        found = status(engine())
        if as_json:
            emit(found, True)
        else:
            s, o = found["sweep"], found["outbox"]
            if s["last_at"] is None:
                typer.echo(
                    "last sweep   no sweep has run yet (`casework sweep` runs one; "
                    "`casework serve` runs one every few minutes)"
                )
            else:
                typer.echo(
                    f"last sweep   {_age(s['age_seconds'])} "
                    f"({s['steps']} steps in {s['seconds']} s, by {s['owner']})"
                    + (" -- STALE" if s["stale"] else "")
                )
            typer.echo(
                f"sweep every  {s['every_minutes']:g} min (stale after "
                f"{s['stale_after_seconds'] / 60:g} min)"
            )
            typer.echo(f"steps due    {found['due_steps']}")
            oldest = (
                f"; the oldest queued {_age(o['oldest_queued_age_seconds'])}" if o["queued"] else ""
            )
            typer.echo(
                f"outbox       {o['queued']} queued ({o['retrying']} retrying), "
                f"{o['dead']} dead{oldest}"
            )
            if "backup" in found:
                typer.echo(backup_line(found["backup"]))
                for kept in found["backup"].get("backups", []):
                    typer.echo(kept_line(kept))
            missing = found.get("programmes_without_sro") or []
            typer.echo(
                "SRO          "
                + (
                    f"none named for {', '.join(missing)} (casework programme sro CODE NAME)"
                    if missing
                    else "every programme names its senior responsible owner"
                )
            )
        if not found["ok"]:
            raise SystemExit(1)  # not typer.Exit: main() drops the code click returns for it


def backup_line(b: dict) -> str:
    """`last backup  7.9 h ago (12.3 MB, 15 kept)`, or why the last one failed."""
    good = (
        f"{_age(b.get('age_seconds'))} ({b.get('bytes', 0) / 1e6:,.1f} MB, {b.get('kept', 0)} kept)"
        if b.get("ok")
        else f"FAILED {_age_of(b.get('at'))}: {b.get('error')}"
        if b.get("at")
        else str(b.get("error"))
    )
    return f"last backup  {good}" + (" -- STALE" if b.get("stale") else "")


def kept_line(kept: dict) -> str:
    """`  kept  1am, 4 March 2014  casework-20140304T010002.tar.gz  12.3 MB`."""
    from datetime import datetime
    from states.dates import moment

    return (
        f"  kept       {moment(datetime.fromisoformat(kept['at']))}  {kept['file']}  "
        f"{kept['bytes'] / 1e6:,.1f} MB"
    )


def _age_of(at) -> str:
    from datetime import datetime

    return "" if not at else _age((clock.now() - datetime.fromisoformat(at)).total_seconds())
