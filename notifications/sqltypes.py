"""What every table shares (workflow's and the outbox's): the MetaData they are declared on,
and the column type for times."""

from __future__ import annotations

from datetime import datetime, timezone


from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# One MetaData for every table: the outbox is declared on it here (notifications
# never imports workflow/), and workflow/storage/tables.py declares the rest.
metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on the way in and out, whatever the database.

    SQLite drops UTC offsets (a `+01:00` value would be stored as naive local
    time and compare wrongly), so every value is converted to UTC first and
    read back as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must carry a zone")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
