"""The unit of work: one transaction a face opens and every service takes.

A face (the command line, a web request, an API request, the sweep's step)
opens it; the services it calls do their reading and writing through it:

    with UnitOfWork(engine) as uow:
        claim_idempotency_key(uow, ...)              # the API's, in the same transaction
        lifecycle.advance(uow, ref, "offer", actor, expected_version=7)

It carries the connection, the moment the work is done at (`now`, read once
from the clock), the programme files read so far and the address book of
the emails it queues. Leaving the outermost block commits; an exception
rolls everything back, so a refusal writes nothing. A service given a unit
already open joins it (its own `with` does not commit); given an engine
instead (scripts, tests) it opens one of its own for the call. Opened on a
connection already in a transaction (a sweep step inside its batch), it is a
savepoint of that transaction: leaving it releases the savepoint, an
exception rolls back the unit's own work alone, and the caller commits.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from types import TracebackType

from sqlalchemy import Connection, Engine

from states.programme import ProgrammeSpec
from workflow import clock
from workflow.services import messages
from workflow.services import programme_files as programme_store
from workflow.storage.db import reading, savepoint

__all__ = ["UnitOfWork", "unit"]


class UnitOfWork:
    """One transaction with what every service of it shares (see the module's text)."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        connection: Connection | None = None,
        programmes: dict[str, ProgrammeSpec] | None = None,
        book: messages.AddressBook | None = None,
        read_only: bool = False,
    ) -> None:
        if (engine is None) == (connection is None):
            raise TypeError("a unit of work is opened on an engine or on a connection")
        if engine is None:
            assert connection is not None
            engine = connection.engine
        self.engine = engine
        self._given = connection
        self.read_only = read_only  # a page's reads: no write lock on SQLite, no commit
        self._programmes = {} if programmes is None else programmes
        self.book = book or messages.AddressBook()
        self._depth = 0
        self._stack: ExitStack | None = None
        self.conn: Connection
        self.now: datetime

    def __enter__(self) -> "UnitOfWork":
        if self._depth == 0:
            stack = ExitStack()
            if self._given is None and self.read_only:
                self.conn = stack.enter_context(reading(self.engine))
            elif self._given is None:
                self.conn = stack.enter_context(self.engine.begin())
            else:
                # A connection the caller keeps (the sweep's, for a whole run): a
                # transaction of its own, or a savepoint in the caller's (a sweep
                # step in its batch), which an exception rolls back alone.
                self.conn = self._given
                given = self._given
                stack.enter_context(savepoint(given) if given.in_transaction() else given.begin())
            self._stack = stack
            self.now = clock.now()
        self._depth += 1
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        # Returns None: a unit never swallows an exception (nor does anything it
        # entered), which tells a type checker that code after a `with` of it
        # runs only when the body finished.
        self._depth -= 1
        if self._depth == 0 and self._stack is not None:
            stack, self._stack = self._stack, None
            stack.__exit__(kind, error, trace)

    def spec(self, code: str) -> ProgrammeSpec:
        """Programme `code` as its file is now, read once per unit (or per sweep)."""
        spec = self._programmes.get(code)
        if spec is None:
            spec = self._programmes[code] = programme_store.spec_for(self.conn, code)
        return spec


def unit(work: "UnitOfWork | Engine", *, read_only: bool = False) -> UnitOfWork:
    """The unit a service runs in: the one its caller opened, or a new one on an engine
    (`read_only` for a service that only reads)."""
    return work if isinstance(work, UnitOfWork) else UnitOfWork(work, read_only=read_only)
