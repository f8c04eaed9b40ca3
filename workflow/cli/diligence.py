"""`casework diligence record|show`: due diligence before eligibility (DESIGN.md section 9)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import typer

from states import dates
from states.diligence import RATING_WORDS, RESULT_WORDS, STATUS_WORDS
from workflow.cli import _words, summary
from workflow.cli._common import AS_OPT, AS_READ_OPT, CASE_REF, JSON_OPT, emit, engine
from workflow.cli.checkpoint import _attachment
from workflow.services import diligence

diligence_app = typer.Typer(help=summary("diligence"), no_args_is_help=True)

CHECK = typer.Argument(
    ...,
    metavar="CHECK",
    help="The check, as the programme file names it (fraud_risk, no_duplicate_bid...).",
)


@diligence_app.command("record", short_help="Record a check's result, with evidence.")
def record(
    ref: str = CASE_REF,
    check: str = CHECK,
    actor: str = AS_OPT,
    result: str = typer.Option(..., "--result", metavar="pass|fail", help="pass or fail."),
    rating: Optional[str] = typer.Option(
        None,
        "--rating",
        metavar="low|medium|high",
        help="The rating, for a rating check (fraud_risk).",
    ),
    evidence: str = typer.Option(
        ..., "--evidence", metavar="TEXT", help="What the result rests on (kept in the history)."
    ),
    attach: Optional[Path] = typer.Option(
        None,
        "--attach",
        metavar="FILE",
        dir_okay=False,
        help="One evidence file (pdf, xlsx, docx, csv, odt, ods; at most 10 MB).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Record a due-diligence check on a submitted case (a caseworker), or override an
    automatic check the programme file marks overridable (--result pass)."""
    shown = diligence.record(
        engine(),
        ref,
        check,
        actor,
        result=result,
        rating=rating,
        evidence=evidence,
        attachment=_attachment(attach),
    )
    if as_json:
        emit(shown, True)
        return
    done = next(c for c in shown["checks"] if c["check"] == check)
    said = RESULT_WORDS[result].label.lower()
    if rating:
        said += f", rated {RATING_WORDS[rating].label.lower()}"
    typer.echo(f"{shown['ref']}: {actor} recorded {done['label']}: {said}")
    _summary(shown)


@diligence_app.command("show", short_help="A case's checklist: each result, who, when, evidence.")
def show(ref: str = CASE_REF, actor: Optional[str] = AS_READ_OPT, as_json: bool = JSON_OPT) -> None:
    """A case's due-diligence checklist: each check's result, who recorded it, when, on what
    evidence, and what is still needed before it can be found eligible."""
    shown = diligence.show(engine(), ref, actor)
    if as_json:
        emit(shown, True)
        return
    typer.echo(f"{shown['ref']} ({_words.state_label(shown['state'], shown['kind'])})")
    for c in shown["checks"]:
        typer.echo(f"  {c['label']}: {STATUS_WORDS[c['status']].label}")
        for problem in c["problems"]:
            typer.echo(f"      {problem}")
        if c["recorded"]:
            typer.echo(f"      {_recorded(c['recorded'])}")
        elif c["last_run"]:
            typer.echo(f"      run by casework {_when(c['last_run']['at'])}")
    _summary(shown)


def _when(at: str) -> str:
    return dates.moment(datetime.fromisoformat(at))


def _recorded(r: dict[str, Any]) -> str:
    said = RESULT_WORDS[r["result"]].label.lower() if r["result"] in RESULT_WORDS else r["result"]
    if r.get("rating"):
        said += f", rated {RATING_WORDS[r['rating']].label.lower()}"
    line = f"{said} by {r['by']}, {_when(r['at'])}: {r['evidence']}"
    if r.get("attachment"):
        line += f" (file: {r['attachment']['name']})"
    return line


def _summary(shown: dict[str, Any]) -> None:
    if shown["passed"]:
        typer.echo("every check has passed")
        return
    for why in shown["still_needed"]:
        typer.echo(f"still needed: {why}")


def register(app: typer.Typer) -> None:
    app.add_typer(diligence_app, name="diligence")
