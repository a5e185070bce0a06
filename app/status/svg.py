"""A small inline-SVG charting helper: stacked day bars and horizontal funnel bars.

Contract: pure functions from numbers to an `<svg>` string (no scripts, no external
resources), every label escaped, a `<title>` per bar for hover text, and `role="img"` with an
`aria-label` so the chart is described to screen readers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#64748b")


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _svg(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"{body}</svg>"
    )


def stacked_bars(
    days: Sequence[str],
    series: Mapping[str, Sequence[int]],
    *,
    label: str,
    width: int = 560,
    height: int = 180,
    colours: Sequence[str] | None = None,
) -> str:
    """One bar per day, stacked by series (e.g. call outcomes), with a legend below; each
    series in `colours` (one per series, in order), else the palette."""

    def fill(index: int) -> str:
        return colours[index] if colours and index < len(colours) else color(index)

    top = max((sum(values[i] for values in series.values()) for i in range(len(days))), default=0)
    plot_h, slot = height - 40, (width - 40) / max(len(days), 1)
    parts = [f'<line x1="30" y1="{plot_h}" x2="{width}" y2="{plot_h}" stroke="#cbd5e1"/>',
             f'<text x="0" y="12" font-size="10">{top}</text>']  # fmt: skip
    for i, day in enumerate(days):
        y = float(plot_h)
        for s, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / top if top else 0
            y -= h
            x = 30 + i * slot + 2
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot - 4:.1f}" '
                f'height="{h:.1f}" fill="{fill(s)}"><title>{escape(day)} {escape(name)}: '
                f"{values[i]}</title></rect>"
            )
        if i % max(1, len(days) // 7) == 0:
            parts.append(f'<text x="{30 + i * slot:.1f}" y="{plot_h + 14}" font-size="10">'
                         f"{escape(day[5:])}</text>")  # fmt: skip
    for s, name in enumerate(series):
        parts.append(f'<rect x="{30 + s * 90}" y="{height - 14}" width="10" height="10" '
                     f'fill="{fill(s)}"/><text x="{44 + s * 90}" y="{height - 5}" '
                     f'font-size="10">{escape(name)}</text>')  # fmt: skip
    return _svg(width, height, label, "".join(parts))


def funnel(stages: Sequence[tuple[str, int]], *, label: str, width: int = 420) -> str:
    """Horizontal bars, one per stage, scaled to the first (largest) stage."""
    top = max((n for _, n in stages), default=0)
    parts = []
    for i, (name, n) in enumerate(stages):
        w = (width - 150) * n / top if top else 0
        y = i * 26
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(name)}</text>'
            f'<rect class="bar" x="90" y="{y + 3}" width="{w:.1f}" height="18" fill="{color(i)}">'
            f"<title>{escape(name)}: {n}</title></rect>"
            f'<text x="{96 + w:.1f}" y="{y + 16}" font-size="12">{n}</text>'
        )
    return _svg(width, 26 * len(stages) + 4, label, "".join(parts))
