"""The tables the demo prints when the year is over, and how to look around afterwards."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TextIO

from notifications.kinds import kind_label
from states import DEFINITIONS
from states.money import pounds
from demo.figures import CategoryFigures, Figures
from demo.run import DemoResult
from demo.sample import SAMPLE_NOTE

KIND_NAMES = {"bid": "Bids (TCA)", "area": "Network areas (PSTN)"}
STEP_ORDER = ("opened", "reminder", "overdue", "escalated_1", "escalated_2", "suspended")


def state_rows(figures: Figures) -> list[tuple[str, str, int]]:
    """(kind, state, count) in each definition's own order of states."""
    out = []
    for kind in ("bid", "area"):
        for state in DEFINITIONS[kind].states:
            n = figures.cases_by_state.get((kind, state), 0)
            if n:
                out.append((kind, state, n))
    return out


def limit_text(category: CategoryFigures) -> str:
    if category.max_count is None:
        return "no limit"
    if category.min_count:
        return f"{category.min_count} to {category.max_count}"
    return f"at most {category.max_count}"


def print_summary(result: DemoResult, stream: TextIO | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    stream = stream or sys.stdout
    console = Console(
        file=stream, width=None if stream.isatty() else 100, soft_wrap=False, highlight=False
    )
    f = result.figures

    console.print(
        f"\n[bold]casework demo[/bold]: a programme year from 22 March 2013 to "
        f"{f.end:%d %B %Y}, seed {result.seed}, size {result.size}."
    )
    console.print(f"[dim]{SAMPLE_NOTE}[/dim]\n")

    console.print("[bold]Cases by kind and state[/bold]")
    cases = Table(show_edge=False, header_style="bold")
    for column in ("kind", "state"):
        cases.add_column(column)
    cases.add_column("cases", justify="right")
    for kind, state, n in state_rows(f):
        cases.add_row(KIND_NAMES[kind], DEFINITIONS[kind].state_label(state), str(n))
    console.print(cases)

    console.print(
        f"\n[bold]TCA fund[/bold]: {pounds(f.committed_pence)} committed of "
        f"{pounds(f.fund_pence)} ({pounds(f.reserved_pence)} offered, "
        f"{pounds(f.released_pence)} released by declines and offered again)"
    )
    fund = Table(show_edge=False, header_style="bold")
    for column, justify in (
        ("category", "left"),
        ("band", "left"),
        ("committed", "right"),
        ("offers", "right"),
        ("allowed", "left"),
    ):
        fund.add_column(column, justify=justify)  # type: ignore[arg-type]
    for c in f.categories:
        fund.add_row(c.label, c.band, pounds(c.committed_pence), str(c.offers), limit_text(c))
    console.print(fund)

    console.print(
        f"\n[bold]Messages[/bold]: {f.messages_sent:,} sent of {f.messages_total:,} "
        f"queued; {result.mail_received:,} received by "
        + ("GOV.UK Notify's stand-in" if result.mail_via == "notify" else "the SMTP server")
        + (
            f" ({result.mail_repeats:,} sent again after a late answer, kept once)"
            if result.mail_repeats
            else ""
        )
    )
    messages = Table(show_edge=False, header_style="bold")
    for column, justify in (
        ("kind", "left"),
        ("sent", "right"),
        ("queued", "right"),
        ("dead", "right"),
    ):
        messages.add_column(column, justify=justify)  # type: ignore[arg-type]
    for kind, counts in f.messages_by_kind.items():
        messages.add_row(
            kind_label(kind), str(counts["sent"]), str(counts["queued"]), str(counts["dead"])
        )
    console.print(messages)

    r = f.returns
    console.print("\n[bold]Monitoring returns and the reminder ladder[/bold]")
    returns = Table(show_edge=False, header_style="bold")
    returns.add_column("what")
    returns.add_column("how many", justify="right")
    for label, n in (
        ("returns on time", r.on_time),
        ("returns late", r.late),
        ("returns missed", r.missed),
        ("returns waived", r.waived),
        ("returns not yet due", r.not_yet_due),
    ):
        if n or label not in ("returns waived", "returns not yet due"):
            returns.add_row(label, str(n))
    # One row a ladder step (the escalations' levels are the first and second escalation).
    for step in STEP_ORDER:
        label = f.spec.step_label(step) if f.spec is not None else step
        returns.add_row(f"returns that reached '{label}'", str(f.ladder_steps.get(step, 0)))
    console.print(returns)

    refused = [e for e in result.log if e.refused]
    console.print(
        f"\n{len(refused)} actions refused by the rules, each with its reason "
        f"(listed in the report)."
    )
    verdict = "intact" if f.audit.ok else "BROKEN"
    console.print(f"audit verify: {f.audit.summary()} ({verdict})")
    console.print(f"\nReport:   {result.out / 'report.html'}")
    console.print(f"Mail:     {result.out / 'mail'} ({result.mail_received:,} .eml files)")
    console.print(f"Database: {result.db_url}")
    console.print(f"Simulated in {result.seconds:.1f} s.")


def casework_command(argv0: str | None = None, cwd: str | None = None) -> str:
    """How to run casework from the shell this run was started in.

    The README's first command runs `.venv/bin/casework demo` without
    activating the venv, so a bare `casework` is "command not found" there:
    the script is named by its path (relative to the folder the run started
    in when it is below it), unless `casework` on the PATH is this same script.
    """
    script = Path(argv0 if argv0 is not None else sys.argv[0])
    here = Path(cwd if cwd is not None else os.getcwd())
    if script.name != "casework" or not (here / script).is_file():
        return f"{shlex.quote(sys.executable)} -c 'from workflow.cli import main; main()'"
    script = (here / script).resolve()
    found = shutil.which("casework")
    if found and Path(found).resolve() == script:
        return "casework"
    try:
        relative = script.relative_to(here.resolve())
    except ValueError:
        return shlex.quote(str(script))
    return shlex.quote(str(relative) if "/" in str(relative) else f"./{relative}")


def print_browsing(
    result: DemoResult,
    password: str | None,
    stream: TextIO | None = None,
    why_not: str | None = None,
) -> None:
    """How to look at the simulated year in the web app, with the sample sign-ins."""
    stream = stream or sys.stdout
    write = stream.write
    write(
        f"\nBrowse the simulated year in the web app:\n\n"
        f"    {casework_command()} --db {shlex.quote(result.db_url)} serve\n\n"
        f"then open http://127.0.0.1:8000/sign-in.\n"
    )
    if password is None:
        write(f"Web sign-in is not available: {why_not}\n")
        return
    write(
        f"\nSign in as any of these DEMO people, all with the DEMO password "
        f"'{password}' (sample data: never use it for real):\n"
    )
    for name, about in result.cast.staff():
        write(f"    {name:<28} {about}\n")
    councils = sorted(result.cast.council_people.values())
    shown = ", ".join(councils[:4]) + (
        f" and {len(councils) - 4} more" if len(councils) > 4 else ""
    )
    write(f"    council contacts: {shown}\n")
