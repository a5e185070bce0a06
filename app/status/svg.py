"""The geometry of the status page's inline-SVG charts: stacked day bars and horizontal
funnel bars, as numbers; the markup is the template's (app/status/templates/charts.html).

Contract: pure functions from figures to plain dicts (positions, sizes, fills, the hover
text of each bar); the templates escape every label, add a `<title>` per bar and
`role="img"` with an `aria-label`; no scripts, no external resources.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PALETTE = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#64748b")


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def stacked_bars(
    days: Sequence[str],
    series: Mapping[str, Sequence[int]],
    *,
    label: str,
    width: int = 560,
    height: int = 180,
    colours: Sequence[str] | None = None,
) -> dict[str, Any]:
    """One bar per day, stacked by series (e.g. call outcomes), with a legend below; each
    series in `colours` (one per series, in order), else the palette."""

    def fill(index: int) -> str:
        return colours[index] if colours and index < len(colours) else color(index)

    top = max((sum(values[i] for values in series.values()) for i in range(len(days))), default=0)
    plot_h, slot = height - 40, (width - 40) / max(len(days), 1)
    bars, ticks = [], []
    for i, day in enumerate(days):
        y = float(plot_h)
        for s, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / top if top else 0
            y -= h
            bars.append({"x": round(30 + i * slot + 2, 1), "y": round(y, 1),
                         "width": round(slot - 4, 1), "height": round(h, 1), "fill": fill(s),
                         "title": f"{day} {name}: {values[i]}"})  # fmt: skip
        if i % max(1, len(days) // 7) == 0:
            ticks.append({"x": round(30 + i * slot, 1), "text": day[5:]})
    legend = [{"x": 30 + s * 90, "fill": fill(s), "name": name} for s, name in enumerate(series)]
    return {"width": width, "height": height, "label": label, "top": top, "plot_h": plot_h,
            "bars": bars, "ticks": ticks, "legend": legend}  # fmt: skip


def funnel(stages: Sequence[tuple[str, int]], *, label: str, width: int = 420) -> dict[str, Any]:
    """Horizontal bars, one per stage, scaled to the first (largest) stage."""
    top = max((n for _, n in stages), default=0)
    rows = [{"name": name, "n": n, "y": i * 26, "fill": color(i),
             "width": round((width - 150) * n / top if top else 0, 1)}
            for i, (name, n) in enumerate(stages)]  # fmt: skip
    return {"width": width, "height": 26 * len(stages) + 4, "label": label, "rows": rows}
