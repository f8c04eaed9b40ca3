"""`casework programme list|show|load|sro|ranking|fund`."""

from pathlib import Path
from typing import Any, Optional

import typer

from workflow.services import assessment
from workflow.services import programme_files as programme_store
from workflow.services import ranking as ranking_service
from workflow.cli import summary
from workflow.cli import _words
from workflow.cli._common import (
    AS_READER_OPT,
    JSON_OPT,
    PROGRAMME_CODE,
    Reader,
    emit,
    engine,
    pounds_text,
)

programme_app = typer.Typer(help=summary("programme"), no_args_is_help=True)


@programme_app.command("list")
def list_(actor: Optional[str] = AS_READER_OPT, as_json: bool = JSON_OPT) -> None:
    """Each programme with its fund, what is committed and what remains."""
    Reader(actor).require("programmes")
    with engine().connect() as conn:
        rows = programme_store.summaries(conn)
    emit(rows, as_json, ["code", "name", "kind", "fund", "committed", "paid", "remaining"])


@programme_app.command("show")
def show(
    code: str = PROGRAMME_CODE, actor: Optional[str] = AS_READER_OPT, as_json: bool = JSON_OPT
) -> None:
    """A programme's rules as loaded (the file it came from)."""
    Reader(actor).require("programmes")
    with engine().connect() as conn:
        spec = programme_store.spec_for(conn, code)
        summary = next(s for s in programme_store.summaries(conn) if s["code"] == spec.code)
    if as_json:
        emit({**summary, "source": spec.source}, True)
    else:
        emit({**summary, "sro": summary["sro"] or NO_SRO}, False)
        typer.echo("")
        typer.echo(spec.source.rstrip())


NO_SRO = "none named (casework programme sro CODE NAME)"


@programme_app.command("sro", short_help="Name a programme's senior responsible owner.")
def sro(
    code: str = PROGRAMME_CODE,
    name: str = typer.Argument(..., metavar="NAME", help="A person with role approver."),
    as_json: bool = JSON_OPT,
) -> None:
    """Name NAME (a person with role approver) as the programme's senior responsible owner.

    Written to the admin log (who, when, before and after) in the same transaction.
    """
    from workflow import clock
    from workflow.services import sro as sro_service
    from workflow.services.admin_log import Admin

    with engine().begin() as conn:
        found = sro_service.appoint(conn, code, name, Admin.operator(), at=clock.now())
    if as_json:
        emit(found, True)
    elif found["changed"]:
        typer.echo(f"{name} is now the senior responsible owner of {code}")
    else:
        typer.echo(f"{name} was already the senior responsible owner of {code}; nothing changed")


@programme_app.command("load")
def load(
    file: Path = typer.Argument(
        ...,
        metavar="FILE",
        exists=True,
        dir_okay=False,
        readable=True,
        help="A programme file (TOML).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Add a programme (another round) or update one from its TOML file.

    A new or changed file is written to the admin log with the values it
    changed; a change that would break the rules for a case already submitted
    is refused, naming the cases.
    """
    text = file.read_text(encoding="utf-8")
    with engine().begin() as conn:
        found = programme_store.apply_file(conn, text, file.name)
    spec, new = found["spec"], found["new"]
    if as_json:
        emit({"code": spec.code, "new": new, "changed": found["changed"]}, True)
    else:
        typer.echo(
            f"programme {spec.code} "
            f"{'loaded' if new else 'updated' if found['changed'] else 'unchanged'}"
        )


@programme_app.command("ranking", short_help="Moderated bids best first, against the fund.")
def ranking(
    code: str = PROGRAMME_CODE,
    category: Optional[str] = typer.Option(None, "--category", metavar="CATEGORY"),
    actor: Optional[str] = AS_READER_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Moderated bids best first, with the running committed total and where it stops."""
    Reader(actor).require("ranking")
    rows = ranking_service.ranking(engine(), code, category=category)
    if as_json:
        emit(rows, True)
        return
    position = assessment.fund_position(engine(), code)
    _position(position)
    labels = {c["category"]: c.get("label") or c["category"] for c in position["categories"]}
    shown = [
        {
            **r,
            "rank": n,
            "fits": _fits(r),
            "category": labels.get(r["category"], r["category"]),
            "state": _words.state_label(r["state"], "bid"),
        }
        for n, r in enumerate(rows, start=1)
    ]
    emit(
        shown,
        False,
        [
            "rank",
            "ref",
            "category",
            "score",
            "amount",
            "running_total",
            "remaining",
            "fits",
            "state",
        ],
    )
    for r in rows:
        for why in r["why"]:
            typer.echo(f"{r['ref']}: {why}")


@programme_app.command("fund", short_help="The fund: committed, remaining, by category.")
def fund(code: str = PROGRAMME_CODE, as_json: bool = JSON_OPT) -> None:
    """The fund, what offers commit, what remains, and each category's offers made / allowed."""
    position = assessment.fund_position(engine(), code)
    if as_json:
        emit(position, True)
    else:
        _position(position)


def _position(p: dict[str, Any]) -> None:
    typer.echo(
        f"{p['code']}: fund {pounds_text(p['fund'])}, committed "
        f"{pounds_text(p['committed'])}, remaining {pounds_text(p['remaining'])}"
    )
    for c in p["categories"]:
        allowed = "no limit" if c["allowed"] is None else f"{c['allowed']} allowed"
        offers = f"{c['offers']} offer{'' if c['offers'] == 1 else 's'}"
        typer.echo(
            f"  {c.get('label') or c['category']}: {offers} made ({allowed}), "
            f"committed {pounds_text(c['committed'])}"
        )


def _fits(row: dict[str, Any]) -> str:
    if row["offered"]:
        return "offered"
    return "yes" if row["fits"] else f"no: {row['stops']}"


def register(app: typer.Typer) -> None:
    app.add_typer(programme_app, name="programme")
