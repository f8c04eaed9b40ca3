"""`casework variation propose|approve|reject|countersign|list`: changes to an award
(DESIGN.md section 8; the countersignature, section 9)."""

from typing import Optional

import typer

from states import VARIATION
from workflow.cli import summary
from workflow.cli._common import AS_OPT, AS_READ_OPT, CASE_REF, JSON_OPT, REASON_OPT, emit, engine
from workflow.cli._words import when
from states.money import for_people

variation_app = typer.Typer(help=summary("variation"), no_args_is_help=True)

VARIATION_REF = typer.Argument(..., metavar="REF", help="The variation, e.g. TCA-2013-0001/V1.")
LIST_COLUMNS = ["ref", "state", "amount", "was", "ends", "proposed by", "decided by", "reason"]


def _row(v: dict) -> dict:
    return {
        "ref": v["ref"],
        "state": VARIATION.state_label(v["state"]),
        "amount": for_people(v["amount"]) if v["amount"] else "unchanged",
        "was": for_people(v["previous_amount"]),
        "ends": when(v["end_on"]) if v["end_on"] else "unchanged",
        "proposed by": v["proposed_by"],
        "decided by": v["decided_by"] or "",
        "reason": v["reason"],
    }


@variation_app.command("propose", short_help="Propose a change to an award in monitoring.")
def propose(
    ref: str = CASE_REF,
    amount: Optional[str] = typer.Option(
        None, "--amount", metavar="POUNDS", help="The award's new total, in pounds."
    ),
    end: Optional[str] = typer.Option(
        None, "--end", metavar="DATE", help="The award's new end date, YYYY-MM-DD."
    ),
    reason: str = typer.Option(
        ..., "--reason", metavar="TEXT", help="What changes and why (kept in the history)."
    ),
    actor: str = AS_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Propose a variation (the lead council or the caseworker); prints REF/Vn."""
    from workflow.services import variations

    shown = variations.propose(engine(), ref, amount=amount, end=end, reason=reason, actor=actor)
    emit(shown, True) if as_json else typer.echo(shown["ref"])


def _decide(decision: str, ref: str, actor: str, reason: Optional[str], as_json: bool) -> None:
    from workflow.services import variations

    shown = variations.decide(engine(), ref, decision, actor, reason=reason)
    if as_json:
        emit(shown, True)
        return
    words = f"{shown['ref']} is now {VARIATION.state_label(shown['state']).lower()}"
    if shown["agreement_version"]:
        words += f"; agreement version {shown['agreement_version']} drawn up"
    typer.echo(words)


@variation_app.command("approve", short_help="Approve a proposed variation (an approver).")
def approve(
    ref: str = VARIATION_REF,
    actor: str = AS_OPT,
    reason: Optional[str] = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Approve a variation: the offer's rules are checked for the new total, the difference
    reserved or released, the agreement's next version drawn up."""
    _decide("approve", ref, actor, reason, as_json)


@variation_app.command("countersign", short_help="Countersign an increase above the threshold.")
def countersign(
    ref: str = VARIATION_REF,
    actor: str = AS_OPT,
    reason: Optional[str] = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Countersign, as a second approver, a variation that raises the award above the
    programme's countersignature threshold (the approver who approves it must be another)."""
    from workflow.services import variations

    shown = variations.countersign(engine(), ref, actor, reason=reason)
    if as_json:
        emit(shown, True)
        return
    typer.echo(
        f"{shown['ref']}: countersigned by {actor}; an approver other than {actor} "
        f"may now approve it"
    )


@variation_app.command("reject", short_help="Reject a proposed variation, saying why.")
def reject(
    ref: str = VARIATION_REF,
    actor: str = AS_OPT,
    reason: Optional[str] = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Reject a variation (an approver, with --reason); the award stays as it was."""
    _decide("reject", ref, actor, reason, as_json)


@variation_app.command("list", short_help="Variations, by case.")
def list_(
    case: Optional[str] = typer.Option(
        None, "--case", metavar="REF", help="Only this case's variations."
    ),
    actor: Optional[str] = AS_READ_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Variations of awards, by case and number (with --as, those that person may see)."""
    from workflow.services import variations

    rows = variations.list_variations(engine(), case=case, actor_name=actor)
    if as_json:
        emit(rows, True)
    else:
        emit([_row(r) for r in rows], False, LIST_COLUMNS)


def register(app: typer.Typer) -> None:
    app.add_typer(variation_app, name="variation")
