"""The operator's charts: counts over days (one line per series) and counts by category
(horizontal bars), as inline SVG with a `<title>`, a `<desc>` and a text summary, like
`web.charts` (whose bars are on a 0-100% axis; these count). Written by hand for the same
reasons as `web.charts`: a few lines and rectangles, inline under the pages' CSP, every label
escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from itertools import count

from markupsafe import Markup, escape

from clearinghouse.web.charts import Chart

_ids = count(1)
# Distinguishable on white and in grey scale; the table next to each chart carries the numbers.
COLOURS = {
    "critical": "#7a0c10",
    "high": "#c2410c",
    "medium": "#8a6d00",
    "low": "#0b57b0",
    "none": "#4a535e",
    "unknown": "#6b21a8",
}
_INK, _GRID = "#1b1f24", "#c9d0d8"


def _open(width: int, height: int, title: str, desc: str) -> list[str]:
    uid = next(_ids)
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="ochart-{uid}-title ochart-{uid}-desc">',
        f'<title id="ochart-{uid}-title">{escape(title)}</title>',
        f'<desc id="ochart-{uid}-desc">{escape(desc)}</desc>',
    ]


def _nice_max(value: int) -> int:
    """The axis' top: the first of 1, 2, 5, 10, 20, 50... at or above `value`."""
    base = 1
    while True:
        for m in (1, 2, 5):
            if base * m >= value:
                return base * m
        base *= 10


def lines(title: str, days: Sequence[date], series: Mapping[str, Sequence[int]]) -> Chart:
    """One line per series over `days`; the summary gives each series' first and last value
    and its peak."""
    shown = {k: v for k, v in series.items() if any(v)}
    summary = (
        "; ".join(
            f"{k}: {v[0]} on {days[0].isoformat()}, {v[-1]} on {days[-1].isoformat()}, "
            f"peak {max(v)}"
            for k, v in shown.items()
        )
        if days and shown
        else "no open exposures in this period"
    )
    left, plot_w, plot_h, top, legend_h = 48, 620, 220, 16, 28
    width, height = left + plot_w + 48, top + plot_h + 40 + legend_h
    peak = _nice_max(max((max(v) for v in shown.values()), default=0))
    parts = _open(width, height, title, f"{title}. {summary}")
    for i in range(5):  # the y axis: 0, 1/4 ... peak
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
            f'stroke="{_GRID}" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="12" text-anchor="end" '
            f'fill="{_INK}">{value:g}</text>'
        )
    n = len(days)
    step = plot_w / max(n - 1, 1)
    for i in (0, n // 2, n - 1) if n else ():  # three date labels
        x = left + step * i
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" font-size="12" text-anchor="middle" '
            f'fill="{_INK}">{days[i].isoformat()}</text>'
        )
    for k, values in shown.items():
        colour = COLOURS.get(k, _INK)
        points = " ".join(
            f"{left + step * i:.1f},{top + plot_h - plot_h * v / peak:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    x = left
    for k in shown:  # the legend
        y = top + plot_h + 40
        parts.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{COLOURS.get(k, _INK)}"/>'
            f'<text x="{x + 16}" y="{y}" font-size="12" fill="{_INK}">{escape(k)}</text>'
        )
        x += 24 + 8 * len(k)
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), summary)  # noqa: S704 - every label above is escaped


def bars(title: str, counts: Mapping[str, int]) -> Chart:
    """Horizontal bars, one per category, with the count written at the end of each."""
    summary = "; ".join(f"{k}: {v}" for k, v in counts.items()) or "none"
    label_w, plot_w, row_h, top = 200, 380, 26, 8
    width, height = label_w + plot_w + 60, top + row_h * max(1, len(counts)) + 8
    peak = max(counts.values(), default=0) or 1
    parts = _open(width, height, title, f"{title}. {summary}")
    for i, (k, v) in enumerate(counts.items()):
        y = top + i * row_h
        w = plot_w * v / peak
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 15}" font-size="13" text-anchor="end" '
            f'fill="{_INK}">{escape(k)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="16" '
            f'fill="{COLOURS.get(k, "#0b57b0")}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}" font-size="13" '
            f'fill="{_INK}">{v}</text>'
        )
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), summary)  # noqa: S704 - every label above is escaped
