"""Writing the email templates' includes and macro calls into the template that uses them,
once, when Jinja2 compiles it.

A message renders three templates, and each `{% include %}` in them (the text
parts' late notice and footer) and each call of an imported macro (the HTML
parts' `action` and `facts`) cost a render context or a Macro call of their
own every message: a fifth of rendering one. The parsed template is changed
instead, before Jinja2 generates its code:

- `{% include "x" %}` becomes x's own nodes, in place;
- `{{ action(url, label) }}`, `action` imported by `{% from "m" import action %}`,
  becomes `{% with url=…, label=… %}` around the macro's own nodes (and the
  import goes, when nothing else uses the name).

What is printed is what the include or the macro would print: their nodes are
the same nodes, parsed by the same environment (so with the same whitespace
rules), and they read the same names. Only what cannot differ is inlined; the
rest is left to Jinja2 as written (`_includable`, `_callable`). The tests render
every kind through a plain Jinja2 environment too and compare the bytes
(tests/notifications/test_render_same.py).
"""

from __future__ import annotations

import copy
import weakref
from typing import Any, Iterable

from jinja2 import Environment, nodes
from jinja2.parser import Parser
from jinja2.visitor import NodeTransformer

# Nodes that would make a template's nodes behave otherwise written into another:
# names set at its top level would leak into the includer, blocks and layouts
# belong to a template of their own, imports and macros define names, and an
# `{% autoescape %}` changes the includer's escaping.
_OWN_SCOPE = (
    nodes.Extends,
    nodes.Block,
    nodes.Macro,
    nodes.CallBlock,
    nodes.Assign,
    nodes.AssignBlock,
    nodes.Import,
    nodes.FromImport,
    nodes.EvalContextModifier,
)


def inline(env: Environment, tree: nodes.Template, name: str | None) -> nodes.Template:
    """`tree` (the template `name`, as env parsed it) with its includes and macro calls
    written in where the result is the same (see the module's docstring)."""
    if name is None or env.loader is None or any(tree.find_all(nodes.EvalContextModifier)):
        return tree
    macros = _imported_macros(env, tree, name)
    tree = _Inliner(env, name, macros).visit(tree)
    _drop_unused_imports(tree, macros)
    return tree


# The templates written into others, parsed (and inlined) once for each environment:
# lexing a template again for every place it is written in doubled the time a
# process takes to render its first message of a kind. Each place gets a copy.
_PARSED: weakref.WeakKeyDictionary[Environment, dict[str, nodes.Template]]
_PARSED = weakref.WeakKeyDictionary()


def _parsed(env: Environment, name: str) -> nodes.Template:
    """Template `name` parsed by env's rules, its own includes and macro calls inlined:
    nodes of its own for the caller, who may place them in a tree."""
    kept = _PARSED.setdefault(env, {})
    tree = kept.get(name)
    if tree is None:
        assert env.loader is not None
        source, filename, _ = env.loader.get_source(env, name)
        tree = kept[name] = inline(env, Parser(env, source, name, filename).parse(), name)
    # Every node refers to the environment, which is shared, not copied.
    return copy.deepcopy(tree, {id(env): env})


def _escapes(env: Environment, name: str) -> bool:
    return bool(env.autoescape(name) if callable(env.autoescape) else env.autoescape)


def _names(tree: nodes.Node, ctx: str) -> set[str]:
    return {found.name for found in tree.find_all(nodes.Name) if found.ctx == ctx}


def _includable(env: Environment, node: nodes.Include, name: str) -> list[nodes.Node] | None:
    """The nodes of the template `node` includes, or None when they are not the same inlined:
    the name not a constant, `ignore missing` or `without context`, another escaping, or a
    template with a scope of its own (a `{% set %}`, a block, a macro, `self`)."""
    target = node.template
    if not (isinstance(target, nodes.Const) and isinstance(target.value, str)):
        return None
    if node.ignore_missing or not node.with_context:
        return None
    if _escapes(env, target.value) != _escapes(env, name):
        return None
    body = _parsed(env, target.value).body
    inside = [found for b in body for found in (b, *b.find_all(nodes.Node))]
    if any(isinstance(found, _OWN_SCOPE) for found in inside):
        return None
    if any(isinstance(found, nodes.Name) and found.name == "self" for found in inside):
        return None
    return _placed(body, node.lineno)


def _placed(body: Iterable[nodes.Node], lineno: int) -> list[nodes.Node]:
    """`body`, parsed for this one place, with that place's line number (a template error
    in it is reported at the include or the call, in the file that has it)."""
    out = list(body)
    for node in out:
        node.set_lineno(lineno, override=True)
    return out


def _imported_macros(
    env: Environment, tree: nodes.Template, name: str
) -> dict[str, tuple[str, nodes.Macro]]:
    """The macros `{% from "m" import … %}` brings in that can be written in: by the name
    they have here, those whose template escapes as this one does, with no defaults, and
    whose nodes read only their arguments and their own loop names. A name this template
    also sets (or takes as a loop name) is left alone."""
    assigned = _names(tree, "store")
    found: dict[str, tuple[str, nodes.Macro]] = {}
    for imported in tree.find_all(nodes.FromImport):
        target = imported.template
        if not (isinstance(target, nodes.Const) and isinstance(target.value, str)):
            continue
        if imported.with_context or _escapes(env, target.value) != _escapes(env, name):
            continue
        defined = {m.name: m for m in _parsed(env, target.value).body if isinstance(m, nodes.Macro)}
        for entry in imported.names:
            macro_name, local = entry if isinstance(entry, tuple) else (entry, entry)
            macro = defined.get(macro_name)
            if macro is None or macro.defaults or local in assigned:
                continue
            arguments = {a.name for a in macro.args}
            if _names(macro, "load") <= arguments | _names(macro, "store"):
                found[local] = (target.value, macro)
    return found


def _macro(env: Environment, template: str, name: str) -> nodes.Macro:
    """Macro `name` of `template`, nodes of its own for one call written in."""
    return next(
        m for m in _parsed(env, template).body if isinstance(m, nodes.Macro) and m.name == name
    )


class _Inliner(NodeTransformer):
    def __init__(
        self, env: Environment, name: str, macros: dict[str, tuple[str, nodes.Macro]]
    ) -> None:
        self.env, self.name, self.macros = env, name, macros

    def visit_Include(self, node: nodes.Include) -> Any:
        return _includable(self.env, node, self.name) or node

    def visit_Output(self, node: nodes.Output) -> Any:
        """`{{ macro(a, b) }}` among an output's parts becomes a `with` block of its own
        between the parts before and after it."""
        out: list[nodes.Node] = []
        pending: list[nodes.Expr] = []
        for part in node.nodes:
            found = self._callable(part)
            if found is None:
                pending.append(self.visit(part))
                continue
            assert isinstance(part, nodes.Call)
            macro = _macro(self.env, *found)
            if pending:
                out.append(nodes.Output(pending, lineno=node.lineno))
                pending = []
            targets = [nodes.Name(a.name, "store", lineno=part.lineno) for a in macro.args]
            values = [self.visit(a) for a in part.args]
            body = _placed(macro.body, part.lineno)
            out.append(nodes.With(targets, values, body, lineno=part.lineno))
        if pending:
            out.append(nodes.Output(pending, lineno=node.lineno))
        return out

    def _callable(self, part: nodes.Node) -> tuple[str, str] | None:
        """The template and name of the macro `part` calls, when it is a plain call of an
        imported one with one positional argument for each of its own."""
        if not (isinstance(part, nodes.Call) and isinstance(part.node, nodes.Name)):
            return None
        template, macro = self.macros.get(part.node.name, ("", None))
        if macro is None or part.kwargs or part.dyn_args or part.dyn_kwargs:
            return None
        return (template, macro.name) if len(part.args) == len(macro.args) else None


def _drop_unused_imports(tree: nodes.Template, macros: dict[str, tuple[str, nodes.Macro]]) -> None:
    """Take out a `{% from %}` whose every name was a macro now written in and read nowhere."""
    used = _names(tree, "load")
    for parent in [tree, *tree.find_all(nodes.Node)]:
        for field, value in parent.iter_fields():
            if not isinstance(value, list):
                continue
            kept = [
                child
                for child in value
                if not (
                    isinstance(child, nodes.FromImport)
                    and all(
                        (local := e[1] if isinstance(e, tuple) else e) in macros
                        and local not in used
                        for e in child.names
                    )
                )
            ]
            if len(kept) != len(value):
                setattr(parent, field, kept)
