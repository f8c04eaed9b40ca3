"""DIR/report.html: the demo's figures as one self-contained page (no network at all).

Jinja2 renders the page (templates/report/report.html); pygal draws the two
charts as inline SVG; each state machine is drawn from its definition's DOT
text by the `graphviz-pure` program (a pure Graphviz build on PyPI) when it is
installed, and shown as its Mermaid text with a note saying so when it is not.
"""
from __future__ import annotations

import importlib.resources
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from states import DEFINITIONS
from states.ladder import LONDON
from states.money import pounds
from demo.figures import Figures
from demo.run import DemoResult
from demo.sample import SAMPLE_NOTE
from demo.summary import KIND_NAMES, STEP_ORDER, limit_text, state_rows

RENDERER = "graphviz-pure"
DIAGRAM_SCALE = 0.8
_COMMENTS = re.compile(r"<!--.*?-->", re.S)
_SCRIPTS = re.compile(r"<script\b.*?</script>", re.S)
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)


@dataclass(frozen=True)
class Diagram:
    kind: str
    label: str
    svg: Markup | None          # None when no renderer is installed
    mermaid: str
    note: str | None = None


def write_report(result: DemoResult, path: Path | None = None) -> Path:
    path = path or result.out / "report.html"
    path.write_text(render_report(result), encoding="utf-8")
    return path


def render_report(result: DemoResult) -> str:
    f = result.figures
    env = _environment()
    return env.get_template("report/report.html").render(
        result=result, f=f, sample_note=SAMPLE_NOTE, kind_names=KIND_NAMES,
        state_rows=state_rows(f), step_order=STEP_ORDER, limit_text=limit_text,
        committed_chart=_committed_chart(f), returns_chart=_returns_chart(f),
        diagrams=[_diagram(kind) for kind in ("bid", "area", "checkpoint")],
        timeline=[_timeline_row(row) for row in f.suspended_history],
        refusals=[e for e in result.log if e.refused],
        run_at=result.started.strftime("%d %B %Y at %H:%M %Z").strip())


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(importlib.resources.files("templates"))),
                      autoescape=select_autoescape(enabled_extensions=("html",), default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["pounds"] = pounds
    env.filters["words"] = lambda s: (s or "").replace("_", " ")
    env.filters["london"] = lambda at: at.astimezone(LONDON).strftime("%d %b %Y %H:%M")
    env.filters["day"] = lambda at: at.astimezone(LONDON).strftime("%d %b %Y")
    return env


# --- charts (pygal, inline SVG) ----------------------------------------------------
def _style():
    from pygal.style import Style
    return Style(background="white", plot_background="white", font_family="system-ui, sans-serif",
                 label_font_size=12, major_label_font_size=12, legend_font_size=13,
                 title_font_size=15, colors=("#1d70b8", "#d4351c", "#00703c", "#f47738"))


def _inline(chart: Any, name: str) -> Markup:
    """The chart's SVG for inlining: a fixed id (pygal's is random) and no comments or script.

    pygal stamps each chart with a random uuid and today's date in a comment,
    and adds a small inline config script for its optional tooltips; all three
    are dropped so the page is the same for the same seed and runs no code.
    """
    chart.uuid = name
    svg = chart.render(is_unicode=True)
    svg = _SCRIPTS.sub("", _COMMENTS.sub("", svg))
    return Markup(svg)


def _committed_chart(f: Figures) -> Markup:
    import pygal
    chart = pygal.DateTimeLine(
        js=[], disable_xml_declaration=True, width=900, height=360, style=_style(),
        title="TCA: funds committed over time, against the £9m fund",
        show_dots=False, fill=False, x_label_rotation=0, legend_at_bottom=True,
        x_value_formatter=lambda at: at.strftime("%b %Y"),
        value_formatter=lambda v: pounds(int(v) * 100), truncate_label=-1)
    start = datetime(2013, 3, 22, tzinfo=LONDON)
    # The award round, with a month after the last offer or release: later the line is flat.
    last = f.committed_over_time[-1][0] if f.committed_over_time else start
    end = max(last + timedelta(days=30), datetime(2013, 9, 30, tzinfo=LONDON))
    points, before = [(start, 0)], 0
    for at, pence in f.committed_over_time:
        # A step: the total holds until the offer (or release) that changes it.
        points += [(at - timedelta(seconds=1), before), (at, pence // 100)]
        before = pence // 100
    points.append((end, before))
    # pygal reads naive datetimes as UTC; London wall-clock times label the axis in London.
    chart.x_labels = _month_starts(start, end)
    chart.add("committed", [(at.astimezone(LONDON).replace(tzinfo=None), v) for at, v in points],
              stroke_style={"width": 2.5})
    chart.add("the fund (£9,000,000)", [(start.replace(tzinfo=None), f.fund_pence // 100),
                                        (end.replace(tzinfo=None), f.fund_pence // 100)],
              stroke_style={"width": 2, "dasharray": "8, 5"})
    return _inline(chart, "committed")


def _month_starts(start: datetime, end: datetime) -> list[datetime]:
    out, year, month = [], start.year, start.month + 1
    while datetime(year, month, 1, tzinfo=LONDON) <= end:
        out.append(datetime(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _returns_chart(f: Figures) -> Markup:
    import pygal
    style = _style()
    style.colors = ("#00703c", "#f47738", "#d4351c")
    chart = pygal.StackedBar(js=[], disable_xml_declaration=True, width=900, height=360,
                             style=style, title="Monitoring returns by the quarter they were due",
                             legend_at_bottom=True, print_values=False)
    chart.x_labels = [name for name, _ in f.returns_by_quarter]
    chart.add("on time", [c.on_time for _, c in f.returns_by_quarter])
    chart.add("late", [c.late for _, c in f.returns_by_quarter])
    chart.add("missed", [c.missed for _, c in f.returns_by_quarter])
    return _inline(chart, "returns")


# --- state diagrams (DOT, drawn offline) ---------------------------------------------
def renderer_path() -> str | None:
    """graphviz-pure beside this Python (a venv not on PATH), else on PATH."""
    beside = Path(sys.executable).parent / RENDERER
    if beside.exists():
        return str(beside)
    return shutil.which(RENDERER)


def dot_to_svg(dot: str) -> Markup:
    program = renderer_path()
    if program is None:
        raise FileNotFoundError(RENDERER)
    done = subprocess.run([program, "-Tsvg"], input=dot.encode(), capture_output=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace").strip() or
                           f"{RENDERER} exited {done.returncode}")
    svg = _COMMENTS.sub("", _PROLOGUE.sub("", done.stdout.decode("utf-8"), count=1))
    return Markup(_scaled(svg, DIAGRAM_SCALE))


def _scaled(svg: str, scale: float) -> str:
    """Set the drawing's size to `scale` of Graphviz's own (in points), keeping its viewBox.

    Shrunk to the page's width, a wide machine's labels would be too small to
    read; at this scale they stay legible and a wide diagram scrolls instead.
    """
    def size(match: re.Match) -> str:
        points = float(match.group(2))
        return f'{match.group(1)}="{points * 4 / 3 * scale:.0f}px"'
    head, _, rest = svg.partition(">")
    return re.sub(r'\b(width|height)="([0-9.]+)pt"', size, head) + ">" + rest


def _diagram(kind: str) -> Diagram:
    definition = DEFINITIONS[kind]
    try:
        svg = dot_to_svg(definition.dot())
    except FileNotFoundError:
        return Diagram(kind, definition.label, None, definition.mermaid(),
                       note=f"The {RENDERER} program is not installed, so this diagram is shown "
                            f"as its Mermaid text (`pip install {RENDERER}` draws it).")
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        return Diagram(kind, definition.label, None, definition.mermaid(),
                       note=f"{RENDERER} could not draw this diagram ({err}); here is its "
                            f"Mermaid text.")
    return Diagram(kind, definition.label, svg, definition.mermaid())


# --- the suspended case's history ------------------------------------------------------
def _timeline_row(row: dict[str, Any]) -> dict[str, Any]:
    payload = row.get("payload") or {}
    if row["from_state"] is None:
        change = f"opened in {row['to_state']}"
    elif row["from_state"] == row["to_state"]:
        change = f"({row['to_state'].replace('_', ' ')})"
    else:
        change = f"{row['from_state'].replace('_', ' ')} → {row['to_state'].replace('_', ' ')}"
    notes = []
    if payload.get("step"):
        notes.append(f"ladder step {payload['step']}" + (" (late)" if payload.get("late") else ""))
    if payload.get("level"):
        notes.append(f"level {payload['level']}")
    if payload.get("message"):
        notes.append(f"message {payload['message']}")
    if payload.get("days_after_due"):
        notes.append(f"{payload['days_after_due']} days after due")
    return {"at": datetime.fromisoformat(row["at"]), "seq": row["seq"],
            "checkpoint": row["checkpoint"], "trigger": row["trigger"], "change": change,
            "actor": row["actor"], "role": row["role"], "reason": row["reason"],
            "notes": "; ".join(notes), "hash": row["hash"][:12]}
