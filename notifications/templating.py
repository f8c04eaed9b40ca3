"""Jinja2's environment for the email templates, built once, and each kind's templates.

Imported by notifications.render at the first message rendered (not before:
Jinja2 is a tenth of a second of a command's start-up).
"""

from __future__ import annotations

import importlib.resources
from types import CodeType
from typing import Any, Callable, MutableMapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, nodes
from jinja2 import select_autoescape
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import TemplateReference
from markupsafe import escape

# What markupsafe.escape runs on a str before wrapping it in Markup (its C
# speedup); not exported by name, so tests/notifications/test_render_same.py
# holds it to escape() itself.
from markupsafe import _escape_inner  # type: ignore[attr-defined]

from notifications.inlining import inline
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
        if type(obj) is TemplateReference and not attribute.startswith("_"):
            # The layout's `self.title()`: a TemplateReference has no attribute but
            # its dunders and a private one, so Jinja2 would find the block as an
            # item, after an AttributeError, every message.
            try:
                return obj[attribute]
            except LookupError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        # The one step of compile() between parsing and generating code: includes and
        # imported macros are written in here (notifications.inlining).
        return inline(self, super()._parse(source, name, filename), name)

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        # A template's globals as a plain dict rather than a ChainMap over the
        # environment's (empty): every render context takes set() of them, and a
        # ChainMap is iterated in Python. Nothing adds globals after start-up.
        return {**self.globals, **(d or {})}


class _CodeGenerator(CodeGenerator):
    def visit_Getattr(self, node: nodes.Getattr, frame: Frame) -> None:
        """`case.ref` on a variable compiles to the dict's item, read in place, when the
        variable holds a plain dict that has the key; to environment.getattr otherwise.

        The same value _Environment.getattr gives (it is still what anything else
        gets), without a Python call for each of the forty-odd a message. The
        variable is read again rather than held: reading one is a local's test.
        """
        if self.environment.is_async or node.attr in _DICT_ATTRIBUTES:
            super().visit_Getattr(node, frame)
            return
        if not isinstance(node.node, nodes.Name):
            super().visit_Getattr(node, frame)
            return
        key = repr(node.attr)
        self.write("(")
        self.visit(node.node, frame)
        self.write(f"[{key}] if type(")
        self.visit(node.node, frame)
        self.write(f") is dict and {key} in ")
        self.visit(node.node, frame)
        self.write(" else environment.getattr(")
        self.visit(node.node, frame)
        self.write(f", {key}))")


def _escape(value: Any) -> Any:
    """markupsafe.escape, but a plain str for a str: the same characters.

    `{{ value }}` in an HTML template compiles to `escape(value)`, some thirty a
    message, and escape wraps each result in a Markup (a Python-level __new__)
    that only goes on to be joined into the page. Jinja2 wraps what a block,
    macro or `{% set %}` gives back in Markup itself, so nothing downstream
    tells the two apart; the tests compare every kind's bytes with plain Jinja2.
    """
    if type(value) is str:
        return _escape_inner(value)
    return escape(value)


class _Template(Template):
    @classmethod
    def from_code(
        cls,
        environment: Environment,
        code: CodeType,
        globals: MutableMapping[str, Any],
        uptodate: Callable[[], bool] | None = None,
    ) -> Template:
        template = super().from_code(environment, code, globals, uptodate)
        # The generated module imports `escape` from jinja2.runtime; its functions
        # (root, blocks, macros) look it up in the module's namespace at each call.
        template.root_render_func.__globals__["escape"] = _escape
        return template


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
    env.template_class = _Template
    env.code_generator_class = _CodeGenerator
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


def render_part(template: Template, values: dict[str, Any]) -> str:
    """`template.render(values)`, without copying `values` twice over.

    Template.render copies the dict it is given, and Jinja2's new context
    copies it again to lay the globals under it: two copies a part, six a
    message, of a dict nothing writes to (a template's `{% set %}` goes to the
    context's own variables). The email templates have no globals, so the
    context can read `values` itself; a template given globals renders as usual.
    """
    if template.globals:
        return template.render(values)
    context = template.new_context(values, shared=True)
    try:
        return "".join(template.root_render_func(context))
    except Exception:
        # What Template.render does: the error raised again, its traceback in the template.
        template.environment.handle_exception()
