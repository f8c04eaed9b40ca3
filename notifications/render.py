"""Rendering a message kind from its three templates.

One Environment, built once at import: templates are files shipped in the
`templates` package, and a missing variable is an error, never a blank.
"""
from __future__ import annotations

import importlib.resources
import textwrap
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from notifications.kinds import PARTS, template_name
from states import dates

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
    """`Friday 4 April 2014`. A datetime is read as a day in England (states.dates)."""
    return dates.long_day(value)


def category_name(value: str) -> str:
    """`shared_arrangement` -> `shared arrangement`; unknown codes read as words."""
    return _CATEGORIES.get(value, value.replace("_", " "))


# What getattr() finds on a dict instance: only these names can shadow a key.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja2's Environment, with `case.title` on a plain dict found without an exception.

    Contexts are plain dicts, and Jinja2 tries getattr() before the item, so
    every `case.ref` raised and caught an AttributeError: some forty a
    message. The result is the same: a dict's own attributes (`items`) still
    win over its keys, and a missing key gives the same Undefined (same error).
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _environment() -> Environment:
    root = importlib.resources.files("templates")
    env = _Environment(
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
        # Unbounded, so a plain dict: layouts, includes and imports are looked
        # up on every render, and the LRU's lock and reordering cost more than
        # the lookup. The templates are a fixed few dozen files.
        cache_size=-1,
    )
    # The email templates use none of Jinja2's default globals (range, dict,
    # lipsum, cycler, joiner, namespace). With them, every render context (five
    # or six a message: three parts and their includes) copied them out of a
    # ChainMap, about 7 µs each. A template that needs one fails loudly
    # (StrictUndefined); add just that one back.
    env.globals.clear()
    env.filters["longdate"] = longdate
    env.filters["moment"] = dates.moment      # 2:56pm, 3 March 2014
    env.filters["category_name"] = category_name
    return env


_ENV = _environment()
# kind -> its (subject, text, HTML) templates, so a render skips building the
# three names and Jinja2's loader lookup. Filled on first use of each kind.
_TEMPLATES: dict[str, tuple[Template, Template, Template]] = {}


def _templates(kind: str) -> tuple[Template, Template, Template]:
    found = _TEMPLATES.get(kind)
    if found is None:
        # template_name raises ValueError for an unknown kind, which is never stored.
        subject, text, html = (_ENV.get_template(template_name(kind, part)) for part in PARTS)
        found = _TEMPLATES[kind] = (subject, text, html)
    return found


def render(kind: str, context: Mapping) -> Rendered:
    """Render the subject, text and HTML parts of one message kind.

    Raises jinja2.UndefinedError when the context lacks a variable a template
    uses, and ValueError for an unknown kind.
    """
    subject, text, html = (template.render(context) for template in _templates(kind))
    # A subject is one header line: template line breaks and any in user text
    # (a title with a newline) become single spaces.
    return Rendered(subject=" ".join(subject.split()), text=_wrap(text), html=html)


def _wrap(text: str) -> str:
    """Fold each line of the text part at 72 columns.

    Text templates keep one paragraph to a line, so dynamic values (a long
    council name, a title) don't leave ragged lines. Addresses are never
    broken, so a link stays clickable.
    """
    return "\n".join(_fill(line) if len(line) > _TEXT_WIDTH else line for line in text.split("\n"))


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
            end = width                          # a word or a run of spaces ends right at the margin
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
