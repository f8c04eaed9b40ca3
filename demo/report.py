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
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from notifications.kinds import kind_label
from states import DEFINITIONS, dates
from states.ladder import LONDON
from states.money import pounds
from states.questions import without_field_codes
from demo.charts import Mark, fund_chart, ladder_timeline, year_span
from demo.figures import Figures
from demo.run import DemoResult
from demo.sample import SAMPLE_NOTE
from demo.summary import KIND_NAMES, STEP_ORDER, limit_text, state_rows

RENDERER = "graphviz-pure"
WIDE, NARROW = 960, 400  # the drawings' widths for a laptop's column and a phone's
DIAGRAM_SCALE = 0.8
_COMMENTS = re.compile(r"<!--.*?-->", re.S)
_SCRIPTS = re.compile(r"<script\b.*?</script>", re.S)
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)


@dataclass(frozen=True)
class Diagram:
    kind: str
    label: str
    svg: Markup | None  # None when no renderer is installed
    mermaid: str
    note: str | None = None


def write_report(result: DemoResult, path: Path | None = None) -> Path:
    path = path or result.out / "report.html"
    path.write_text(render_report(result), encoding="utf-8")
    return path


def render_report(result: DemoResult) -> str:
    f = result.figures
    env = _environment()
    spec = f.spec
    return env.get_template("report/report.html").render(
        result=result,
        f=f,
        sample_note=SAMPLE_NOTE,
        kind_names=KIND_NAMES,
        state_rows=state_rows(f),
        step_order=STEP_ORDER,
        limit_text=limit_text,
        committed_chart=_committed_chart(f),
        returns_chart=_returns_chart(f),
        diagrams=[_diagram(kind) for kind in ("bid", "area", "checkpoint", "payment")],
        timeline=[_timeline_row(row, f.suspended_kind) for row in f.suspended_history],
        ladder=_ladder_drawing(f),
        refusals=[e for e in result.log if e.refused],
        award_tone=_award_tone,
        step_label=spec.step_label,
        step_when=_step_when(spec),
        run_at=result.started.strftime("%d %B %Y at %H:%M %Z").strip(),
    )


def _award_tone(state: str) -> str:
    """An award's tag: live (holding funds), held (suspended) or gone (declined, terminated)."""
    return {"suspended": "held", "declined": "gone", "terminated": "gone"}.get(state, "live")


def _step_when(spec: Any):
    """ "14 days before the due date", for a ladder step, from the programme's own ladder."""

    def when(name: str) -> str:
        step = spec.step(name)
        if step is None:
            return ""
        if step.offset_days == 0:
            return "on the due date"
        n = abs(step.offset_days)
        unit = ("working day" if step.working_days else "day") + ("" if n == 1 else "s")
        return f"{n} {unit} {'before' if step.offset_days < 0 else 'after'} the due date"

    return when


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(importlib.resources.files("templates"))),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pounds"] = pounds
    env.filters["words"] = lambda s: (s or "").replace("_", " ")
    env.filters["london"] = dates.moment
    env.filters["day"] = dates.day
    env.filters["state"] = lambda code, kind: DEFINITIONS[kind].state_label(code)
    env.filters["message_kind"] = kind_label
    env.filters["people"] = without_field_codes  # a refusal without the rules' field codes
    return env


# --- charts ---------------------------------------------------------------------------
def _style():
    from pygal.style import Style

    # Gridlines light and solid: a dashed line on a chart is never a gridline here.
    return Style(
        background="white",
        plot_background="white",
        font_family="system-ui, sans-serif",
        label_font_size=12,
        major_label_font_size=12,
        legend_font_size=13,
        title_font_size=15,
        colors=("#1d70b8", "#d4351c", "#00703c", "#f47738"),
        guide_stroke_color="#dddcdb",
        major_guide_stroke_color="#dddcdb",
        guide_stroke_dasharray="1,0",
        major_guide_stroke_dasharray="1,0",
    )


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
    """The whole programme year, from the announcement to the last day of the demo: drawn
    twice, for a wide column and for a phone (the page shows the one that fits)."""
    start, end = year_span(datetime(2013, 3, 22, tzinfo=LONDON), f.end)
    return _both(
        lambda width: fund_chart(
            f.committed_over_time,
            f.releases,
            fund_pence=f.fund_pence,
            start=start,
            end=end,
            width=width,
            paid=f.paid_over_time,
        )
    )


def _both(draw) -> Markup:
    """The wide and the narrow drawing; the page's style shows one, by the screen's width."""
    return Markup('<div class="wide">{}</div><div class="narrow">{}</div>').format(
        draw(WIDE), draw(NARROW)
    )


def _returns_chart(f: Figures) -> Markup:
    return _both(lambda width: _returns_bars(f, width))


def _returns_bars(f: Figures, width: int) -> Markup:
    import pygal

    style = _style()
    style.colors = ("#00703c", "#f47738", "#d4351c")
    chart = pygal.StackedBar(
        js=[],
        disable_xml_declaration=True,
        width=width,
        height=360 if width > NARROW else 300,
        style=style,
        # The title says what the bars count; a y-axis title would squeeze a phone's plot.
        title="How many monitoring returns, by the quarter they were due",
        legend_at_bottom=True,
        print_values=False,
        # On a phone five quarters' names side by side run into each other: slanted.
        x_label_rotation=0 if width > NARROW else 30,
    )
    # On a phone "Jul–Sep 2013" is cut to "Jul–Se…": there the year is written short.
    chart.x_labels = [
        name if width > NARROW else f"{name[:-4]}{name[-2:]}" for name, _ in f.returns_by_quarter
    ]
    chart.truncate_label = -1
    chart.add("on time", [c.on_time for _, c in f.returns_by_quarter])
    chart.add("late", [c.late for _, c in f.returns_by_quarter])
    chart.add("missed", [c.missed for _, c in f.returns_by_quarter])
    return _inline(chart, f"returns-{width}")


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
    done = subprocess.run(
        [program, "-Tsvg"], input=dot.encode(), capture_output=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            done.stderr.decode(errors="replace").strip() or f"{RENDERER} exited {done.returncode}"
        )
    svg = _COMMENTS.sub("", _PROLOGUE.sub("", done.stdout.decode("utf-8"), count=1))
    return Markup(_scaled(svg, DIAGRAM_SCALE))


def _scaled(svg: str, scale: float) -> str:
    """Set the drawing's size to `scale` of Graphviz's own (in points), keeping its viewBox;
    the page's style lets it shrink further to fit a narrower column."""

    def size(match: re.Match) -> str:
        points = float(match.group(2))
        return f'{match.group(1)}="{points * 4 / 3 * scale:.0f}px"'

    head, _, rest = svg.partition(">")
    return re.sub(r'\b(width|height)="([0-9.]+)pt"', size, head) + ">" + rest


def _diagram(kind: str) -> Diagram:
    definition = DEFINITIONS[kind]
    try:
        # Drawn top-down, so a machine is as wide as its widest rank, not its longest path:
        # it fits the report's column (and a phone's, scaled down) instead of being cut off.
        svg = dot_to_svg(definition.dot().replace("rankdir=LR;", "rankdir=TB;", 1))
    except FileNotFoundError:
        return Diagram(
            kind,
            definition.label,
            None,
            definition.mermaid(),
            note=f"The {RENDERER} program is not installed, so this diagram is shown "
            f"as its Mermaid text (`pip install {RENDERER}` draws it).",
        )
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        return Diagram(
            kind,
            definition.label,
            None,
            definition.mermaid(),
            note=f"{RENDERER} could not draw this diagram ({err}); here is its Mermaid text.",
        )
    return Diagram(kind, definition.label, svg, definition.mermaid())


# --- the suspended case's history ------------------------------------------------------
# How a history row is drawn: ladder steps by their step, other moves by their trigger.
_STEP_MARKS = {
    "opened": "opened",
    "reminder": "reminder",
    "overdue": "overdue",
    "escalated_1": "escalated",
    "escalated_2": "escalated",
    "suspended": "suspended",
}
_RETURN_MARKS = {"submit": "sent", "accept": "accepted", "held": "held"}
_CASE_MARKS = {
    "accept": "started",
    "suspend": "suspended",
    "reinstate": "reinstated",
    "terminate": "suspended",
    "complete": "accepted",
    "held": "held",
}


def _marks(rows: list[dict[str, Any]], kind: str, spec: Any) -> list[Mark]:
    """The case from its award's acceptance on: its own moves on the top lane, each return's
    steps on a lane of its own (a ladder step by its label, "Second escalation")."""
    definition, returns = DEFINITIONS[kind], DEFINITIONS["checkpoint"]
    out = []
    for row in rows:
        payload = row.get("payload") or {}
        step = payload.get("step")
        lane = row["checkpoint"] or "Case"
        if row["trigger"] == "held":
            mark, label = (
                "held",
                f"{spec.step_label(step) if step else 'A step'} held: "
                f"the case is suspended, nothing was sent",
            )
        elif step and row["checkpoint"]:
            mark, label = _STEP_MARKS.get(step, "reminder"), spec.step_label(step)
            if step == "suspended":
                mark, label = "last_step", label + " (the case was already suspended)"
        elif row["checkpoint"]:
            mark, label = _RETURN_MARKS.get(row["trigger"]), returns.trigger_label(row["trigger"])
        else:
            mark, label = _CASE_MARKS.get(row["trigger"]), definition.trigger_label(row["trigger"])
            if row["trigger"] == "accept":
                label = "Award accepted: monitoring begins"
            if step:
                label += f", by the ladder ({payload.get('checkpoint', 'a return')} "
                label += "unanswered 28 days after its due date)"
        if mark is not None:
            out.append(Mark(lane, datetime.fromisoformat(row["at"]), mark, label))
    return out


def _ladder_drawing(f: Figures) -> Markup | None:
    marks = _marks(f.suspended_history, f.suspended_kind, f.spec)
    if not marks:
        return None
    first, last = min(m.at for m in marks), max(m.at for m in marks)
    start = datetime(first.year, first.month, 1, tzinfo=LONDON)
    end = datetime(last.year + (last.month == 12), last.month % 12 + 1, 1, tzinfo=LONDON)
    title = (
        f"{f.suspended_case}: its returns and the reminder ladder, {len(marks)} events "
        f"from {first:%B %Y} to {last:%B %Y}"
    )
    return _both(
        lambda width: ladder_timeline(marks, start=start, end=end, title=title, width=width)
    )


def _timeline_row(row: dict[str, Any], kind: str) -> dict[str, Any]:
    """One history row for the table under the timeline, in labels, not codes."""
    payload = row.get("payload") or {}
    of = DEFINITIONS["checkpoint"] if row["checkpoint"] else DEFINITIONS[kind]
    before, after = row["from_state"], row["to_state"]
    if before is None:
        change = f"opened as {of.state_label(after)}"
    elif before == after:
        change = f"stays {of.state_label(after)}"
    else:
        change = f"{of.state_label(before)} → {of.state_label(after)}"
    notes = []
    if payload.get("late"):
        notes.append("done late (the sweep caught up)")
    if payload.get("message") == "skipped":
        notes.append("message skipped")
    if payload.get("days_after_due"):
        notes.append(f"{payload['days_after_due']} days after the due date")
    return {
        "at": datetime.fromisoformat(row["at"]),
        "seq": row["seq"],
        "checkpoint": row["checkpoint"],
        "what": of.trigger_label(row["trigger"]),
        "change": change,
        "actor": row["actor"],
        "role": row["role"],
        "reason": row["reason"],
        "notes": "; ".join(notes),
        "hash": row["hash"][:12],
    }
