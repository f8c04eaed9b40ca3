"""Tables for people (`case list`, `user list` ...): drawn as rich draws them, without rich."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from workflow.cli._common import _ruled

TABLES = {
    "money and blanks": (
        ["ref", "title", "amount"],
        [["TCA-2013-0001", "Joint procurement hub", "£250,000"], ["TCA-2013-0002", "Hub", ""]],
    ),
    "a reason over two lines": (
        ["seq", "reason"],
        [["1", "council asked\nfor more time"], ["2", "-"]],
    ),
    "wide characters": (["name", "org"], [["東京", "E07000026"]]),
    "brackets that rich would read as markup": (["title"], [["[bold]Shared[/bold] services"]]),
}


def as_rich_draws_it(columns: list[str], rows: list[list[str]]) -> list[str]:
    table = Table(show_edge=False)
    for c in columns:
        table.add_column(c)
    for row in rows:
        table.add_row(*[Text(v) for v in row])
    out = io.StringIO()
    Console(file=out, width=200, soft_wrap=True).print(table)
    return out.getvalue().rstrip("\n").split("\n")


@pytest.mark.parametrize("name", list(TABLES))
def test_a_table_that_fits_is_the_table_rich_would_draw(name):
    columns, rows = TABLES[name]

    assert _ruled(rows, columns) == as_rich_draws_it(columns, rows)
