"""The text part folds at 72 columns exactly as textwrap would, only faster."""

from __future__ import annotations

import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifications.render import _wrap


def textwrap_wrap(text: str) -> str:
    """What the text part was folded with before: textwrap, line by line."""
    return "\n".join(
        textwrap.fill(line, 72, break_long_words=False, break_on_hyphens=False)
        if len(line) > 72
        else line
        for line in text.split("\n")
    )


# The pieces our lines are made of, and the edges a greedy wrapper can get
# wrong: a word ending at column 72, runs of spaces across the margin, words
# and addresses longer than a line, hyphens that must not break.
_WORDS = st.one_of(
    st.sampled_from(
        [
            "a",
            "the",
            "council's",
            "Q2",
            "£250,000",
            "light-touch",
            "s151",
            "escalation",
            "(award",
            "level",
            "1).",
            "—",
            "é",
        ]
    ),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz-.,'", min_size=1, max_size=12),
    st.integers(60, 90).map(lambda n: "x" * n),
    st.integers(0, 80).map(
        lambda n: "https://casework.example.gov.uk/returns/TCA-2013-0007/" + "q" * n
    ),
    st.integers(0, 40).map(lambda n: "someone@" + "sub." * n + "gov.uk"),
)
_SPACES = st.one_of(
    st.just(" "), st.integers(2, 4).map(" ".__mul__), st.integers(60, 80).map(" ".__mul__)
)
_PLAIN_LINE = st.lists(st.one_of(_WORDS, _SPACES), max_size=60).map("".join)
# Anything at all, newlines, tabs and Unicode spaces included: these take
# textwrap's own path, and the whole must still match.
_ANY_TEXT = st.lists(
    st.one_of(
        _WORDS,
        _SPACES,
        st.text(max_size=8),
        st.sampled_from(["\n", "\t", "\xa0", "\u3000", "\r", "\x0b", "\x1c", "\u2028", "\xad"]),
    ),
    max_size=60,
).map("".join)


@settings(max_examples=1000, deadline=None, database=None)
@given(line=_PLAIN_LINE)
def test_a_line_of_words_and_spaces_folds_exactly_as_textwrap_folds_it(line):
    assert _wrap(line) == textwrap_wrap(line)


@settings(max_examples=500, deadline=None, database=None)
@given(text=_ANY_TEXT)
def test_any_text_folds_exactly_as_textwrap_folds_it(text):
    assert _wrap(text) == textwrap_wrap(text)


@pytest.mark.parametrize(
    "line",
    [
        "x" * 72 + " y",  # a word ending at the margin
        "x" * 71 + "  y",  # spaces straddling the margin
        "x " + "y" * 80 + " z",  # a word longer than a line, mid-paragraph
        "y" * 80 + " z",  # ... and first
        "   " + "y" * 80,  # leading spaces, then a long word
        " " * 80 + "word",  # leading spaces wider than a line
        "word" + " " * 80,  # trailing spaces wider than a line
        " " * 73,  # nothing but spaces
        "   indented paragraph " * 6,  # the first line keeps its indent
        "a light-touch, well-behaved, hyphen-rich line that must not break on hyphens " * 2,
    ],
)
def test_the_edges_of_a_greedy_wrapper_match_textwrap(line):
    assert _wrap(line) == textwrap_wrap(line)


def test_every_whitespace_character_but_the_space_is_unprintable():
    # _fill relies on this to send every line textwrap would treat specially
    # (tabs, other ASCII whitespace, Unicode spaces) to textwrap itself.
    assert [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if chr(code).isspace() and chr(code) != " " and chr(code).isprintable()
    ] == []
