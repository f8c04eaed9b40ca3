"""Jinja2's environment for the email templates, built once, and each kind's templates.

Imported by notifications.render at the first message rendered (not before:
Jinja2 is a tenth of a second of a command's start-up).
"""

from __future__ import annotations

import importlib.resources
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from notifications.kinds import PARTS, template_name
from notifications.render import category_name, longdate
from states import dates

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
            enabled_extensions=("html",),
            disabled_extensions=("txt",),
            default_for_string=True,
            default=True,
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
    env.filters["moment"] = dates.moment  # 2:56pm, 3 March 2014
    env.filters["category_name"] = category_name
    return env


_ENV = _environment()
# kind -> its (subject, text, HTML) templates, so a render skips building the
# three names and Jinja2's loader lookup. Filled on first use of each kind.
_TEMPLATES: dict[str, tuple[Template, Template, Template]] = {}


def templates(kind: str) -> tuple[Template, Template, Template]:
    found = _TEMPLATES.get(kind)
    if found is None:
        # template_name raises ValueError for an unknown kind, which is never stored.
        subject, text, html = (_ENV.get_template(template_name(kind, part)) for part in PARTS)
        found = _TEMPLATES[kind] = (subject, text, html)
    return found
