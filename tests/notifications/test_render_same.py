"""Rendering's shortcuts change no byte: every kind, rendered as casework renders it (includes
and macros written in, escaping without Markup objects, days and folded lines kept:
notifications/inlining.py, templating.py, render.py), is what plain Jinja2 renders from
the same files and context, folded by textwrap."""

from __future__ import annotations

import textwrap
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import Environment, UndefinedError
from markupsafe import escape

from notifications import KINDS, render
from notifications.kinds import PARTS, template_name
from notifications.render import Rendered, category_name
from notifications import templating
from notifications.templating import _escape
from states import dates
from tests.notifications.mail_fixtures import kinds_with_case_kinds, realistic_context

EVERY_KIND = kinds_with_case_kinds(KINDS)


SETTINGS = (
    "loader",
    "autoescape",
    "undefined",
    "keep_trailing_newline",
    "trim_blocks",
    "lstrip_blocks",
)


def _plain() -> Environment:
    """Jinja2 as it comes (its own Environment and Template classes, its globals), with
    casework's settings: the same files, escaping, undefined and whitespace rules."""
    env = Environment(autoescape=True)
    for setting in SETTINGS:
        setattr(env, setting, getattr(templating._ENV, setting))
    env.filters.update(longdate=dates.long_day, moment=dates.moment, category_name=category_name)
    return env


PLAIN = _plain()


def plainly(kind: str, context: dict) -> Rendered:
    subject, text, html = (
        PLAIN.get_template(template_name(kind, p)).render(context) for p in PARTS
    )
    folded = "\n".join(
        textwrap.fill(line, 72, break_long_words=False, break_on_hyphens=False)
        if len(line) > 72
        else line
        for line in text.split("\n")
    )
    return Rendered(" ".join(subject.split()), folded, html)


# Council text that HTML must escape, long enough to fold, with a URL and a line break.
AWKWARD = {
    "case__title": 'Smith & Jones <b>"Shared"</b> services\' hub for the districts of '
    "Tewkesbury, Cheltenham and the Cotswolds, https://example.gov.uk/a-very/long/address",
    "case__lead_name": "Borough Council of King's Lynn & West Norfolk <i>",
    "programme__name": "Transformation <Challenge> & 'Award'",
    "reason": 'Line one & <two>\nline "three" — with a dash, and\ttab, and a word '
    + "x" * 90
    + "\nthen a paragraph longer than any kept"
    + ", and longer" * 70,
}


@pytest.mark.parametrize("kind, case_kind", EVERY_KIND)
@pytest.mark.parametrize("late", [False, True, None], ids=["on time", "late", "no step"])
@pytest.mark.parametrize("awkward", [False, True], ids=["realistic", "awkward"])
def test_every_kind_renders_what_plain_jinja_renders(kind, case_kind, late, awkward):
    ctx = realistic_context(kind, case_kind, **(AWKWARD if awkward else {}))
    if late is None:
        ctx["step"] = None
    elif ctx["step"] is not None:
        ctx["step"]["late"] = late
        ctx["step"]["due_at"] = datetime(2014, 4, 5, 23, 30, tzinfo=timezone.utc)

    expected = plainly(kind, ctx)
    assert render(kind, ctx) == expected
    assert render(kind, ctx) == expected  # and again, from what the first one kept


@pytest.mark.parametrize("kind, case_kind", EVERY_KIND)
def test_a_missing_variable_fails_as_plain_jinja_fails(kind, case_kind):
    ctx = realistic_context(kind, case_kind)
    del ctx["programme"]["lead_email"]  # printed by every kind's footer

    with pytest.raises(UndefinedError) as plain:
        plainly(kind, ctx)
    with pytest.raises(UndefinedError) as ours:
        render(kind, ctx)
    assert str(ours.value) == str(plain.value)


@given(st.text())
def test_escaping_a_string_gives_the_characters_markupsafe_gives(value):
    assert _escape(value) == str(escape(value))
    assert type(_escape(value)) is str


@pytest.mark.parametrize("value", [None, 3, escape("<b>"), 2.5])
def test_escaping_anything_else_is_markupsafes_own(value):
    assert _escape(value) == escape(value)


# Templates whose includes and macro calls must not all be written in as they are: each
# renders through casework's environment as plain Jinja2 renders it.
TRICKY = {
    "sets.txt": "{% set late = 'set inside' %}{{ late }}\n",
    "uses_set.txt": "{% include 'sets.txt' %}[{{ late|default('unset') }}]\n",
    "self.html": "{% if self.title is defined %}{{ self.title() }}{% else %}none{% endif %}",
    "includes_self.html": "{% block title %}T{% endblock %}{% include 'self.html' %}",
    "missing.txt": "{% include 'nowhere.txt' ignore missing %}after\n",
    "bare.txt": "{% include 'footer.txt' without context %}{% include 'footer.txt' %}\n",
    "footer.txt": "{% if name is defined %}{{ name }}{% else %}nobody{% endif %}\n",
    "m.html": (
        "{% macro hi(who, greeting='Hello') %}<p>{{ greeting }}, {{ who }}</p>{% endmacro %}"
        "{% macro box(x) %}[{{ caller() }}{{ x }}]{% endmacro %}"
        "{% macro pair(a, b) %}{{ a }}&{{ b }}{% endmacro %}"
    ),
    "calls.html": (
        "{% from 'm.html' import hi, box, pair %}{% from 'm.html' import pair as p2 %}"
        "{{ hi(name) }}{{ hi(name, 'Hi') }}{% call box(name) %}c{% endcall %}"
        "{{ pair(name, '<b>' ~ name) }}{{ p2(1, 2) }}{{ pair(name, 3)|upper }}"
        "{% for name in ['x&', 'y'] %}{{ pair(name, loop.index) }}{% endfor %}{{ name }}"
        "{% for pair in [hi] %}{{ pair(name, 'Yo') }}{% endfor %}"
    ),
}


@pytest.mark.parametrize("name", [n for n in TRICKY if n not in ("m.html", "self.html")])
def test_what_cannot_be_written_in_renders_as_plain_jinja_renders_it(name):
    from jinja2 import DictLoader

    ours = templating._Environment(autoescape=True)
    plain = Environment(autoescape=True)
    for env in (ours, plain):
        for setting in SETTINGS[2:]:
            setattr(env, setting, getattr(templating._ENV, setting))
        env.loader = DictLoader(TRICKY)
        env.autoescape = templating._ENV.autoescape
    ours.template_class = templating._Template
    ours.code_generator_class = templating._CodeGenerator
    values = {"name": "<Ann & 'Bo'>"}

    assert ours.get_template(name).render(values) == plain.get_template(name).render(values)
