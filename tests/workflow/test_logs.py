"""Log lines: one line an event, JSON for log shippers, and no personal data in them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from workflow.logs import configure, event


@pytest.fixture
def lines(monkeypatch):
    """Configure logging as a command would, into a buffer; restore the root logger after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, logging.getLogger("casework").level)
    buffer = io.StringIO()

    def configured(**environ) -> io.StringIO:
        configure(environ, default_level="INFO", stream=buffer)
        return buffer

    yield configured
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.getLogger("casework").setLevel(saved[2])


def test_a_json_line_carries_time_level_event_case_person_and_duration(lines):
    out = lines(CASEWORK_LOG_FORMAT="json")

    event(
        logging.getLogger("casework.lifecycle"),
        "case.moved",
        "submit: draft -> submitted",
        case="TCA-2013-0001",
        person="carol",
        seconds=0.0031,
        trigger="submit",
    )

    record = json.loads(out.getvalue())
    assert record["event"] == "case.moved" and record["level"] == "INFO"
    assert record["case"] == "TCA-2013-0001" and record["person"] == "carol"
    assert record["duration_ms"] == 3.1 and record["trigger"] == "submit"
    assert record["time"].endswith("+00:00")


def test_a_traceback_stays_inside_its_one_json_line(lines):
    out = lines(CASEWORK_LOG_FORMAT="json")

    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        logging.getLogger("casework.sweep").exception("sweep failed")

    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "sweep" and "ValueError: first line" in record["error"]


def test_the_default_line_is_for_people_and_one_line_an_event(lines):
    out = lines()

    event(logging.getLogger("casework.sweep"), "sweep", "12 steps", seconds=1.5)
    try:
        raise RuntimeError("disk full\nmore")
    except RuntimeError:
        logging.getLogger("casework.backup").exception("backup failed")

    first, second = out.getvalue().splitlines()
    assert " INFO sweep 1500.0 ms: 12 steps" in first
    assert second.endswith("backup failed [RuntimeError: disk full]")


def test_below_the_level_nothing_is_written(lines):
    out = lines(CASEWORK_LOG_LEVEL="WARNING")

    event(logging.getLogger("casework.sweep"), "sweep", "12 steps")

    assert out.getvalue() == ""
