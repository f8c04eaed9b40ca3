"""What every command shares: the database, the acting person, output, refusals."""

from __future__ import annotations

import json
import os
import shutil
import sys
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Iterable, Optional

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

from states.money import MONEY_FIELDS, for_people


def _a_person(value: Optional[str]) -> Optional[str]:
    """`--as system` is refused before anything runs: `system` is the sweep's name
    (directory.RESERVED_NAME, in any letter case), which no person may take (DESIGN section 6).
    Without this a command run as `--as system` moved cases as the sweep, and its history rows
    said the sweep had done it. Compared here, not looked up: `case list` imports no database."""
    if value is not None and value.strip().casefold() == "system":
        from workflow.errors import PermissionDenied

        raise PermissionDenied(
            f"--as {value} was refused: 'system' is the sweep's name, and no person reads or "
            "acts as it. Give your own name."
        )
    return value


JSON_OPT = typer.Option(False, "--json", help="Print JSON (stable, for scripts).")
AS_OPT = typer.Option(
    ...,
    "--as",
    metavar="NAME",
    help="The person acting (recorded in history).",
    callback=_a_person,
)
AS_READ_OPT = typer.Option(
    None,
    "--as",
    metavar="NAME",
    help="Read as this person: allowed_triggers lists what they may fire.",
    callback=_a_person,
)
AS_READER_OPT = typer.Option(
    None,
    "--as",
    metavar="NAME",
    help="Read as this person (refused if their roles may not read this).",
    callback=_a_person,
)
CASE_REF = typer.Argument(..., metavar="REF", help="The case, e.g. TCA-2013-0001.")
RETURN_REF = typer.Argument(..., metavar="REF", help="The return, e.g. TCA-2013-0001/Q2.")
PROGRAMME_CODE = typer.Argument(..., metavar="CODE", help="The programme, e.g. tca-2013.")
REASON_OPT = typer.Option(None, "--reason", metavar="TEXT", help="Why (kept in the history).")


# Commands that only read: on SQLite they open the file read-only, so they
# never create it, never wait for a writer and never write into it (not even
# the checkpoint SQLite does when its last connection closes).
READ_COMMANDS = frozenset(
    {
        "status",
        "org list",
        "user list",
        "programme list",
        "programme show",
        "programme ranking",
        "programme fund",
        "case show",
        "case list",
        "case history",
        "audit verify",
        "audit export",
        "audit admin",
        "assess show",
        "checkpoint list",
        "checkpoint show",
        "outbox list",
        "outbox show",
        "token list",
        "publish 360giving",
        "agreement show",
        "payment list",
        "payment show",
        "payment export",
        "variation list",
        "diligence show",
        "review list",
    }
)


def _invoked() -> str:
    """The command being run, as `case show` (empty outside a command)."""
    from typer._click.globals import get_current_context

    ctx = get_current_context(silent=True)
    return " ".join(ctx.command_path.split()[1:]) if ctx is not None else ""


class State:
    db_url: Optional[str] = None
    _engine: Optional[Engine] = None

    def engine(self, *, check: bool = True) -> Engine:
        from workflow.storage.db import make_engine, sqlite_path
        from workflow.errors import SetupError
        from workflow.services.setup import ready

        if self._engine is None:
            engine = make_engine(self.db_url, read_only=check and _invoked() in READ_COMMANDS)
            path = sqlite_path(str(engine.url)) if check else None
            if path is not None and not os.path.exists(path):
                # Opening it would create an empty file, for nothing.
                raise SetupError(
                    f"There is no database at {path}: run `casework init` first "
                    f"(or name another with --db or CASEWORK_DB)."
                )
            self._engine = engine
            if check:
                ready(self._engine)
        return self._engine


STATE = State()


def engine(check: bool = True) -> Engine:
    return STATE.engine(check=check)


def refuse_unknown_filters(
    *, case: str | None = None, programme: str | None = None, org: str | None = None
) -> None:
    """A list that came back empty: refuse the filter that names nothing (`reads.refuse_unknown`,
    as the API does), so a mistyped reference or code does not look like an empty list."""
    from workflow.services.reads import refuse_unknown
    from workflow.storage.db import reading

    with reading(engine()) as conn:
        refuse_unknown(conn, case=case, programme=programme, org=org)


class Reader:
    """The person a read command reads as (`--as`), or no one (the operator, who sees all).

    Looked up as every command looks up who acts (an unknown or disabled person is refused),
    and seeing what the web and the API let them see (`services.access`): a council person
    their own organisation's cases, another council's case "not found"."""

    def __init__(self, name: Optional[str]) -> None:
        self.name = name
        self.actor = None
        self.scope: Optional[str] = None  # the organisation whose cases alone they see
        if name is not None:  # (`case list` alone imports nothing more: tests/cli/test_startup)
            from workflow.services import directory
            from workflow.services.access import org_scope
            from workflow.storage.db import reading

            with reading(engine()) as conn:
                self.actor = directory.actor(conn, name)
            self.scope = org_scope(self.actor)

    def require(self, read: str) -> "Reader":
        """PermissionDenied unless their roles may make this read (`access.READS`, as the
        API's); the operator (no --as) may make every read."""
        if self.actor is not None:
            from workflow.services.access import require

            require(self.actor, read)
        return self

    def check_case(self, ref: Optional[str]) -> None:
        """CaseNotFound (as if it did not exist) when the case is not theirs to see."""
        if self.actor is None or self.scope is None or not ref:
            return
        from workflow.services.access import check_visible
        from workflow.services.reads import load_case
        from workflow.storage.db import reading

        with reading(engine()) as conn:
            check_visible(self.actor, load_case(conn, ref.strip()))

    def org(self, org: Optional[str]) -> Optional[str]:
        """The `--org` filter a list runs with: theirs, whatever was asked (another
        organisation's cases are none of theirs to list)."""
        from workflow.services.access import NO_CASES

        if self.scope is None:
            return org
        return self.scope if org in (None, self.scope) else NO_CASES

    def visible(self, rows: list[dict], key: str = "case") -> list[dict]:
        """The rows of cases they may see (by each row's case reference under `key`)."""
        if self.scope is None:
            return rows
        from workflow.services.reads import list_cases

        seen = {c["ref"] for c in list_cases(engine(), org=self.scope)}
        return [r for r in rows if r[key] in seen]


def worded_keys(data: dict, **words: str) -> dict:
    """A `show` command's fields for people: each key in words ("case state", not
    "case_state"), or as `words` names it; --json keeps the keys."""
    return {words.get(k, k.replace("_", " ")): v for k, v in data.items()}


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return str(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError(f"{type(o).__name__} is not JSON")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=_default) + "\n")


def shown(field: str, value: Any) -> str:
    """A value as a person reads it in a table or a `key  value` listing."""
    if value is None:
        return ""
    if field in MONEY_FIELDS and isinstance(value, str):
        return pounds_text(value)
    return str(value)


def pounds_text(value: str) -> str:
    """ "250000.00" -> "£250,000" (left as it is when it is not an amount)."""
    return for_people(value)


def table(rows: Iterable[dict], columns: list[str], title: str | None = None) -> None:
    """A plain, aligned table for people (the --json form is for scripts)."""
    cells = [[shown(c, r.get(c)) for c in columns] for r in rows]
    if not cells:
        typer.echo("(none)")
        return
    # Headed in words ("case state", "due on"), not by the --json keys they come from.
    columns = [c.replace("_", " ") for c in columns]
    lines = _ruled(cells, columns)
    # rich draws the same table, and wraps cells to fit the terminal (200
    # columns into a pipe) -- at about 4 ms a row, which `case list` felt.
    # It is asked only when the table does not fit, or has a title.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 200
    if title is None and len(lines[1]) <= width:  # the rule is as wide as the table
        typer.echo("\n".join(lines))
    else:
        _rich_table(cells, columns, title, width)


def _cells(text: str) -> int:
    """The columns `text` takes on a terminal (an East Asian wide character takes two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _ruled(cells: list[list[str]], columns: list[str]) -> list[str]:
    """rich's table with show_edge=False, as text: ` a ┃ b `, a rule of ━ and ╇, ` 1 │ 2 `."""
    # Each cell as its lines, each line with the columns it takes.
    measured = [
        [[(line, _cells(line)) for line in value.split("\n")] for value in row] for row in cells
    ]
    head = [[(c, _cells(c))] for c in columns]
    widths = [max(n for row in [head, *measured] for _, n in row[i]) for i in range(len(columns))]

    def line(values: list[tuple[str, int]], bar: str) -> str:
        return bar.join(f" {v}{' ' * (w - n)} " for (v, n), w in zip(values, widths))

    out = [line([h[0] for h in head], "┃"), "╇".join("━" * (w + 2) for w in widths)]
    for row in measured:
        for k in range(max(len(value) for value in row)):
            out.append(line([value[k] if k < len(value) else ("", 0) for value in row], "│"))
    return out


def _rich_table(cells: list[list[str]], columns: list[str], title: str | None, width: int) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title, show_edge=False, header_style="bold")
    for c in columns:
        t.add_column(c)
    for row in cells:
        t.add_row(*[Text(value) for value in row])  # a value's brackets are not markup
    Console(soft_wrap=True, width=None if sys.stdout.isatty() else width).print(t)


def listing(data: dict) -> None:
    """`key  value` lines for people; a document inside is listed below its key, indented."""
    for line in listing_lines(data):
        typer.echo(line)


def listing_lines(data: dict, indent: str = "") -> list[str]:
    width = max((len(k) for k in data), default=0)
    lines: list[str] = []
    for k, v in data.items():
        if isinstance(v, dict) and v:
            lines += [f"{indent}{k}:", *listing_lines(v, indent + "  ")]
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            lines += [f"{indent}{k}:", *_items(v, indent + "  ")]
        else:
            lines += _value_lines(k, v, indent, width)
    return lines


def _items(documents: list[dict], indent: str) -> list[str]:
    """Small documents one after another, each starting at a "- "."""
    lines: list[str] = []
    for item in documents:
        first, *rest = listing_lines(item, indent + "  ") or [indent + "  "]
        lines += [f"{indent}- {first[len(indent) + 2 :]}", *rest]
    return lines


def _value_lines(key: str, value: Any, indent: str, width: int) -> list[str]:
    if isinstance(value, list) and not any(isinstance(x, (dict, list)) for x in value):
        value = ", ".join(str(x) for x in value) if value else "(none)"
    elif isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, default=_default)
    # A paragraph of text keeps its lines, each under the column the value starts in.
    first, *more = shown(key, value).strip("\n").split("\n")
    pad = " " * (len(indent) + width + 2)
    return [f"{indent}{key:<{width}}  {first}".rstrip(), *((pad + line).rstrip() for line in more)]


def emit(
    data: Any, as_json: bool, columns: list[str] | None = None, title: str | None = None
) -> None:
    if as_json:
        print_json(data)
    elif columns is not None:
        table(data, columns, title)
    elif isinstance(data, dict):
        listing(data)
    else:
        typer.echo(str(data))
