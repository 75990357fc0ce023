"""Server-rendered SVG charts, each with a `<title>`, a `<desc>` and a text alternative.

A small helper of our own rather than matplotlib: the charts are a few rectangles and lines,
the SVG must be inline (a page's CSP allows no other origin and no inline script), its labels
must be escaped like any other text of the page, and its size stays a few kilobytes. Each chart
returns `Chart(svg, summary)`: `summary` is the sentence a page puts next to it (and the page
also shows the numbers as a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import count

from markupsafe import Markup, escape

_ids = count(1)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..1
    low: float | None = None  # a confidence interval, 0..1
    high: float | None = None


@dataclass(frozen=True)
class Chart:
    svg: Markup
    summary: str


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def score_bars(title: str, bars: Sequence[Bar], *, description: str = "") -> Chart:
    """Horizontal bars on a 0-100% axis, each with its confidence interval as a whisker."""
    summary = (
        "; ".join(
            f"{b.label}: {_pct(b.value)}"
            + (
                f" (95% CI {_pct(b.low)} to {_pct(b.high)})"
                if b.low is not None and b.high is not None
                else ""
            )
            for b in bars
        )
        or "no scores"
    )
    desc = f"{description} {summary}".strip()
    uid = next(_ids)
    label_w, plot_w, row_h, top = 220, 420, 28, 24
    height = top + row_h * max(1, len(bars)) + 30
    width = label_w + plot_w + 20
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-labelledby="chart-{uid}-title chart-{uid}-desc">',
        f'<title id="chart-{uid}-title">{escape(title)}</title>',
        f'<desc id="chart-{uid}-desc">{escape(desc)}</desc>',
    ]
    # the axis: 0, 25, 50, 75, 100%
    for tick in range(0, 101, 25):
        x = label_w + plot_w * tick / 100
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{height - 24}" '
            'stroke="#c9d0d8" stroke-width="1"/>'
            f'<text x="{x:.1f}" y="{height - 8}" font-size="12" text-anchor="middle" '
            f'fill="#1b1f24">{tick}%</text>'
        )
    for i, b in enumerate(bars):
        y = top + i * row_h
        value = min(max(b.value, 0.0), 1.0)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="13" text-anchor="end" '
            f'fill="#1b1f24">{escape(b.label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{plot_w * value:.1f}" height="16" '
            'fill="#0b57b0"/>'
        )
        if b.low is not None and b.high is not None:
            lo = label_w + plot_w * min(max(b.low, 0.0), 1.0)
            hi = label_w + plot_w * min(max(b.high, 0.0), 1.0)
            parts.append(
                f'<line x1="{lo:.1f}" y1="{y + 12}" x2="{hi:.1f}" y2="{y + 12}" '
                'stroke="#1b1f24" stroke-width="2"/>'
                f'<line x1="{lo:.1f}" y1="{y + 6}" x2="{lo:.1f}" y2="{y + 18}" stroke="#1b1f24" stroke-width="2"/>'
                f'<line x1="{hi:.1f}" y1="{y + 6}" x2="{hi:.1f}" y2="{y + 18}" stroke="#1b1f24" stroke-width="2"/>'
            )
    parts.append("</svg>")
    return Chart(Markup("".join(parts)), summary)  # noqa: S704 - every label above is escaped
