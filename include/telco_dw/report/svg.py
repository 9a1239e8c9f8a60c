"""Charts as inline SVG: no script, no font or library to fetch, so a page holding them opens offline.

Each chart is one ``<svg class="chart">`` whose data marks (bars, points) carry ``class="mark"`` and a
``<title>`` tooltip with the exact value; a value of ``None`` (no data behind it) draws no mark.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Scale = Callable[[float], float]
"""Data value -> svg y coordinate."""

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 40
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#555555")
"""Okabe-Ito: told apart by colour-blind readers too; the last one is for a total."""


@dataclass(frozen=True)
class Series:
    """One named line or set of bars: a value per category (``None``: nothing to show)."""

    name: str
    values: Sequence[float | None]
    notes: Sequence[str] = field(default_factory=tuple)
    """Per category, added to the tooltip (e.g. how many responses the value rests on)."""


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (steps of 1, 2 or 5 x 10^k)."""
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    return [first + i * step for i in range(math.ceil((high - first) / step) + 1)]


def _number(value: float, unit: str, decimals: int = 1) -> str:
    text = f"{round(value, decimals) + 0.0:,.{decimals}f}"  # + 0.0: no "-0"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + unit


def _decimals(ticks: list[float]) -> int:
    """Decimals that tell the ticks (and values read against them) apart: at least one."""
    step = ticks[1] - ticks[0]
    return max(1, -math.floor(math.log10(step)))


def _frame(ticks: list[float], y: Scale, unit: str, labels: list[tuple[float, str]], title: str) -> list[str]:
    """The svg element's start, gridlines with their values, and the category labels under the axis."""
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    decimals = _decimals(ticks)
    for tick in ticks:
        ty, zero = y(tick), abs(tick) < 1e-9
        out.append(f'<line class="grid{" zero" if zero else ""}" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
                   f'y1="{ty:.1f}" y2="{ty:.1f}"/>')  # fmt: skip
        out.append(
            f'<text class="tick" x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{_number(0.0 if zero else tick, unit, decimals)}</text>"
        )
    for x, label in labels:
        out.append(
            f'<text class="category" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
            f"{html.escape(label)}</text>"
        )
    return out


def _scale(values: list[float], floor: float | None, ceiling: float | None) -> tuple[list[float], Scale]:
    low = min([*values, 0.0] if floor is None else [*values, floor])
    high = max([*values, 0.0] if ceiling is None else [*values, ceiling])
    ticks = _ticks(low, high)
    top, bottom = ticks[-1], ticks[0]

    def y(value: float) -> float:
        return TOP + (top - value) / (top - bottom) * (HEIGHT - TOP - BOTTOM)

    return ticks, y


def _tooltip(series: Series, category: str, index: int, value: float, unit: str, decimals: int) -> str:
    note = f" ({series.notes[index]})" if index < len(series.notes) and series.notes[index] else ""
    return html.escape(f"{series.name}, {category}: {_number(value, unit, decimals + 1)}{note}")


def _empty(title: str) -> str:
    return (
        f'<svg class="chart empty" viewBox="0 0 {WIDTH} 60" role="img" aria-label="{html.escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><text x="{WIDTH / 2}" y="34" text-anchor="middle">'
        "no data yet</text></svg>"
    )


def _plot(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str,
    floor: float | None,
    ceiling: float | None,
) -> tuple[list[str], Scale, int, list[float], float] | None:
    """A chart's frame over ``categories``: (its SVG so far, the y scale, decimals of its labels, the x
    of each category's centre, the width of a category's band); None when no series has a value."""
    values = [v for s in series for v in s.values if v is not None]
    if not values:
        return None
    ticks, y = _scale(values, floor, ceiling)
    band = (WIDTH - LEFT - RIGHT) / len(categories)
    xs = [LEFT + band * (i + 0.5) for i in range(len(categories))]
    return _frame(ticks, y, unit, list(zip(xs, categories, strict=True)), title), y, _decimals(ticks), xs, band


def bar_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    floor: float | None = None,
    ceiling: float | None = None,
) -> str:
    """Grouped vertical bars from a zero baseline (negative values hang below it), one group per category."""
    plot = _plot(title, categories, series, unit, floor, ceiling)
    if plot is None:
        return _empty(title)
    out, y, decimals, _, band = plot
    bar = band * 0.8 / len(series)
    zero = y(0.0)
    for s_index, s in enumerate(series):
        for c_index, value in enumerate(s.values):
            if value is None:
                continue
            x = LEFT + band * (c_index + 0.1) + bar * s_index
            top = y(value)
            label_y = top - 4 if value >= 0 else top + 11
            out.append(
                f'<rect class="mark" x="{x:.1f}" y="{min(top, zero):.1f}" width="{bar - 1:.1f}" '
                f'height="{max(abs(zero - top), 0.5):.1f}" fill="{colour(s_index)}">'
                f"<title>{_tooltip(s, categories[c_index], c_index, value, unit, decimals)}</title></rect>"
            )
            if len(series) * len(categories) <= 24:
                out.append(
                    f'<text class="value" x="{x + bar / 2:.1f}" y="{label_y:.1f}" text-anchor="middle">'
                    f"{_number(value, unit, decimals)}</text>"
                )
    out.append("</svg>")
    return "".join(out)


def line_chart(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    floor: float | None = None,
    ceiling: float | None = None,
) -> str:
    """One line per series across the categories (e.g. months), a point per value; gaps where ``None``."""
    plot = _plot(title, categories, series, unit, floor, ceiling)
    if plot is None:
        return _empty(title)
    out, y, decimals, xs, _ = plot
    for s_index, s in enumerate(series):
        path, pen_down = [], False
        for x, value in zip(xs, s.values, strict=True):
            if value is None:
                pen_down = False
                continue
            path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y(value):.1f}")
            pen_down = True
        out.append(f'<path class="line" d="{" ".join(path)}" stroke="{colour(s_index)}" fill="none"/>')
        for c_index, (x, value) in enumerate(zip(xs, s.values, strict=True)):
            if value is not None:
                out.append(
                    f'<circle class="mark" cx="{x:.1f}" cy="{y(value):.1f}" r="3.5" fill="{colour(s_index)}">'
                    f"<title>{_tooltip(s, categories[c_index], c_index, value, unit, decimals)}</title></circle>"
                )
    out.append("</svg>")
    return "".join(out)


def legend(series: Sequence[Series]) -> str:
    """The series' names with their colours, as an HTML list to put under a chart."""
    items = "".join(
        f'<li><span class="swatch" style="background:{colour(i)}"></span>{html.escape(s.name)}</li>'
        for i, s in enumerate(series)
    )
    return f'<ul class="legend">{items}</ul>'
