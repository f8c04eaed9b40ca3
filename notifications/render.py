"""Rendering a message kind from its three templates.

The templates are files shipped in the `templates` package, and a missing
variable is an error, never a blank. Jinja2's environment lives in
notifications/templating.py, imported at the first render: a command that
renders no message (`casework case list`) does not pay for Jinja2.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from states import dates

_TEXT_WIDTH = 72


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


# Days and folded lines already written, kept for the next message: a sweep's
# messages share their due dates and most of their paragraphs. Emptied when
# full, so a long-running process holds at most a few thousand of each; a line
# longer than a template's own paragraphs (an answer quoted from an application)
# is folded and not kept, so they stay a few megabytes at most.
_KEPT = 4096
_KEPT_LINE = 800
_LONG_DAYS: dict[date, str] = {}
_FOLDED: dict[str, str] = {}


def longdate(value: date | datetime) -> str:
    """`Friday 4 April 2014`. A datetime is read as a day in England (states.dates)."""
    # Only dates and datetimes themselves are kept: equal ones are the same day
    # in England (aware datetimes equal are the same instant), and anything else
    # (an Undefined) goes to long_day to fail as it does.
    if type(value) is date or type(value) is datetime:
        found = _LONG_DAYS.get(value)
        if found is None:
            if len(_LONG_DAYS) >= _KEPT:
                _LONG_DAYS.clear()
            found = _LONG_DAYS[value] = dates.long_day(value)
        return found
    return dates.long_day(value)


def category_name(value: str) -> str:
    """A category's label as it reads inside a sentence: "Shared arrangement" -> "shared
    arrangement", "ESG top-up" stays; a bare code (`esg_top_up`) is made readable."""
    text = value.replace("_", " ")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


def render(kind: str, context: Mapping[str, Any]) -> Rendered:
    """Render the subject, text and HTML parts of one message kind.

    Raises jinja2.UndefinedError when the context lacks a variable a template
    uses, and ValueError for an unknown kind.
    """
    from notifications.templating import render_part, templates

    values = context if type(context) is dict else dict(context)
    subject, text, html = (render_part(template, values) for template in templates(kind))
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
        _folded(line) if len(line) > _TEXT_WIDTH else line for line in text.split("\n")
    )


def _folded(line: str) -> str:
    """`_fill(line)`, kept: a kind's fixed paragraphs recur in every message of it."""
    if len(line) > _KEPT_LINE:
        return _fill(line)
    found = _FOLDED.get(line)
    if found is None:
        if len(_FOLDED) >= _KEPT:
            _FOLDED.clear()
        found = _FOLDED[line] = _fill(line)
    return found


def _fill(line: str) -> str:
    """`textwrap.fill(line, 72, break_long_words=False, break_on_hyphens=False)`, faster.

    textwrap walks a line word by word in Python and was a quarter of the
    sweep's time; this cuts whole output lines with str.rfind. It is exact
    for lines whose only whitespace is the space (tests/notifications/
    test_wrap.py checks it against textwrap). A line with any other
    whitespace (a tab or a no-break space in a title) is rare and goes to
    textwrap itself rather than copy its tab expansion and Unicode rules
    here. Every whitespace character but the space is unprintable, so
    isprintable() is a cheap test; it also sends a few harmless lines (a
    soft hyphen) the slow way.
    """
    if not line.isprintable():
        return textwrap.fill(line, _TEXT_WIDTH, break_long_words=False, break_on_hyphens=False)
    width = _TEXT_WIDTH
    lines: list[str] = []
    rest = line
    while rest:
        if lines and rest[0] == " ":
            # textwrap drops the spaces a line would start with, except on the first line.
            rest = rest.lstrip(" ")
            if not rest:
                break
        if len(rest) <= width:
            end = len(rest)
        elif (rest[width] == " ") != (rest[width - 1] == " "):
            end = width  # a word or a run of spaces ends right at the margin
        elif rest[width] == " ":
            end = len(rest[:width].rstrip(" "))  # before the run of spaces that crosses the margin
        else:
            end = rest.rfind(" ", 0, width) + 1  # before the word that crosses the margin
        if end == 0:
            # The first word (or run of spaces) alone is wider than a line: it
            # gets a line of its own, unbroken.
            if rest[0] == " ":
                end = len(rest) - len(rest.lstrip(" "))
            else:
                end = rest.find(" ")
                if end < 0:
                    end = len(rest)
        # textwrap drops the run of spaces a line would end with.
        kept = rest[:end].rstrip(" ")
        if kept:
            lines.append(kept)
        rest = rest[end:]
    return "\n".join(lines)
