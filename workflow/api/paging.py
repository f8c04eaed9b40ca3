"""Cursor pagination: every list answers `{"items": [...], "next_cursor": ...}`.

A cursor is opaque to clients: a tagged value (the last id, reference or
position seen) in URL-safe base64. Lists are in a stable order, so a page
never repeats or skips an item that was there when the first page was read.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Sequence, TypeVar

from fastapi import Query

from workflow.api.problems import UnknownCursor

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "LimitQuery",
    "CursorQuery",
    "encode",
    "decode",
    "page_after",
    "page",
]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# What a cursor may hold: an id or position both databases can compare (a
# larger number overflowed SQLite's and PostgreSQL's integers: a 500), or a
# short reference.
MAX_CURSOR_INT = 2**53
MAX_CURSOR_TEXT = 80
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,400}$"

LimitQuery = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page (at most 500).")
CursorQuery = Query(
    None,
    max_length=400,
    pattern=CURSOR_PATTERN,
    description="`next_cursor` from the previous page (URL-safe base64, opaque).",
)

T = TypeVar("T")


def encode(tag: str, value: Any) -> str:
    raw = json.dumps([tag, value], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(cursor: str | None, tag: str, kind: type) -> Any:
    """The value inside `cursor` (None without one); UnknownCursor for anything else."""
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        found_tag, value = json.loads(raw.decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError):
        raise UnknownCursor() from None
    if found_tag != tag or not isinstance(value, kind) or isinstance(value, bool):
        raise UnknownCursor()
    if isinstance(value, int) and not 0 <= value < MAX_CURSOR_INT:
        raise UnknownCursor()
    if isinstance(value, str) and len(value) > MAX_CURSOR_TEXT:
        raise UnknownCursor()
    return value


def page(items: list[T], limit: int, next_value: Callable[[T], Any], tag: str) -> dict[str, Any]:
    """`items` fetched with limit+1: the page, and a cursor when there is more."""
    more = len(items) > limit
    shown = items[:limit]
    cursor = encode(tag, next_value(shown[-1])) if more and shown else None
    return {"items": shown, "next_cursor": cursor}


def page_after(
    items: Sequence[T], cursor: str | None, limit: int, key: Callable[[T], Any], tag: str
) -> dict[str, Any]:
    """A page of a short list held in memory, after the item whose key the cursor names."""
    start = 0
    after = decode(cursor, tag, (str, int))
    if after is not None:
        keys = [key(i) for i in items]
        if after not in keys:
            raise UnknownCursor()
        start = keys.index(after) + 1
    return page(list(items[start : start + limit + 1]), limit, key, tag)
