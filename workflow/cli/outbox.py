"""`casework outbox list|show|deliver|retry`."""

from typing import List, Optional

import typer

from workflow.runtime import mail
from workflow.cli import summary
from workflow.cli import _words
from workflow.cli._common import AS_OPT, AS_READER_OPT, JSON_OPT, Reader, emit, engine

outbox_app = typer.Typer(help=summary("outbox"), no_args_is_help=True)


@outbox_app.command("list")
def list_(
    state: Optional[str] = typer.Option(None, "--state", metavar="queued|sent|dead"),
    actor: Optional[str] = AS_READER_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Messages, oldest first."""
    Reader(actor).require("outbox")
    rows = mail.list_messages(engine(), state)
    if as_json:
        emit(rows, True)
    else:
        emit(
            [{**_words.message_row(r), "to": ", ".join(r["to"])} for r in rows],
            False,
            ["id", "kind", "state", "to", "subject", "attempts", "last_error"],
        )


@outbox_app.command("show", short_help="One message as sent: headers, then its text.")
def show(
    id: int = typer.Argument(..., metavar="ID", help="From `outbox list`."),
    actor: Optional[str] = AS_READER_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """One message as it will be (or was) sent: headers, then the text part."""
    Reader(actor).require("outbox")
    row, text = mail.show(engine(), id)
    emit(row, True) if as_json else typer.echo(text, nl=not text.endswith("\n"))


@outbox_app.command("deliver")
def deliver(as_json: bool = JSON_OPT) -> None:
    """Send what is due now; prints what it did."""
    report = mail.deliver(engine())
    counts = {"sent": report.sent, "retrying": report.retrying, "dead": report.dead}
    emit(counts, True) if as_json else typer.echo(
        f"sent {report.sent}, retrying {report.retrying}, dead {report.dead}"
    )


@outbox_app.command("retry", short_help="Make messages due now, their tries reset.")
def retry(
    ids: List[int] = typer.Argument(None, metavar="ID", help="Message ids, from `outbox list`."),
    all_dead: bool = typer.Option(False, "--all-dead", help="Every dead message."),
    actor: str = typer.Option(
        ...,
        "--as",
        metavar="NAME",
        help="The caseworker sending them again (only a caseworker may).",
        callback=AS_OPT.callback,
    ),
) -> None:
    """Make messages due now with their tries reset (a caseworker's decision)."""
    if not ids and not all_dead:
        raise typer.BadParameter("give message ids or --all-dead")
    if ids and all_dead:  # the service would take --all-dead and pass over the ids unsaid
        raise typer.BadParameter("give message ids or --all-dead, not both")
    n = mail.retry(engine(), actor, ids=ids or (), all_dead=all_dead)
    typer.echo(f"{n} message{'s' if n != 1 else ''} queued again")


def register(app: typer.Typer) -> None:
    app.add_typer(outbox_app, name="outbox")
