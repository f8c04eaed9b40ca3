"""The fund ledger's side of an award: an offer reserves, a decline or termination releases.

Each row carries the programme's running balance (`balance_pence`: reserved
minus released once the row is written), so the committed total is the
latest row's balance, read from an index, instead of a sum over every row;
the rows themselves still explain it. A row is written only while the
programme row is held (`lock_fund`), so the balance it starts from is the
latest one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, case, func, select

from workflow.storage.tables import ledger, programmes
from workflow.storage.prepared import Prepared

if TYPE_CHECKING:
    from datetime import datetime

    from workflow.services.effects import MoveDone

_SIGNED = case((ledger.c.entry == "reserve", ledger.c.amount_pence), else_=-ledger.c.amount_pence)

# The hot statements, prepared once.
_LOCK_FUND = Prepared(
    select(programmes.c.code).where(programmes.c.code == bindparam("programme")).with_for_update()
)


def _latest_balance(param: str) -> Any:
    """The balance on the latest ledger row of the programme bound as `param`.

    Read by ix_ledger_programme_id.
    """
    return (
        select(ledger.c.balance_pence)
        .where(ledger.c.programme == bindparam(param))
        .order_by(ledger.c.id.desc())
        .limit(1)
    )


_BALANCE = _latest_balance("programme")
_HELD_BY_CASE = select(func.coalesce(func.sum(_SIGNED), 0)).where(
    ledger.c.case_id == bindparam("case_id")
)  # ix_ledger_case
_COMMITTED_LESS_CASE = Prepared(
    select(func.coalesce(_BALANCE.scalar_subquery(), 0) - _HELD_BY_CASE.scalar_subquery())
)
# A new row's balance is the latest one's plus or minus its amount, read in
# the INSERT itself. (Parameters named after a column are reserved for it.)
_ENTER = Prepared(
    ledger.insert().values(
        programme=bindparam("fund"),
        case_id=bindparam("case"),
        category=bindparam("kind"),
        entry=bindparam("what"),
        amount_pence=bindparam("amount"),
        at=bindparam("when"),
        balance_pence=func.coalesce(_latest_balance("fund").scalar_subquery(), 0)
        + bindparam("signed"),
    )
)
_HELD = Prepared(_HELD_BY_CASE)


def lock_fund(conn: Connection, programme: str) -> None:
    """Hold the programme row until commit, so two offers are weighed one after the other
    and two ledger rows never start from the same balance.

    On SQLite the write transaction (BEGIN IMMEDIATE) already serialises them.
    """
    if conn.dialect.name == "postgresql":
        _LOCK_FUND.first(conn, {"programme": programme})


def reserve(done: "MoveDone") -> None:
    c = done.case
    _enter(done.conn, c, "reserve", c.pence, done.now)


def release(done: "MoveDone") -> None:
    """Give back what this case still holds, less what has been paid of it (that money
    left the fund: a termination after payments keeps it committed, and any of it the
    council owes back is a recovery, workflow.services.payments.recover)."""
    from workflow.services.payments import paid_pence

    c = done.case
    held = reserved_for(done.conn, c.id) - paid_pence(done.conn, c.id)
    if held:
        _enter(done.conn, c, "release", held, done.now)


def release_unscheduled(done: "MoveDone") -> None:
    """The award completed: what no payment will ever carry goes back to the fund (a tranche
    whose event never came, such as the last return's when that return was waived). What
    is paid, or due and still to be paid, stays committed. A programme that pays outside
    casework (`no_payments`) keeps the whole award committed. The lead council is told
    what was released and why, by an email queued in the same transaction."""
    from workflow.services.payments import scheduled_pence, tell_released

    if not done.spec.tranches:
        return
    c = done.case
    unscheduled = reserved_for(done.conn, c.id) - scheduled_pence(done.conn, c.id)
    if unscheduled > 0:
        _enter(done.conn, c, "release", unscheduled, done.now)
        tell_released(done, unscheduled)


def vary(conn: Connection, case: Any, difference: int, now: "datetime") -> None:
    """An approved variation's ledger row: an increase reserves the difference, a decrease
    releases it (nothing for none). The caller holds the programme row (`lock_fund`)."""
    if difference > 0:
        _enter(conn, case, "reserve", difference, now)
    elif difference < 0:
        _enter(conn, case, "release", -difference, now)


def _enter(conn: Connection, c: Any, entry: str, amount: int, now: "datetime") -> None:
    # The move already holds the programme row: lifecycle.advance takes it first for
    # every move that writes the ledger (T(moves_funds=True)) or whose rules read it.
    _ENTER.rowcount(
        conn,
        {
            "fund": c.programme,
            "case": c.id,
            "kind": c.category,
            "what": entry,
            "amount": amount,
            "when": now,
            "signed": amount if entry == "reserve" else -amount,
        },
    )


def balance_pence(conn: Connection, programme: str) -> int:
    """The programme's committed total: the balance on its latest ledger row (0 without rows)."""
    return int(conn.execute(_BALANCE, {"programme": programme}).scalar() or 0)


def committed(conn: Connection, programme: str, *, leave_out_case: int | None = None) -> int:
    """The programme's committed total, less what `leave_out_case` holds (one query)."""
    if leave_out_case is None:
        return balance_pence(conn, programme)
    return int(
        _COMMITTED_LESS_CASE.scalar(conn, {"programme": programme, "case_id": leave_out_case})
    )


def held_pence(
    conn: Connection,
    *,
    programme: str | None = None,
    case_id: int | None = None,
    leave_out_case: int | None = None,
    category: str | None = None,
) -> int:
    """What the fund ledger holds: reserved minus released, added up over the rows the filters keep.

    Reads every row it keeps; the programme's whole total is `balance_pence`.
    """
    q = select(func.coalesce(func.sum(_SIGNED), 0))
    for column, value in (
        (ledger.c.programme, programme),
        (ledger.c.case_id, case_id),
        (ledger.c.category, category),
    ):
        if value is not None:
            q = q.where(column == value)
    if leave_out_case is not None:
        q = q.where(ledger.c.case_id != leave_out_case)
    return int(conn.execute(q).scalar() or 0)


def reserved_for(conn: Connection, case_id: int) -> int:
    """What one case holds now: its own rows, found by ix_ledger_case."""
    return int(_HELD.scalar(conn, {"case_id": case_id}) or 0)
