"""`casework assess declare|REF|agree|show`.

`casework assess REF --as NAME --innovation N …` scores a bid: a first word
that is not one of the group's commands is read as a reference for `score`.
"""

from __future__ import annotations

from typing import Any, Optional

import typer
from typer.core import TyperGroup

from states import BID
from states.rules import score_typed
from workflow.services import assessment
from workflow.cli import summary
from workflow.cli import _words
from workflow.cli.case import _directory
from workflow.cli._common import (
    AS_OPT,
    AS_READ_OPT,
    CASE_REF,
    Reader,
    JSON_OPT,
    emit,
    engine,
    pounds_text,
)


class _ScoreByDefault(TyperGroup):
    """`assess REF …` means `assess score REF …` (DESIGN.md section 6)."""

    def resolve_command(self, ctx, args):  # type: ignore[override]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["score", *args]
        return super().resolve_command(ctx, args)


assess_app = typer.Typer(cls=_ScoreByDefault, no_args_is_help=True, help=summary("assess"))

INNOVATION = typer.Option(..., "--innovation", metavar="0-5", help="Level of innovation, 0 to 5.")
COSTS = typer.Option(..., "--costs", metavar="0-5", help="Transitional costs, 0 to 5.")
SAVINGS = typer.Option(..., "--savings", metavar="0-5", help="Prospective savings, 0 to 5.")


def _marks_typed(innovation: str, costs: str, savings: str) -> dict[str, int | str]:
    """The three scores as typed: a whole number is that number; anything else ("3.5")
    stays text, which the service refuses naming the score and the scores allowed, as it
    refuses 9 (the option's type is text so that the refusal is casework's, not typer's)."""
    return {
        "innovation": score_typed(innovation),
        "costs": score_typed(costs),
        "savings": score_typed(savings),
    }


@assess_app.command("declare", short_help="Declare a conflict of interest in a bid, or none.")
def declare(
    ref: str = CASE_REF,
    actor: str = AS_OPT,
    no_conflict: bool = typer.Option(
        False, "--no-conflict", help="You have no conflict of interest."
    ),
    conflict: Optional[str] = typer.Option(
        None, "--conflict", metavar="WHY", help="You have a conflict: say what it is."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Declare whether you have a conflict of interest in a bid (before scoring it)."""
    if no_conflict == (conflict is not None):
        raise typer.BadParameter(
            'give exactly one of --no-conflict or --conflict "why"',
            param_hint="--no-conflict / --conflict",
        )
    result = assessment.declare(
        engine(), ref, actor, conflict=conflict is not None, reason=conflict
    )
    if as_json:
        emit(result, True)
        return
    said = "a conflict of interest" if conflict is not None else "no conflict of interest"
    typer.echo(f"{result['ref']}: {actor} declared {said}")
    aside = _set_aside_by(result, actor)
    if aside:
        typer.echo(f"Set aside (kept, no longer counted): {', '.join(aside)}")
        _moderation(result)


def _set_aside_by(result: dict, person: str) -> list[str]:
    """The scores `person`'s late conflict set aside: their own and any agreed with it."""
    when = next(
        (
            s["set_aside_at"]
            for s in result["scores"]
            if s["assessor"] == person and s["set_aside_at"]
        ),
        None,
    )
    if when is None:
        return []
    return [f"{person}'s score"] + [
        f"{a['moderator']}'s agreed score"
        for a in result["agreed_set_aside"]
        if a["set_aside_at"] == when
    ]


@assess_app.command("score")
def score(
    ref: str = CASE_REF,
    actor: str = AS_OPT,
    innovation: str = INNOVATION,
    costs: str = COSTS,
    savings: str = SAVINGS,
    comment: Optional[str] = typer.Option(None, "--comment", metavar="TEXT"),
    as_json: bool = JSON_OPT,
) -> None:
    """Score a bid under assessment (also: `casework assess REF …`)."""
    marks = _marks_typed(innovation, costs, savings)
    result = assessment.score(engine(), ref, actor, **marks, comment=comment)
    if as_json:
        emit(result, True)
        return
    mine = next(s for s in result["scores"] if s["assessor"] == actor)
    typer.echo(
        f"{result['ref']}: {actor} scored innovation {marks['innovation']}, "
        f"costs {marks['costs']}, savings {marks['savings']} (weighted {mine['weighted']})"
    )
    _moderation(result)


@assess_app.command("agree", short_help="Record a moderator's agreed score.")
def agree(
    ref: str = CASE_REF,
    actor: str = AS_OPT,
    innovation: str = INNOVATION,
    costs: str = COSTS,
    savings: str = SAVINGS,
    reason: Optional[str] = typer.Option(
        None, "--reason", metavar="TEXT", help="Why the moderator settled on this score."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Record the moderator's agreed score where the assessors' scores differ too much."""
    result = assessment.agree_score(
        engine(),
        ref,
        actor,
        **_marks_typed(innovation, costs, savings),
        reason=reason or "",
    )
    if as_json:
        emit(result, True)
        return
    typer.echo(f"{result['ref']}: {actor} agreed a score of {result['agreed']['weighted']}")
    _moderation(result)


@assess_app.command("show", short_help="A bid's declarations, scores and what is needed.")
def show(ref: str = CASE_REF, actor: Optional[str] = AS_READ_OPT, as_json: bool = JSON_OPT) -> None:
    """A bid's declarations, every score, the combined score and what moderation waits for."""
    Reader(actor).check_case(ref)
    result = assessment.assessment_of(engine(), ref)
    if as_json:
        emit(result, True)
        return
    _, specs = _directory()
    category = next(
        (
            spec.category_label(result["category"])
            for spec in specs.values()
            if result["category"] in spec.categories
        ),
        result["category"],
    )
    typer.echo(
        f"{result['ref']} ({_words.state_label(result['state'], 'bid')}), "
        f"{category}, asking {pounds_text(result['amount'])}"
    )
    for d in result["declarations"]:
        said = f"conflict: {d['reason']}" if d["conflict"] else "no conflict"
        typer.echo(f"  declared  {d['person']:<16} {said}")
    for s in result["scores"]:
        typer.echo(f"  scored    {s['assessor']:<16} {_marks(s)}{_not_counted(s)}")
    for a in [*result["agreed_set_aside"], *([result["agreed"]] if result["agreed"] else [])]:
        typer.echo(f"  agreed    {a['moderator']:<16} {_marks(a)} ({a['reason']}){_not_counted(a)}")
    _moderation(result)


def _marks(s: dict[str, Any]) -> str:
    return (
        f"innovation {s['innovation']}, costs {s['costs']}, savings {s['savings']} "
        f"= {s['weighted']}"
    )


def _not_counted(s: dict[str, Any]) -> str:
    if s["set_aside_at"]:
        return f"  (set aside {s['set_aside_at'][:10]}: a conflict declared after scoring)"
    return "" if s["counts"] else "  (does not count: conflict)"


def _moderation(result: dict[str, Any]) -> None:
    if result["combined"] is not None:
        typer.echo(f"combined score {result['combined']} ({result['combined_from']})")
    if not BID.is_in(result["state"], "scoring"):
        return
    if result["can_moderate"]:
        typer.echo("ready to moderate")
    else:
        for why in result["waiting_for"]:
            typer.echo(f"moderation waits: {why}")


def register(app: typer.Typer) -> None:
    app.add_typer(assess_app, name="assess")
