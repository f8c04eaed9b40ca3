"""Statements of the hot path, compiled once per dialect and run on the driver connection.

A transition runs half a dozen statements. Through `Connection.execute` each
costs SQLAlchemy's execution context, about 40 µs; on the DB-API connection
under it, about 7 µs (LIBRARY-NOTES section 7). A `Prepared` statement is an
ordinary Core statement, compiled by SQLAlchemy for the connection's dialect
the first time it runs there; after that only the driver runs it, with
SQLAlchemy's own bind and result processing for each column's type (and,
for SQLite's text times, a quicker path to the same text), so what is
stored and read back is exactly what `Connection.execute` would store and
read (UTC times, JSON documents): tests/workflow/test_prepared.py holds it
to that.

It runs inside the caller's transaction: the `Connection` it is given owns
BEGIN and COMMIT, as everywhere else.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import date, datetime, timezone
from typing import Any, Callable, Generic, Mapping, Sequence, TypeVar, cast, overload

from sqlalchemy import Connection, Date
from sqlalchemy.exc import DBAPIError
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import TypeEngine

from notifications.sqltypes import UTCDateTime
from workflow.storage.records import _Record, maker

Processor = Callable[[Any], Any] | None


def _row_maker(keys: list[str]) -> Callable[[Sequence[Any]], Any]:
    """Rows as a named tuple that also answers `_mapping`, as SQLAlchemy's rows do."""
    base = namedtuple("Row", keys, rename=True)  # type: ignore[misc]  # the columns' names
    row: Any = type(
        "Row", (base,), {"__slots__": (), "_mapping": property(lambda self: self._asdict())}
    )
    return cast(Callable[[Sequence[Any]], Any], row._make)


class _Compiled:
    """One statement as one dialect runs it."""

    __slots__ = ("sql", "positional", "binds", "row", "readers")

    def __init__(self, stmt: ClauseElement, dialect: Dialect, record: type[_Record] | None = None):
        # SQLCompiler's attributes (positional, bind_names, positiontup) are
        # internals: hence sqlalchemy's upper bound in pyproject.toml.
        compiled: Any = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positional
        # The name each parameter has in the SQL text (anonymous ones get theirs here).
        by_name = {name: bind for bind, name in compiled.bind_names.items()}
        names = tuple(compiled.positiontup or ()) if self.positional else tuple(by_name)
        for name in names:
            if by_name[name].expanding:
                raise ValueError(f"{name}: an IN list must be of literal() values to be prepared")
        # (name, value written into the statement itself or _REQUIRED, processor)
        self.binds = tuple(
            (
                name,
                _REQUIRED if by_name[name].required else by_name[name].effective_value,
                _bind_processor(by_name[name].type, dialect),
            )
            for name in names
        )
        self.row: Callable[[Sequence[Any]], Any] | None = None
        self.readers: tuple[Processor, ...] = ()
        columns = getattr(stmt, "selected_columns", None)
        if columns is None:
            columns = getattr(stmt, "_returning", None) or None  # an INSERT ... RETURNING
        if columns is not None:
            keys = [c.key for c in columns]
            self.row = maker(record, keys) if record is not None else _row_maker(keys)
            self.readers = tuple(_result_processor(c.type, dialect) for c in columns)

    def bind(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        values = []
        for name, default, process in self.binds:
            value = params[name] if default is _REQUIRED else params.get(name, default)
            values.append(value if process is None or value is None else process(value))
        if self.positional:
            return values
        return {name: value for (name, _, _), value in zip(self.binds, values)}

    def read(self, raw: Sequence[Any]) -> Any:
        assert self.row is not None, "a statement that returns no rows was read"
        return self.row(
            [
                value if reader is None or value is None else reader(value)
                for reader, value in zip(self.readers, raw)
            ]
        )


_REQUIRED = object()
_UTC = timezone.utc


def _sqlite_time_in(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: times must carry a zone")
    return value.astimezone(_UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_time_out(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=_UTC)


def _bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    # SQLite keeps times as text; SQLAlchemy's own conversion is a %-format
    # and a regular expression, several times the cost of the ISO methods
    # that give the same text (tests/workflow/test_prepared.py compares them).
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _sqlite_time_in
    if dialect.name == "sqlite" and isinstance(type_, Date):
        return date.isoformat
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _sqlite_time_out
    if dialect.name == "sqlite" and isinstance(type_, Date):
        return date.fromisoformat
    return type_.dialect_impl(dialect).result_processor(dialect, None)


R = TypeVar("R")


class Prepared(Generic[R]):
    """A Core statement to run many times on the driver connection of a transaction.

    With `record` (workflow.storage.records), each row read is built as that
    record (`Prepared[CaseRecord]`); without, as a named tuple with `_mapping`.
    """

    __slots__ = ("stmt", "record", "_by_dialect")

    @overload
    def __init__(self: Prepared[Any], stmt: ClauseElement, record: None = None) -> None: ...
    @overload
    def __init__(self, stmt: ClauseElement, record: type[R]) -> None: ...

    def __init__(self, stmt: ClauseElement, record: type[Any] | None = None) -> None:
        self.stmt = stmt
        self.record = record
        self._by_dialect: dict[str, _Compiled] = {}

    def _for(self, conn: Connection) -> _Compiled:
        name = conn.dialect.name
        compiled = self._by_dialect.get(name)
        if compiled is None:
            compiled = self._by_dialect[name] = _Compiled(self.stmt, conn.dialect, self.record)
        return compiled

    def _run(self, conn: Connection, params: Mapping[str, Any]) -> tuple[_Compiled, Any]:
        compiled = self._for(conn)
        bound = compiled.bind(params)
        try:
            driver: Any = conn.connection.driver_connection  # a DB-API connection: untyped
            cursor = driver.execute(compiled.sql, bound)
        except conn.dialect.loaded_dbapi.Error as err:
            # The same exception Connection.execute raises (IntegrityError,
            # OperationalError...), so callers catch one family of errors.
            raise DBAPIError.instance(
                compiled.sql, bound, err, conn.dialect.loaded_dbapi.Error
            ) from err
        return compiled, cursor

    def many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run an INSERT (or UPDATE) once for each of `rows`, in order, as one executemany."""
        compiled = self._for(conn)
        bound = [compiled.bind(params) for params in rows]
        try:
            driver: Any = conn.connection.driver_connection  # a DB-API connection: untyped
            cursor = driver.cursor()  # (psycopg's connection has no executemany of its own)
            cursor.executemany(compiled.sql, bound)
            cursor.close()
        except conn.dialect.loaded_dbapi.Error as err:
            raise DBAPIError.instance(
                compiled.sql, bound, err, conn.dialect.loaded_dbapi.Error
            ) from err

    def rowcount(self, conn: Connection, params: Mapping[str, Any] = {}) -> int:
        """Run an UPDATE, INSERT or DELETE; the number of rows it touched."""
        _, cursor = self._run(conn, params)
        count: int = cursor.rowcount
        cursor.close()
        return count

    def first(self, conn: Connection, params: Mapping[str, Any] = {}) -> R | None:
        """The first row (with attribute access, values as SQLAlchemy reads them), or None."""
        compiled, cursor = self._run(conn, params)
        raw = cursor.fetchone()
        cursor.close()
        return None if raw is None else compiled.read(raw)

    def all(self, conn: Connection, params: Mapping[str, Any] = {}) -> list[R]:
        compiled, cursor = self._run(conn, params)
        rows = cursor.fetchall()
        cursor.close()
        return [compiled.read(raw) for raw in rows]

    def scalar(self, conn: Connection, params: Mapping[str, Any] = {}) -> Any:
        row = self.first(conn, params)
        return None if row is None else row[0]  # type: ignore[index]  # a row, not a record
