"""The history export as `casework audit export` writes it (DESIGN.md §6), for every face.

`chunks(rows, fmt)` turns rows from `history.stream` into text: a JSON list,
one row a line, or CSV with a header and the payload as JSON. The command line
writes the chunks to stdout; the web app and the API stream them (`streamed`
reads the rows in a connection of its own, held while the response is sent).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from workflow.storage.db import reading
from workflow.services.chain import stream

__all__ = ["COLUMNS", "FORMATS", "chunks", "streamed"]

COLUMNS = [
    "case",
    "seq",
    "checkpoint",
    "from_state",
    "to_state",
    "trigger",
    "actor",
    "role",
    "reason",
    "at",
    "payload",
    "hash",
    "prev_hash",
    "payment",
]
FORMATS = ("csv", "json")
_ROWS_A_CHUNK = 500


def chunks(rows: Iterable[dict[str, Any]], fmt: str) -> Iterator[str]:
    """The export of `rows` in `fmt` ("csv" or "json"), a piece at a time."""
    return _csv(rows) if fmt == "csv" else _json(rows)


def streamed(
    engine: Engine, fmt: str, case_id: int | None, since: datetime | None
) -> Iterator[str]:
    with reading(engine) as conn:
        yield from chunks(stream(conn, case_id=case_id, since=since), fmt)


def _csv(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for n, row in enumerate(rows, start=1):
        writer.writerow(
            {**row, "payload": json.dumps(row["payload"], sort_keys=True, ensure_ascii=False)}
        )
        if n % _ROWS_A_CHUNK == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


def _json(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for n, row in enumerate(rows):
        yield ("," if n else "") + "\n  " + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"
