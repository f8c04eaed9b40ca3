"""`casework review record|list`: the annual review of an award (DESIGN.md section 9)."""

from __future__ import annotations

from datetime import date
from typing import Optional

import typer

from states import dates
from states.review import DECISION_WORDS, STATUS_WORDS
from workflow.cli import summary
from workflow.cli._common import AS_OPT, CASE_REF, Reader, JSON_OPT, emit, engine

review_app = typer.Typer(no_args_is_help=True, help=summary("review"))

DECISION_OPT = typer.Option(
    ...,
    "--decision",
    metavar="continue|amend|stop",
    help="Continue the award, amend it (a variation), or stop it.",
)
REASON_OPT = typer.Option(
    ...,
    "--reason",
    metavar="TEXT",
    help="Why (kept in the history); for amend, the change asked for.",
)


@review_app.command("record", short_help="Record the decision of a case's annual review.")
def record(
    ref: str = CASE_REF,
    decision: str = DECISION_OPT,
    reason: str = REASON_OPT,
    actor: str = AS_OPT,
    amount: Optional[str] = typer.Option(
        None, "--amount", metavar="POUNDS", help="amend: the award's new total."
    ),
    end: Optional[str] = typer.Option(
        None, "--end", metavar="DATE", help="amend: the award's new end date."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Record the decision of the case's annual review that is due (a caseworker's).

    continue: the award carries on; amend: a change is asked for (a variation);
    stop: the case is suspended, its payments held, and put to an approver to terminate.
    """
    from workflow.services import reviews

    result = reviews.record(
        engine(),
        ref,
        decision=decision.strip(),
        reason=reason,
        actor_name=actor,
        amount=amount,
        end=end,
    )
    if as_json:
        emit(result, True)
        return
    words = DECISION_WORDS[result["decision"]]
    typer.echo(
        f"{result['ref']}: {actor} recorded the annual review: {words.label}. {words.sentence}"
    )
    if result.get("variation"):
        typer.echo(f"Variation proposed: {result['variation']}")


@review_app.command("list", short_help="Annual reviews: when each is due and what was decided.")
def list_(
    due: bool = typer.Option(False, "--due", help="Only reviews due and not recorded."),
    case: Optional[str] = typer.Option(
        None, "--case", metavar="REF", help="Only this case's reviews."
    ),
    programme: Optional[str] = typer.Option(
        None, "--programme", metavar="CODE", help="Only this programme's reviews."
    ),
    actor: Optional[str] = typer.Option(
        None,
        "--as",
        metavar="NAME",
        help="Read as this person: allowed_decisions lists what they may record now.",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Every annual review by due date (with --due, those due now and not yet recorded), with
    the decisions the person asking (--as) may record now."""
    from workflow.services import reviews

    reader = Reader(actor)
    reader.check_case(case)
    rows = reader.visible(
        reviews.list_reviews(
            engine(), due_only=due, case=case, programme=programme, actor_name=actor
        ),
        "case",
    )
    if as_json:
        emit(rows, True)
        return
    shown = [
        {
            "review": r["ref"],
            "due": dates.short_day(date.fromisoformat(r["due"])),
            "status": STATUS_WORDS[r["status"]].label,
            "caseworker": r["caseworker"] or "",
            "decision": DECISION_WORDS[r["decision"]].label if r["decision"] else "",
            "recorded by": r["recorded_by"] or "",
            # The decisions the person asking may record now, as `review record --decision`.
            "allowed now": ", ".join(
                f"{DECISION_WORDS[d].label} ({d})" for d in r["allowed_decisions"]
            ),
        }
        for r in rows
    ]
    emit(
        shown,
        False,
        ["review", "due", "status", "caseworker", "decision", "recorded by", "allowed now"],
    )


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
