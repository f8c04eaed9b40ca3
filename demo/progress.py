"""What the demo shows while it runs: the simulated date, cases by state, messages sent.

Only on a terminal: piped or redirected output stays quiet until the summary.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import date
from typing import TextIO

from sqlalchemy import Engine, func, select

from workflow.storage.db import reading
from workflow.storage.tables import cases, outbox


class Progress:
    """A live panel on a terminal; does nothing anywhere else."""

    def __init__(
        self, engine: Engine, *, stream: TextIO | None = None, enabled: bool | None = None
    ):
        self.engine = engine
        self.stream = stream or sys.stdout
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._live = None
        self._chapter = ""
        self._shown_at = 0.0

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream)
            # Refreshed by hand as days pass (at most ten times a second), not by a thread.
            self._live = Live(console=console, auto_refresh=False, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def chapter(self, text: str) -> None:
        """What the story is doing now ("Assessment", "Monitoring year")."""
        self._chapter = text

    def day(self, today: date) -> None:
        if self._live is None:
            return
        now = time.monotonic()
        if now - self._shown_at < 0.1:  # a simulated day takes milliseconds
            return
        self._shown_at = now
        self._live.update(self._panel(today, *self._counts()), refresh=True)

    def _counts(self) -> tuple[Counter, int, int]:
        with reading(self.engine) as conn:
            by_state = Counter(
                {
                    (r.kind, r.state): r.n
                    for r in conn.execute(
                        select(cases.c.kind, cases.c.state, func.count().label("n")).group_by(
                            cases.c.kind, cases.c.state
                        )
                    )
                }
            )
            sent = (
                conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.state == "sent")
                ).scalar()
                or 0
            )
            queued = (
                conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.state == "queued")
                ).scalar()
                or 0
            )
        return by_state, sent, queued

    def _panel(self, today: date, by_state: Counter, sent: int, queued: int):
        from rich.panel import Panel
        from rich.table import Table

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column()
        grid.add_row("Simulated date", f"{today:%A} {today.day} {today:%B %Y}")
        if self._chapter:
            grid.add_row("Now", self._chapter)
        for kind, label in (("bid", "Bids"), ("area", "Network areas")):
            states = sorted(
                ((s, n) for (k, s), n in by_state.items() if k == kind),
                key=lambda item: (-item[1], item[0]),
            )
            shown = ", ".join(f"{s.replace('_', ' ')} {n}" for s, n in states) or "none yet"
            grid.add_row(label, shown)
        grid.add_row("Messages", f"{sent:,} sent, {queued:,} waiting")
        return Panel(
            grid,
            title="casework demo: a programme year, simulated",
            subtitle="sample data",
            expand=False,
        )
