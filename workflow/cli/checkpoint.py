"""`casework checkpoint list|show|submit|accept|query|waive`: monitoring returns."""

from pathlib import Path
from typing import Optional

import typer

from workflow.services import attachments, monitoring
from workflow.cli import summary
from workflow.cli._common import (
    AS_OPT,
    AS_READ_OPT,
    Reader,
    JSON_OPT,
    REASON_OPT,
    RETURN_REF,
    emit,
    engine,
    refuse_unknown_filters,
    worded_keys,
)
from states import DEFINITIONS
from workflow.cli import _words
from workflow.cli.case import _directory, read_document
from workflow.errors import Malformed
from workflow.services.engine import allowed_triggers

checkpoint_app = typer.Typer(help=summary("checkpoint"), no_args_is_help=True)

LIST_COLUMNS = ["ref", "state", "due", "level", "next", "case_state", "title", "allowed now"]
_RETURN = DEFINITIONS["checkpoint"]


@checkpoint_app.command("list")
def list_(
    case: Optional[str] = typer.Option(
        None, "--case", metavar="REF", help="Only this case's returns."
    ),
    overdue: bool = typer.Option(False, "--overdue", help="Only overdue or escalated ones."),
    state: Optional[str] = typer.Option(None, "--state", metavar="STATE"),
    org: Optional[str] = typer.Option(
        None, "--org", metavar="CODE", help="Cases this organisation leads or is a partner in."
    ),
    actor: Optional[str] = AS_READ_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Returns by due date."""
    reader = Reader(actor)
    reader.check_case(case)
    rows = monitoring.list_checkpoints(
        engine(), case=case, overdue=overdue, state=state, org=reader.org(org)
    )
    if not rows:
        refuse_unknown_filters(case=case, org=org)
    # What each return allows next, for the person asking (anyone, without --as): the
    # engine's allowed_triggers, as `case list` and `checkpoint show` give a case's.
    for r in rows:
        r["allowed_triggers"] = allowed_triggers(_RETURN, r["state"], reader.actor, r["lead"])
    if as_json:
        emit(rows, True)
    else:
        _, specs = _directory()
        emit(
            [
                {
                    **_words.checkpoint_row(r, specs.get(r.get("programme"))),
                    "allowed now": ", ".join(
                        f"{_RETURN.trigger_label(t)} ({t})" for t in r["allowed_triggers"]
                    ),
                }
                for r in rows
            ],
            False,
            LIST_COLUMNS,
        )


@checkpoint_app.command("show")
def show(
    ref: str = RETURN_REF, actor: Optional[str] = AS_READ_OPT, as_json: bool = JSON_OPT
) -> None:
    """One return: state, figures, evidence file, its ladder and history."""
    Reader(actor).check_case(ref.split("/")[0])
    cp = monitoring.get_checkpoint(engine(), ref, actor)
    if as_json:
        emit(cp, True)
        return
    names, specs = _directory()
    spec = specs.get(cp["programme"])
    shown = _words.checkpoint_row(cp, spec)
    shown["lead"] = names.get(cp["lead"], cp["lead"])  # the council by name, as case show
    shown["allowed_triggers"] = [
        f"{_RETURN.trigger_label(t)} ({t})" for t in cp["allowed_triggers"]
    ]
    shown["figures"] = shown.get("figures") or "(none)"
    emit(
        worded_keys(
            {
                k: v
                for k, v in shown.items()
                if k not in ("ladder", "history", "fields", "next_step")
            },
            ref="reference",
            allowed_triggers="allowed now",
            submitted_at="submitted on",
            lead="lead council",
        ),
        False,
    )
    typer.echo("ladder:")
    width = max((len(_words.step_label(s["name"], spec)) for s in cp["ladder"]), default=0)
    # A step held while the case was suspended is recorded as done but was never taken.
    held = {h["payload"].get("step") for h in cp["history"] if h["trigger"] == "held"}
    for step in cp["ladder"]:
        mark = "held" if step["name"] in held else "done" if step["done"] else ""
        typer.echo(
            f"  {mark:<4}  "
            f"{_words.step_label(step['name'], spec):<{width}}  {_words.when(step['at'])}"
        )


def _attachment(path: Optional[Path]) -> Optional[tuple[str, bytes]]:
    if path is None:
        return None
    try:
        size = path.stat().st_size
        if size > attachments.MAX_BYTES:  # refused before reading it all in
            raise Malformed(
                "The attachment",
                [
                    f"{path.name} is {size / 1024 / 1024:.1f} MB; the limit is "
                    f"{attachments.MAX_BYTES // 1024 // 1024} MB"
                ],
            )
        return path.name, path.read_bytes()
    except OSError as err:
        raise Malformed(f"{path}", [f"cannot be read: {err.strerror or err}"]) from None


@checkpoint_app.command("submit", short_help="Submit a return (a person of the lead council).")
def submit(
    ref: str = RETURN_REF,
    actor: str = AS_OPT,
    from_file: Optional[Path] = typer.Option(
        None, "--from-file", metavar="FILE", dir_okay=False, help="The return (JSON or TOML)."
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
    """Submit a return, for the council (a person of the lead organisation, or a caseworker)."""
    figures = read_document(from_file) if from_file is not None else {}
    cp = monitoring.submit_return(
        engine(), ref, actor, figures=figures, attachment=_attachment(attach)
    )
    emit(cp, True) if as_json else typer.echo(
        f"{cp['ref']} is now {_RETURN.state_label(cp['state'])}"
    )


def _decision(trigger: str, doc: str):
    def command(
        ref: str = RETURN_REF,
        actor: str = AS_OPT,
        reason: Optional[str] = REASON_OPT,
        as_json: bool = JSON_OPT,
    ) -> None:
        cp = monitoring.decide_return(engine(), ref, trigger, actor, reason=reason)
        emit(cp, True) if as_json else typer.echo(
            f"{cp['ref']} is now {_RETURN.state_label(cp['state'])}"
        )

    command.__doc__ = doc
    return command


checkpoint_app.command("accept")(_decision("accept", "Accept a submitted return (caseworker)."))
checkpoint_app.command("query", short_help="Send a submitted return back with a question.")(
    _decision(
        "query", "Send a submitted return back with a question (caseworker; --reason required)."
    )
)
checkpoint_app.command("waive", short_help="Excuse a return (caseworker, with a reason).")(
    _decision("waive", "Excuse a return that is not finished (caseworker; --reason required).")
)


def register(app: typer.Typer) -> None:
    app.add_typer(checkpoint_app, name="checkpoint")
