"""`casework payment list|show|approve|pay|hold|release|export|recover`: payments of awards."""

from typing import Optional

import typer

from states import DEFINITIONS
from workflow.cli import _words, summary
from workflow.cli._common import (
    AS_OPT,
    AS_READ_OPT,
    Reader,
    CASE_REF,
    JSON_OPT,
    REASON_OPT,
    emit,
    engine,
    refuse_unknown_filters,
    worded_keys,
)
from workflow.services import payments

payment_app = typer.Typer(help=summary("payment"), no_args_is_help=True)

PAYMENT_REF = typer.Argument(..., metavar="REF", help="The payment, e.g. TCA-2013-0001/P2.")
LIST_COLUMNS = ["ref", "state", "amount", "due_on", "event", "reference"]
_PAYMENT = DEFINITIONS["payment"]


@payment_app.command("list", short_help="Payments, by case (filter by case, state, programme).")
def list_(
    case: Optional[str] = typer.Option(
        None, "--case", metavar="REF", help="Only this case's payments."
    ),
    state: Optional[str] = typer.Option(
        None, "--state", metavar="STATE", help="due, approved, held, paid or cancelled."
    ),
    programme: Optional[str] = typer.Option(None, "--programme", metavar="CODE"),
    actor: Optional[str] = AS_READ_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Payments by case: {ref, case, state, amount, due_on, event, reference} with --json."""
    reader = Reader(actor)
    reader.check_case(case)
    rows = payments.list_payments(
        engine(),
        case=case,
        state=state,
        programme=programme,
        org=reader.org(None),
        actor_name=actor,
    )
    if not rows:
        refuse_unknown_filters(case=case, programme=programme)
    if as_json:
        emit(rows, True)
    else:
        emit([_words.payment_row(r) for r in rows], False, ["case", *LIST_COLUMNS])


@payment_app.command("show", short_help="One payment: state, amount, who approved and paid it.")
def show(
    ref: str = PAYMENT_REF, actor: Optional[str] = AS_READ_OPT, as_json: bool = JSON_OPT
) -> None:
    """One payment: its state, amount, who approved and paid it, and its history."""
    Reader(actor).check_case(ref.split("/")[0])
    pay = payments.get_payment(engine(), ref, actor)
    if as_json:
        emit(pay, True)
        return
    emit(
        worded_keys(
            {k: v for k, v in _words.payment_row(pay).items() if k != "history"},
            ref="reference",
            allowed_triggers="allowed now",
            reference="remittance reference",
        ),
        False,
    )


def _move(trigger: str, doc: str, *, reference: bool = False):
    if reference:

        def command(
            ref: str = PAYMENT_REF,
            actor: str = AS_OPT,
            remittance: Optional[str] = typer.Option(
                None,
                "--reference",
                metavar="TEXT",
                help="The remittance reference of the money paid.",
            ),
            reason: Optional[str] = REASON_OPT,
            as_json: bool = JSON_OPT,
        ) -> None:
            _done(
                payments.move(engine(), ref, trigger, actor, reason=reason, reference=remittance),
                as_json,
            )
    else:

        def command(
            ref: str = PAYMENT_REF,
            actor: str = AS_OPT,  # type: ignore[misc]
            reason: Optional[str] = REASON_OPT,
            as_json: bool = JSON_OPT,
        ) -> None:
            _done(payments.move(engine(), ref, trigger, actor, reason=reason), as_json)

    command.__doc__ = doc
    return command


def _done(pay: dict, as_json: bool) -> None:
    if as_json:
        emit(pay, True)
    else:
        typer.echo(f"{pay['ref']} is now {_PAYMENT.state_label(pay['state'])}")


payment_app.command(
    "approve", short_help="Approve a due payment (an approver, not the case's caseworker)."
)(_move("approve", "Approve a due payment (an approver who is not the case's caseworker)."))
payment_app.command("pay", short_help="Record an approved payment as paid (finance).")(
    _move(
        "pay",
        "Record an approved payment as paid, with its remittance reference (finance).",
        reference=True,
    )
)
payment_app.command("hold", short_help="Hold a payment (caseworker, with a reason).")(
    _move("hold", "Hold a due or approved payment (caseworker; --reason required).")
)
payment_app.command("release", short_help="Release a held payment (caseworker).")(
    _move("release", "Release a held payment: it is due again and needs approving (caseworker).")
)


@payment_app.command("export", short_help="A payment run for the finance system (CSV).")
def export(
    state: Optional[str] = typer.Option(
        None, "--state", metavar="STATE", help="Payments in this state (approved)."
    ),
    fmt: str = typer.Option("csv", "--format", metavar="FORMAT", help="csv"),
    programme: Optional[str] = typer.Option(None, "--programme", metavar="CODE"),
) -> None:
    """Payments as CSV: payee code, 360Giving org id, name, amount, reference, case."""
    if fmt != "csv":
        raise typer.BadParameter(
            f"'{fmt}' is not a format this writes (csv)", param_hint="--format"
        )
    typer.echo(payments.export(engine(), state=state, programme=programme), nl=False)


@payment_app.command("recover", short_help="Record a terminated award's eligible spend.")
def recover(
    ref: str = CASE_REF,
    actor: str = AS_OPT,
    eligible: str = typer.Option(
        ..., "--eligible", metavar="POUNDS", help="What the council spent eligibly, in pounds."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """After a termination with payments: paid minus eligible spend is to be recovered."""
    done = payments.recover(engine(), ref, eligible, actor)
    if as_json:
        emit(done, True)
    else:
        typer.echo(
            f"{done['case']}: paid {_words.pounds_text(done['paid'])}, eligible "
            f"{_words.pounds_text(done['eligible'])}, to recover "
            f"{_words.pounds_text(done['recover'])}"
        )


def register(app: typer.Typer) -> None:
    app.add_typer(payment_app, name="payment")
