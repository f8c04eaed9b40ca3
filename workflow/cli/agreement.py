"""`casework agreement show REF [--version N] [--out FILE] [--json]`: grant agreements."""

from datetime import date, datetime
from pathlib import Path
from typing import Optional

import typer

from states import dates
from states.money import for_people
from workflow.cli import summary
from workflow.cli._common import AS_READ_OPT, CASE_REF, JSON_OPT, Reader, emit, engine

agreement_app = typer.Typer(help=summary("agreement"), no_args_is_help=True)

COLUMNS = ["version", "made", "amount", "ends", "variation", "council", "sha256"]


def _row(v: dict) -> dict:
    return {
        "version": v["version"],
        "made": dates.day(datetime.fromisoformat(v["made_at"])),
        "amount": for_people(v["amount"]),
        "ends": (
            dates.day(date.fromisoformat(v["end_on"])) if v["end_on"] else "with the last return"
        ),
        "variation": v["variation"] or "",
        "council": "took it up" if v["accepted_by_council"] else "",
        "sha256": v["sha256"],
    }


@agreement_app.command("show", short_help="Every version of a case's agreement, or one as PDF.")
def show(
    ref: str = CASE_REF,
    version: Optional[int] = typer.Option(
        None, "--version", metavar="N", min=1, help="This version (default: the latest)."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", metavar="FILE", dir_okay=False, help="Write the version's PDF here."
    ),
    actor: Optional[str] = AS_READ_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """A case's grant agreement: every version, which one was accepted, or one version's PDF."""
    from workflow.services import agreements

    Reader(actor).check_case(ref)

    if out is None and version is None:
        listed = agreements.listing(engine(), ref)
        if as_json:
            emit(listed, True)
            return
        if not listed["versions"]:
            typer.echo(
                f"{listed['ref']} has no grant agreement yet: one is drawn up when an "
                f"award is offered."
            )
            return
        emit(
            [_row(v) for v in listed["versions"]],
            False,
            COLUMNS,
            title=f"Grant agreement of {listed['ref']}",
        )
        taken = listed["accepted_version"]
        typer.echo(
            f"the council accepted version {taken['version']}"
            if taken
            else "the council has not accepted it yet (the council accepts the latest version with the award)"
        )
        return
    shown, data = agreements.document(engine(), ref, version)
    if out is not None:
        out.write_bytes(data)
    if as_json:
        emit({**shown, "file": str(out) if out is not None else None}, True)
    elif out is not None:
        typer.echo(
            f"wrote {ref.upper()} agreement version {shown['version']} "
            f"({len(data):,} bytes, SHA-256 {shown['sha256']}) to {out}"
        )
    else:
        emit(_row(shown), False)


def register(app: typer.Typer) -> None:
    app.add_typer(agreement_app, name="agreement")
