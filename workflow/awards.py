"""The fund ledger's side of an award: an offer reserves, a decline or termination releases."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, case, func, select

from workflow.models import ledger, programmes

if TYPE_CHECKING:
    from workflow.effects import MoveDone


def lock_fund(conn: Connection, programme: str) -> None:
    """Hold the programme row until commit, so two offers are weighed one after the other.

    On SQLite the write transaction (BEGIN IMMEDIATE) already serialises them.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(select(programmes.c.code).where(programmes.c.code == programme)
                     .with_for_update())


def reserve(done: "MoveDone") -> None:
    c = done.case
    done.conn.execute(ledger.insert().values(
        programme=c.programme, case_id=c.id, category=c.category, entry="reserve",
        amount_pence=c.amount_pence, at=done.now))


def release(done: "MoveDone") -> None:
    """Give back what this case still holds (no payments are made before monitoring ends)."""
    c = done.case
    held = reserved_for(done.conn, c.id)
    if held:
        done.conn.execute(ledger.insert().values(
            programme=c.programme, case_id=c.id, category=c.category, entry="release",
            amount_pence=held, at=done.now))


def held_pence(conn: Connection, *, programme: str | None = None, case_id: int | None = None,
               leave_out_case: int | None = None, category: str | None = None) -> int:
    """What the fund ledger holds: reserved minus released, over the rows the filters keep."""
    signed = case((ledger.c.entry == "reserve", ledger.c.amount_pence),
                  else_=-ledger.c.amount_pence)
    q = select(func.coalesce(func.sum(signed), 0))
    for column, value in ((ledger.c.programme, programme), (ledger.c.case_id, case_id),
                          (ledger.c.category, category)):
        if value is not None:
            q = q.where(column == value)
    if leave_out_case is not None:
        q = q.where(ledger.c.case_id != leave_out_case)
    return int(conn.execute(q).scalar() or 0)


def reserved_for(conn: Connection, case_id: int) -> int:
    return held_pence(conn, case_id=case_id)
