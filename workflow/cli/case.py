"""`casework case open|amend|advance|assign|show|list|history`."""

import sys
from pathlib import Path
from typing import Any, Optional

import typer

from workflow.cli import importing, summary
from workflow.cli import _words
from workflow.cli._common import (
    AS_OPT,
    AS_READ_OPT,
    STATE,
    Reader,
    CASE_REF,
    JSON_OPT,
    REASON_OPT,
    emit,
    engine,
    refuse_unknown_filters,
)
from workflow.errors import Malformed

case_app = typer.Typer(help=summary("case"), no_args_is_help=True)

LIST_COLUMNS = ["ref", "kind", "programme", "state", "title", "lead", "caseworker", "amount"]
HISTORY_COLUMNS = [
    "seq",
    "at",
    "about",  # the return, payment or variation the row is about: Q2, P1, V1
    "trigger",
    "from",
    "to",
    "actor",
    "role",
    "reason",
    "hash",
]


def read_document(path: Path) -> dict:
    from states.documents import load_document
    from states.errors import DocumentError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise Malformed(f"{path}", [f"cannot be read: {err}"]) from None
    try:
        return load_document(text, path.suffix.lower())
    except DocumentError as err:
        raise Malformed(f"{path.name}", err.problems) from None


@case_app.command("open", short_help="Open a bid or an area from its document.")
def open_(
    kind: str = typer.Argument(..., metavar="bid|area", help="What the document is."),
    from_file: Path = typer.Option(
        ...,
        "--from-file",
        metavar="FILE",
        exists=True,
        dir_okay=False,
        help="The document, JSON or TOML.",
    ),
    actor: str = AS_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Open a bid or a network area from its document; prints the new reference."""
    if kind not in ("bid", "area"):
        raise typer.BadParameter(f"'{kind}' is not bid or area", param_hint="KIND")
    with importing():
        from workflow.services import lifecycle  # reading needs none of what changes a case

    case = lifecycle.open_case(engine(), kind, read_document(from_file), actor)
    emit(case, True) if as_json else typer.echo(case["ref"])


@case_app.command("amend", short_help="Replace a case's application with a new version.")
def amend(
    ref: str = CASE_REF,
    from_file: Path = typer.Option(
        ...,
        "--from-file",
        metavar="FILE",
        exists=True,
        dir_okay=False,
        help="The whole new document, JSON or TOML.",
    ),
    actor: str = AS_OPT,
    reason: Optional[str] = REASON_OPT,
    if_version: Optional[int] = typer.Option(
        None,
        "--if-version",
        metavar="N",
        min=1,
        help="The case's version you read (`case show --json`'s `version`): refused, "
        "writing nothing, if the case has changed since (the API's If-Match).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Amend a draft (or a bid waiting for the council's answer): the document becomes the
    application's next version; every earlier one stays readable (`case show --version N`)."""
    with importing():
        from workflow.services import applications

    case = applications.amend(
        engine(), ref, read_document(from_file), actor, reason=reason, expected_version=if_version
    )
    if as_json:
        emit(case, True)
        return
    typer.echo(
        f"{case['ref']}: application version {case['application_version']} "
        f"(changed: {', '.join(case['changed'])})"
    )


@case_app.command("advance", short_help="Fire a trigger on a case.")
def advance(
    ref: str = CASE_REF,
    trigger: str = typer.Argument(..., metavar="TRIGGER", help="What to do, e.g. submit or check."),
    actor: str = AS_OPT,
    reason: Optional[str] = REASON_OPT,
    as_json: bool = JSON_OPT,
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Do a move that cannot be undone without being asked first."
    ),
) -> None:
    """Fire a trigger on a case (`case show REF --as NAME` lists what you may fire).

    At a terminal, a move that cannot be undone (terminate, withdraw …) says what it
    does and asks before it is done; scripts, `--json` and `--yes` are not asked.
    """
    with importing():
        from workflow.services import lifecycle

    if not (yes or as_json or reason is None) and sys.stdin.isatty() and sys.stdout.isatty():
        _ask_first(ref, trigger, actor)
    case = lifecycle.advance(engine(), ref, trigger, actor, reason=reason)
    if as_json:
        emit(case, True)
        return
    state = _words.state_label(case["state"], case["kind"])
    if _words.keeps_state(trigger, case["kind"]):
        done = _words.trigger_label(trigger, case["kind"])
        typer.echo(f"{case['ref']}: {actor} did '{done}'; it is still {state}")
    else:
        typer.echo(f"{case['ref']} is now {state}")


def _ask_first(ref: str, trigger: str, actor_name: str) -> None:
    """Ask before a move its definition says cannot be undone (DESIGN.md section 12); a
    "no" changes nothing. A move this person may not make from this state (or one without
    a reason) is not asked about: the service refuses it, in its own words."""
    from states import DEFINITIONS
    from workflow.services import directory, reads  # imported with lifecycle, by `advance`
    from workflow.services.engine import allowed_triggers
    from workflow.storage.db import reading

    with reading(engine()) as conn:
        case = reads.load_case(conn, ref)
        actor = directory.actor(conn, actor_name)
    definition = DEFINITIONS[case.kind]
    consequence = definition.confirmation(trigger)
    if not consequence or trigger not in allowed_triggers(definition, case.state, actor, case.lead):
        return
    typer.echo(f"{definition.trigger_label(trigger)} {case.ref}: {consequence}")
    if not typer.confirm("Are you sure?", default=False):
        typer.echo(
            f"Nothing was changed: {case.ref} is still {_words.state_label(case.state, case.kind)}."
        )
        raise typer.Exit(1)


@case_app.command("assign")
def assign(
    ref: str = CASE_REF,
    to: str = typer.Option(..., "--to", metavar="NAME", help="The caseworker to hand the case to."),
    actor: str = AS_OPT,
    reason: Optional[str] = REASON_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Hand a case to another caseworker (they are told by email)."""
    with importing():
        from workflow.services import assignment

    case = assignment.assign(engine(), ref, to, actor, reason=reason)
    emit(case, True) if as_json else typer.echo(
        f"{case['ref']} is now assigned to {case['caseworker']}"
    )


@case_app.command("show", short_help="One case: its state, what may be fired, its document.")
def show(
    ref: str = CASE_REF,
    actor: Optional[str] = AS_READ_OPT,
    version: Optional[int] = typer.Option(
        None,
        "--version",
        metavar="N",
        min=1,
        help="Show version N of the application (1 is what was opened).",
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """One case: its state, version, what may be fired, and its application
    (with --version N, the application as it was in version N)."""
    if version is None:
        with importing():
            from workflow.services import reads

        case = reads.show(engine(), ref, actor)
    else:
        with importing():
            from workflow.services import applications

        case = applications.show_version(engine(), ref, version, actor)
    if as_json:
        emit(case, True)
        return
    names, spec = _names_and_spec(case["programme"])
    shown = _words.case_listing(case, lead_names=names, spec=spec)
    if version is not None:
        shown = _words.with_application_version(shown, case["application_version"])
    emit(shown, False)


@case_app.command("list")
def list_(
    state: Optional[str] = typer.Option(None, "--state", metavar="STATE"),
    kind: Optional[str] = typer.Option(None, "--kind", metavar="bid|area"),
    programme: Optional[str] = typer.Option(None, "--programme", metavar="CODE"),
    actor: Optional[str] = AS_READ_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Cases, oldest first, filtered by state, kind or programme."""
    if actor is None and not as_json:
        # The table alone, on a SQLite file: its fields read without SQLAlchemy (most of
        # the command's start); None when it must be read as below.
        from workflow.services.case_table import table_rows

        quick = table_rows(STATE.db_url, state=state, kind=kind, programme=programme)
        if quick is not None:
            _table(*quick)
            return
    with importing():
        from workflow.services import reads

    reader = Reader(actor)
    rows = reads.list_cases(
        engine(),
        state=state,
        kind=kind,
        programme=programme,
        actor_name=actor,
        org=reader.org(None),
    )
    if not rows:
        refuse_unknown_filters(programme=programme)
    if as_json:
        emit(rows, True)
        return
    _table(rows, _directory(specs=False)[0])


def _table(rows: list[dict], names: dict[str, str]) -> None:
    """`case list`'s table for people, from the service's rows and organisations' names."""
    # An area's money is its agreed contribution to the network's running costs.
    # Only the columns shown are put into words (a thousand rows' times felt it).
    emit(
        [
            {
                **_words.case_row({k: r[k] for k in LIST_COLUMNS if k in r}, lead_names=names),
                "amount": r.get("amount") or r.get("contribution"),
            }
            for r in rows
        ],
        False,
        LIST_COLUMNS,
    )


@case_app.command("history")
def history(
    ref: str = CASE_REF, actor: Optional[str] = AS_READ_OPT, as_json: bool = JSON_OPT
) -> None:
    """A case's full history, oldest first, with its hash chain."""
    with importing():
        from workflow.services import reads

    Reader(actor).check_case(ref)
    rows = reads.case_history(engine(), ref)
    if as_json:
        emit(rows, True)
        return
    shown = reads.show(engine(), ref)
    spec = _directory()[1].get(shown["programme"])
    emit(
        [
            {
                **_words.history_row(r, shown["kind"]),
                **_diligence_words(r, spec),
                **_amendment_words(r),
                "hash": r["hash"][:12],
            }
            for r in rows
        ],
        False,
        HISTORY_COLUMNS,
    )


def _diligence_words(row: dict, spec: Any) -> dict:
    """A due-diligence row says which check and how it came out ("Due diligence recorded:
    Fraud risk, passed"), as the checklist does; the payload keeps the codes."""
    payload = row.get("payload") or {}
    if row["trigger"] != "diligence" or spec is None or "check" not in payload:
        return {}
    check = spec.diligence.get(payload["check"])
    label = check.label if check is not None else payload["check"]
    result = {"pass": "passed", "fail": "failed"}.get(payload.get("result"), payload.get("result"))
    return {"trigger": f"{_words.trigger_label('diligence', None)}: {label}, {result}"}


def _amendment_words(row: dict) -> dict:
    """An amendment says which version it made and what it changed ("Application amended:
    version 3, Title, Partners"), as the case page does; the payload keeps the codes."""
    payload = row.get("payload") or {}
    if row["trigger"] != "amend" or not isinstance(payload.get("application_version"), int):
        return {}
    from states.questions import field_label

    changed = ", ".join(field_label(f) for f in payload.get("changed") or ())
    said = f"version {payload['application_version']}" + (f", {changed}" if changed else "")
    return {"trigger": f"{_words.trigger_label('amend', None)}: {said}"}


def _directory(*, specs: bool = True) -> tuple[dict[str, str], dict]:
    """Organisations' names by code, and (unless `specs` is false) the programmes' rules by
    code, for people's words."""
    from workflow.services import directory as people
    from workflow.storage.db import reading

    with reading(engine()) as conn:
        names = {o["code"]: o["name"] for o in people.list_orgs(conn)}
        if not specs:
            return names, {}
        from sqlalchemy import select

        from workflow.services import programme_files as programmes

        return names, {
            code: programmes.spec_for(conn, code)
            for code in conn.execute(select(programmes.programmes.c.code)).scalars()
        }


def _names_and_spec(programme: str) -> tuple[dict[str, str], Any]:
    """Organisations' names by code, and the rules of `programme` alone (None if it has none):
    one case's page parses one programme file, not all of them."""
    from workflow.services import directory as people
    from workflow.services import programme_files as programmes
    from workflow.storage.db import reading

    with reading(engine()) as conn:
        return (
            {o["code"]: o["name"] for o in people.list_orgs(conn)},
            programmes.find_spec(conn, programme),
        )


def register(app: typer.Typer) -> None:
    app.add_typer(case_app, name="case")
