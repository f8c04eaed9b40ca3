"""The report's drawings as inline SVG, drawn here rather than by a charting library.

Each drawing has a viewBox and no fixed width, so it shrinks with the column
(a phone shows the whole year, smaller); its text is real text; every mark
carries a <title> that says what it is; and the page says the same in words
beside it, so nothing is known only from the picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence

from markupsafe import Markup, escape

from states.dates import LONDON, day, in_london, short_day
from states.money import pounds

__all__ = ["Mark", "fund_chart", "ladder_timeline", "month_starts", "year_span"]

INK, MUTED, GRID = "#0b0c0c", "#505a5f", "#dddcdb"
BLUE, RED, GREEN, AMBER, GREY = "#1d70b8", "#d4351c", "#00703c", "#f47738", "#6f777b"
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


@dataclass(frozen=True)
class Mark:
    """One event on the ladder timeline: its lane, when, and what it was."""

    lane: str  # "Case", "Q1", "Q2"…
    at: datetime
    kind: str  # opened | reminder | overdue | escalated | suspended | sent |
    # accepted | reinstated | held | other
    label: str  # what people read in its tooltip and the list beside it


def month_starts(start: date, end: date) -> list[date]:
    out, year, month = [], start.year, start.month
    while True:
        month += 1
        if month == 13:
            year, month = year + 1, 1
        first = date(year, month, 1)
        if first > end:
            return out
        out.append(first)


class _Scale:
    def __init__(self, start: datetime, end: datetime, left: float, right: float):
        self.start, self.span = start, (end - start).total_seconds() or 1.0
        self.left, self.width = left, right - left

    def x(self, at: datetime) -> float:
        return self.left + self.width * (at - self.start).total_seconds() / self.span


def _text(
    x: float,
    y: float,
    body: str,
    *,
    anchor: str = "start",
    size: int = 13,
    colour: str = INK,
    weight: str = "normal",
    halo: bool = False,
) -> str:
    # A label among the lines (the totals at the end, the releases) is outlined in white
    # under its letters: a line running through it never strikes it out, and stays in sight
    # between the letters (a white box would hide the data behind it).
    outline = (
        ' stroke="#fff" stroke-width="4" stroke-linejoin="round" paint-order="stroke"'
        if halo
        else ""
    )
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{colour}" font-weight="{weight}"{outline}>{escape(body)}</text>'
    )


def _width(body: str, size: int) -> float:
    """A generous guess at a label's width (no font metrics here): 0.6 of its size a letter."""
    return len(body) * size * 0.6


def _svg(width: int, height: int, label: str, body: Iterable[str]) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" class="drawing" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Arial, sans-serif">'
        + "".join(body)
        + "</svg>"
    )


def _month_axis(
    scale: _Scale, start: date, end: date, y: float, top: float, every: int = 2
) -> list[str]:
    """Ticks at each month start; a label every `every` months (every month would crowd)."""
    out = []
    for i, first in enumerate(month_starts(start, end)):
        x = scale.x(datetime(first.year, first.month, 1, tzinfo=LONDON))
        out.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{y + 5}" stroke="{GRID}" '
            f'stroke-width="1"/>'
        )
        if i % every == 0:
            name = _MONTHS[first.month - 1] + (
                f" {first.year}" if first.month in (1, 4) or i == 0 else ""
            )
            out.append(_text(x, y + 20, name, anchor="middle", size=12, colour=MUTED))
    return out


def fund_chart(
    points: Sequence[tuple[datetime, int]],
    releases: Sequence[Any],
    *,
    fund_pence: int,
    start: datetime,
    end: datetime,
    width: int = 960,
    paid: Sequence[tuple[datetime, int]] = (),
) -> Markup:
    """The committed total as a step line over the whole year, the fund's limit as a thick red
    line (gridlines are thin, light and solid, so the two are never confused), and each
    release of funds marked and labelled where the line dips."""
    narrow = width < 700  # the phone's drawing: fewer labels, same text size
    height, left, right, top, bottom = (
        (340 if narrow else 380),
        50,
        width - 12,
        24,
        (290 if narrow else 320),
    )
    scale = _Scale(start, end, left, right)
    ceiling = ((fund_pence * 11 // 10) // 100_000_000 + 1) * 100_000_000  # a round £1m above

    def y(pence: int) -> float:
        return bottom - (bottom - top) * pence / ceiling

    body = []
    for level in range(0, ceiling + 1, 100_000_000):  # £1m gridlines
        body.append(
            f'<line x1="{left}" y1="{y(level):.1f}" x2="{right}" y2="{y(level):.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(
            _text(
                left - 8,
                y(level) + 4,
                f"£{level // 100_000_000}m",
                anchor="end",
                size=12,
                colour=MUTED,
            )
        )
    body += _month_axis(scale, start.date(), end.date(), bottom, top, every=4 if narrow else 2)
    body.append(f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="{INK}"/>')
    # the fund's limit
    body.append(
        f'<line x1="{left}" y1="{y(fund_pence):.1f}" x2="{right}" y2="{y(fund_pence):.1f}" '
        f'stroke="{RED}" stroke-width="3"><title>The fund: {pounds(fund_pence)}</title></line>'
    )
    body.append(
        _text(
            right,
            y(fund_pence) - 8,
            f"the fund's limit, {pounds(fund_pence)}",
            anchor="end",
            size=13,
            colour=RED,
            weight="bold",
            halo=True,
        )
    )
    # the committed total, as steps
    path, before = [f"M{left},{bottom}"], 0
    for at, total in points:
        path.append(f"H{scale.x(at):.1f}V{y(total):.1f}")
        before = total
    path.append(f"H{right}")
    body.append(
        f'<path d="{"".join(path)}" fill="none" stroke="{BLUE}" stroke-width="3">'
        f"<title>Committed: {pounds(before)} at the end</title></path>"
    )
    # Where the committed total's label goes (below its line, or low when the line is low).
    committed_y = bottom - 8 if before < fund_pence * 0.8 else y(before) + 20
    # what has been paid (issue 19), as steps under the committed line
    paid_total = 0
    if paid:
        steps = [f"M{left},{bottom}"]
        for at, total in paid:
            steps.append(f"H{scale.x(at):.1f}V{y(total):.1f}")
            paid_total = total
        steps.append(f"H{right}")
        body.append(
            f'<path d="{"".join(steps)}" fill="none" stroke="{GREEN}" stroke-width="3">'
            f"<title>Paid: {pounds(paid_total)} at the end</title></path>"
        )
        paid_y = y(paid_total) + 20 if paid_total else bottom - 26
        if abs(paid_y - committed_y) < 18:  # nearly all paid: the two labels would overprint
            paid_y = committed_y + 18 if committed_y + 18 <= bottom - 4 else committed_y - 18
        body.append(
            _text(
                right,
                paid_y,
                f"paid at the end: {pounds(paid_total)}",
                anchor="end",
                size=13,
                colour=GREEN,
                weight="bold",
                halo=True,
            )
        )
    # each release, where the line dips: its label below the dip, or further down, or above
    # it, wherever it meets neither the totals' labels at the right nor another release's
    # (on a phone they meet), and never past the chart's floor onto the months
    committed_text = f"committed at the end: {pounds(before)}"
    taken = [(right - _width(committed_text, 13), right, committed_y)]
    if paid:
        paid_text = f"paid at the end: {pounds(paid_total)}"
        taken.append((right - _width(paid_text, 13), right, paid_y))
    totals = {at: total for at, total in points}
    for r in releases:
        x, after = scale.x(r.at), totals.get(r.at, before)
        text = f"{r.ref} {r.why}: −{pounds(r.pence)}"
        x0, x1 = x + 16, x + 16 + _width(text, 12)
        below = [y(after) + 24 + 17 * k for k in range(40)]
        above = [y(after) - 12 - 17 * k for k in range(40)]
        candidates = [v for v in below if v <= bottom - 6] + [v for v in above if v >= top + 14]
        ly = next(
            (
                v
                for v in candidates
                if not any(a < x1 and x0 < b and abs(v - at) < 17 for a, b, at in taken)
            ),
            y(after) + 24,
        )
        taken.append((x0, x1, ly))
        body.append(
            f'<circle cx="{x:.1f}" cy="{y(after):.1f}" r="5" fill="#fff" stroke="{INK}" '
            f'stroke-width="2"><title>{escape(day(r.at))}: {escape(r.ref)} {r.why}, '
            f"{pounds(r.pence)} back to the fund</title></circle>"
        )
        # the leader runs from the mark's lower edge down to a label below, or its upper
        # edge up to one above
        y1, y2 = (y(after) + 5, ly - 4) if ly > y(after) else (y(after) - 5, ly + 4)
        body.append(
            f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x + 14:.1f}" y2="{y2:.1f}" stroke="{MUTED}"/>'
        )
        body.append(_text(x + 16, ly, text, size=12, halo=True))
    body.append(
        _text(
            right,
            committed_y,
            committed_text,
            anchor="end",
            size=13,
            colour=BLUE,
            weight="bold",
            halo=True,
        )
    )
    label = (
        f"Funds committed from {day(start)} to {day(end)}: {pounds(before)} at the end, "
        f"against the fund's {pounds(fund_pence)}; {len(releases)} release(s) of funds marked"
        + (f"; paid {pounds(paid_total)} by the end." if paid else ".")
    )
    return _svg(width, height, label, body)


_MARK_STYLE = {
    # kind: (shape, colour, legend)
    "started": ("square", BLUE, "award accepted"),
    "opened": ("circle", BLUE, "return opened"),
    "reminder": ("circle", GREY, "reminder"),
    "overdue": ("circle", AMBER, "overdue notice"),
    "escalated": ("circle", RED, "escalation"),
    "suspended": ("square", INK, "case suspended"),
    "held": ("ring", GREY, "step held: case suspended"),
    "last_step": ("box", INK, "last step, case already suspended"),
    "sent": ("circle", GREEN, "return sent"),
    "accepted": ("check", GREEN, "return accepted"),
    "reinstated": ("square", GREEN, "case reinstated"),
}


def _mark(kind: str, x: float, y: float, title: str) -> str:
    shape, colour, _ = _MARK_STYLE[kind]
    tip = f"<title>{escape(title)}</title>"
    if shape == "square":
        return (
            f'<rect x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" fill="{colour}">'
            f"{tip}</rect>"
        )
    if shape == "box":
        return (
            f'<rect x="{x - 6:.1f}" y="{y - 6:.1f}" width="12" height="12" fill="#fff" '
            f'stroke="{colour}" stroke-width="2.5">{tip}</rect>'
        )
    if shape == "ring":
        return (
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="#fff" stroke="{colour}" '
            f'stroke-width="2.5">{tip}</circle>'
        )
    if shape == "check":
        return (
            f'<path d="M{x - 6:.1f},{y:.1f}l4,5l8,-10" fill="none" stroke="{colour}" '
            f'stroke-width="3.5">{tip}</path>'
        )
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour}">{tip}</circle>'


def ladder_timeline(
    marks: Sequence[Mark], *, start: datetime, end: datetime, title: str, width: int = 960
) -> Markup:
    """One lane for the case and one for each return, each event a mark at its day: the
    reminder ladder climbing, the suspension, what happened after, read at a glance."""
    lanes = list(dict.fromkeys(m.lane for m in marks))
    lanes.sort(key=lambda lane: (lane != "Case", lane))
    narrow = width < 700
    left, right, lane_h, top = 56, width - 14, 40, 16
    bottom = top + lane_h * len(lanes)
    scale = _Scale(start, end, left, right)
    body = _month_axis(scale, start.date(), end.date(), bottom, top, every=3 if narrow else 2)
    for i, lane in enumerate(lanes):
        cy = top + lane_h * i + lane_h / 2
        body.append(
            f'<line x1="{left}" y1="{cy:.1f}" x2="{right}" y2="{cy:.1f}" stroke="{GRID}" '
            f'stroke-width="2"/>'
        )
        body.append(_text(left - 10, cy + 5, lane, anchor="end", size=14, weight="bold"))
        for m in (m for m in marks if m.lane == lane):
            body.append(
                _mark(m.kind, scale.x(m.at), cy, f"{short_day(in_london(m.at))}: {m.label}")
            )
    # the legend, kinds in the order the ladder climbs, only those present
    present = [k for k in _MARK_STYLE if any(m.kind == k for m in marks)]
    x, ly = 10, bottom + 44
    for kind in present:
        legend = _MARK_STYLE[kind][2]
        step = 30 + _width(legend, 13)
        if x + step > right:
            x, ly = 10, ly + 24
        body.append(_mark(kind, x + 7, ly - 4, legend))
        body.append(_text(x + 20, ly + 1, legend, size=13))
        x += step
    return _svg(width, int(ly + 14), title, body)


def year_span(start: datetime, end: date) -> tuple[datetime, datetime]:
    """From `start` to the end of `end`'s day, in London."""
    return start, datetime(end.year, end.month, end.day, tzinfo=LONDON) + timedelta(days=1)
