"""`casework notify templates|receipts`: GOV.UK Notify, when CASEWORK_MAIL=notify."""

from __future__ import annotations

import os

import typer

from workflow.cli import summary
from workflow.cli._common import JSON_OPT, emit, engine

notify_app = typer.Typer(help=summary("notify"), no_args_is_help=True)


@notify_app.command("templates", short_help="The Notify templates to create, kind by kind.")
def templates(as_json: bool = JSON_OPT) -> None:
    """For each message kind, the subject and body of a Notify template of its own, in Notify's
    ((placeholder)) syntax, the placeholders it is given filled in, and which template the
    settings give it."""
    from notifications.notify_templates import (
        NotifyTemplates,
        template_rows,
        template_sheet,
        templates_from_env,
    )

    try:
        chosen: NotifyTemplates | None = templates_from_env(os.environ)
    except ValueError:
        chosen = None  # not set up yet: this is how to set it up
    if as_json:
        emit(template_rows(chosen), True)
    else:
        typer.echo(template_sheet(chosen))


@notify_app.command("receipts", short_help="Ask Notify what became of the messages sent.")
def receipts(as_json: bool = JSON_OPT) -> None:
    """Ask Notify for the status of every message still on its way, once, and record it
    (`casework serve` does this every minute)."""
    from workflow.runtime import mail

    report = mail.poll_receipts(engine())
    counts = {
        "delivered": report.delivered,
        "dead": report.dead,
        "retrying": report.retrying,
        "waiting": report.waiting,
    }
    emit(counts, True) if as_json else typer.echo(str(report))


def register(app: typer.Typer) -> None:
    app.add_typer(notify_app, name="notify")
