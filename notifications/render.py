"""Rendering a message kind from its three templates.

One Environment, built once at import: templates are files shipped in the
`templates` package, and a missing variable is an error, never a blank.
"""
from __future__ import annotations

import importlib.resources
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from typing import Mapping
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from notifications.kinds import template_name

_LONDON = ZoneInfo("Europe/London")
# Fixed English names: strftime's %A and %B follow the process locale.
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July",
           "August", "September", "October", "November", "December")
_TEXT_WIDTH = 72
_CATEGORIES = {
    "single_operation": "single operation",
    "shared_arrangement": "shared arrangement",
    "esg_top_up": "Efficiency Support Grant top-up",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def longdate(value: date | datetime) -> str:
    """`Friday 4 April 2014`. An aware datetime is read as a day in England."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_LONDON)
        value = value.date()
    return f"{_DAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def category_name(value: str) -> str:
    """`shared_arrangement` -> `shared arrangement`; unknown codes read as words."""
    return _CATEGORIES.get(value, value.replace("_", " "))


def _environment() -> Environment:
    root = importlib.resources.files("templates")
    env = Environment(
        loader=FileSystemLoader(str(root)),
        # select_autoescape looks only at the last suffix, so templates are
        # named `*.body.html` / `*.txt`; anything that is not .txt is escaped,
        # so a template given an unexpected suffix fails safe.
        autoescape=select_autoescape(
            enabled_extensions=("html",), disabled_extensions=("txt",),
            default_for_string=True, default=True,
        ),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # files are package data; no stat() on every render
    )
    env.filters["longdate"] = longdate
    env.filters["category_name"] = category_name
    return env


_ENV = _environment()


def render(kind: str, context: Mapping) -> Rendered:
    """Render the subject, text and HTML parts of one message kind.

    Raises jinja2.UndefinedError when the context lacks a variable a template
    uses, and ValueError for an unknown kind.
    """
    subject, text, html = (
        _ENV.get_template(template_name(kind, part)).render(context)
        for part in ("subject.txt", "body.txt", "body.html")
    )
    # A subject is one header line: template line breaks and any in user text
    # (a title with a newline) become single spaces.
    return Rendered(subject=" ".join(subject.split()), text=_wrap(text), html=html)


def _wrap(text: str) -> str:
    """Fold each line of the text part at 72 columns.

    Text templates keep one paragraph to a line, so dynamic values (a long
    council name, a title) don't leave ragged lines. Addresses are never
    broken, so a link stays clickable.
    """
    return "\n".join(
        textwrap.fill(line, _TEXT_WIDTH, break_long_words=False, break_on_hyphens=False)
        if len(line) > _TEXT_WIDTH else line
        for line in text.split("\n")
    )
