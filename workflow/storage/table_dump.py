"""Every table's rows as JSON lines, written from one database and read into another.

This is how a backup of a PostgreSQL database is made and restored (and how
a SQLite backup is restored into PostgreSQL): SQLAlchemy Core reads each
table through its declared columns, so times, dates and JSON come out as
Python values, and goes back in through the target's columns. No pg_dump is
needed, and the archive does not depend on the server's version.

`tables/<name>.jsonl`: the first line is the list of column names, then one
JSON array a row, in primary-key order.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

from sqlalchemy import Column, Connection, MetaData, Table, func, inspect, select, text

SKIPPED = {"alembic_version"}  # the schema's revision travels in the manifest instead
_BATCH = 2000


def declared_tables() -> dict[str, Table]:
    """The tables casework declares, by name (their types convert values both ways)."""
    from notifications.sqltypes import metadata
    import workflow.storage.tables  # noqa: F401  (declares every table on that MetaData)

    return dict(metadata.tables)


def tables_in(conn: Connection) -> list[Table]:
    """The database's own tables, parents before children, each with the columns it has,
    typed as casework declares them where it does (else as reflected).

    The columns are the database's, not the code's: `casework init` backs up a database
    before migrating it, when it lacks the columns the code's newest migrations add.
    """
    reflected = MetaData()
    reflected.reflect(conn)
    declared = declared_tables()
    return [
        _as_it_is(declared.get(t.name), t) for t in reflected.sorted_tables if t.name not in SKIPPED
    ]


def _as_it_is(declared: Table | None, there: Table) -> Table:
    """`declared` when the database has exactly its columns; else a table of the columns
    the database has, each with the declared type where casework declares one."""
    names = [c.name for c in there.columns]
    if declared is None:
        return there
    if sorted(names) == sorted(c.name for c in declared.columns):
        return declared
    columns = [
        Column(
            name,
            (declared.c[name] if name in declared.c else there.c[name]).type,
            primary_key=there.c[name].primary_key,
        )
        for name in names
    ]
    return Table(there.name, MetaData(), *columns)


def _key(table: Table) -> list:
    return list(table.primary_key.columns) or list(table.columns)


def rows_of(conn: Connection, table: Table) -> Iterator[tuple]:
    query = select(*table.columns).order_by(*_key(table))
    for row in conn.execution_options(yield_per=_BATCH).execute(query):
        yield tuple(row)


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} cannot go into a backup")


def dump(conn: Connection, into: Path) -> dict[str, int]:
    """Write every table under `into/tables/`; returns the rows written per table."""
    folder = into / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table in tables_in(conn):
        n = 0
        with (folder / f"{table.name}.jsonl").open("w", encoding="utf-8") as out:
            out.write(json.dumps([c.name for c in table.columns]) + "\n")
            for row in rows_of(conn, table):
                out.write(json.dumps(row, default=_plain, ensure_ascii=False) + "\n")
                n += 1
        counts[table.name] = n
    return counts


def read_dump(folder: Path, name: str) -> tuple[list[str], Iterator[list]]:
    """The column names and rows of one table written by `dump`."""
    f = (folder / "tables" / f"{name}.jsonl").open(encoding="utf-8")
    columns = json.loads(f.readline())

    def rows() -> Iterator[list]:
        with f:
            for line in f:
                yield json.loads(line)

    return columns, rows()


def _decoder(column: Any):
    kind_of = getattr(column.type, "impl_instance", column.type)  # a TypeDecorator's own type
    try:
        kind = kind_of.python_type
    except NotImplementedError:  # SQLAlchemy's word for a type with no Python type
        return None
    if kind is datetime:
        return datetime.fromisoformat
    if kind is date:
        return date.fromisoformat
    if kind is bytes:
        return base64.b64decode
    if kind is Decimal:
        return Decimal
    return None


def load(
    conn: Connection, table: Table, columns: list[str], rows: Iterable[Any], *, decode: bool
) -> int:
    """Insert `rows` (values in the order of `columns`) into `table`; returns how many.

    `decode` turns the text a dump holds back into times, dates and bytes;
    rows read from another database are values already.
    """
    decoders = [(_decoder(table.c[name]) if decode else None) for name in columns]
    batch: list[dict] = []
    n = 0
    for row in rows:
        batch.append(
            {
                name: (d(v) if d is not None and v is not None else v)
                for name, v, d in zip(columns, row, decoders)
            }
        )
        if len(batch) >= _BATCH:
            conn.execute(table.insert(), batch)
            n, batch = n + len(batch), []
    if batch:
        conn.execute(table.insert(), batch)
        n += len(batch)
    return n


def follow_ids(conn: Connection, table: Table) -> None:
    """On PostgreSQL, move a table's id sequence past the ids just inserted with it."""
    if conn.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        sequence = conn.execute(
            text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
        ).scalar()
        if sequence:
            top = conn.execute(select(func.max(column))).scalar()
            if top is not None:
                conn.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": top})


def has_table(conn: Connection, name: str) -> bool:
    return inspect(conn).has_table(name)
