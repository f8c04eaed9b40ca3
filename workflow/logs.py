"""Log lines: one line an event, for people by default, JSON for log shippers.

`CASEWORK_LOG_FORMAT=json` writes each event as one JSON object on one line
with `time` (ISO 8601, UTC), `level`, `event` (a dotted name such as
`case.moved`), and where they apply `case` (a reference), `person` (the
acting person's user name), `duration_ms`, then `message`. A traceback goes
into `error`, inside the same line. `CASEWORK_LOG_LEVEL` sets the level
(`serve` logs INFO by default, other commands WARNING).

What goes in: references, user names of staff and council officers acting,
triggers, states, counts and timings. What never does: email addresses,
document text, figures, reasons typed by people, IP addresses, query
strings (hence uvicorn's access log is off; `http.request` lines carry the
route's path only).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import datetime, timezone
from typing import IO, Any, Mapping

FIELDS = ("case", "person", "duration_ms")
_EXTRA = "casework"  # the attribute of a LogRecord that carries an event's fields


def event(
    logger: logging.Logger,
    name: str,
    message: str = "",
    *,
    level: int = logging.INFO,
    case: str | None = None,
    person: str | None = None,
    seconds: float | None = None,
    **fields: Any,
) -> None:
    """Log one event (cheap when the level is off: nothing is built)."""
    if not logger.isEnabledFor(level):
        return
    data: dict[str, Any] = {"event": name}
    if case is not None:
        data["case"] = case
    if person is not None:
        data["person"] = person
    if seconds is not None:
        data["duration_ms"] = round(seconds * 1000, 2)
    data.update(fields)
    logger.log(level, message or name, extra={_EXTRA: data})


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    data = dict(getattr(record, _EXTRA, None) or {})
    data.setdefault("event", record.name.removeprefix("casework.") or "log")
    return data


def _when(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": _when(record),
            "level": record.levelname,
            **_fields(record),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["error"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(data, ensure_ascii=False, default=str)


class HumanLines(logging.Formatter):
    """`2026-12-06T01:00:02.113+00:00 INFO case.moved TCA-2013-0001 carol 3.1 ms: submit …`."""

    def format(self, record: logging.LogRecord) -> str:
        data = _fields(record)
        parts = [_when(record), record.levelname, data.pop("event")]
        for key in FIELDS:
            value = data.pop(key, None)
            if value is not None:
                parts.append(f"{value} ms" if key == "duration_ms" else str(value))
        line = " ".join(parts) + ": " + record.getMessage().replace("\n", " ")
        if record.exc_info and record.exc_info[1] is not None:
            err = record.exc_info[1]
            line += f" [{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}]"
        return line


def configure(
    environ: Mapping[str, str] = os.environ,
    *,
    default_level: str = "WARNING",
    stream: IO[str] | None = None,
) -> None:
    """Send every logger's lines to `stream` (stderr) in the chosen format and level."""
    fmt = environ.get("CASEWORK_LOG_FORMAT", "").strip().lower()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines() if fmt == "json" else HumanLines())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    level = environ.get("CASEWORK_LOG_LEVEL", "").strip().upper() or default_level
    # Libraries speak only when something is wrong (transitions would log
    # every callback of every move); our own loggers at the chosen level.
    root.setLevel(logging.WARNING)
    logging.getLogger("casework").setLevel(getattr(logging, level, logging.WARNING))
    logging.captureWarnings(True)
