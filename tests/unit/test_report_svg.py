"""The dashboard's SVG charts: a mark per value, none for a missing one, negative bars below zero."""

import re

import pytest

from telco_dw.report import svg
from telco_dw.report.svg import Series


def _marks(chart: str) -> list[str]:
    return re.findall(r'<(?:rect|circle) class="mark"[^>]*>', chart)


def test_bars_draw_a_mark_per_value_and_none_for_a_missing_one():
    chart = svg.bar_chart("t", ["a", "b", "c"], [Series("NPS", [40.0, None, -20.0], ["n = 5", "", "n = 3"])])
    marks = _marks(chart)
    assert len(marks) == 2
    zero = float(re.search(r'<line class="grid zero"[^>]* y1="([\d.]+)"', chart).group(1))
    positive, negative = (dict(re.findall(r'(\w+)="([\d.-]+)"', m)) for m in marks)
    assert float(positive["y"]) + float(positive["height"]) == pytest.approx(zero, abs=0.11)
    assert float(negative["y"]) == zero
    assert "NPS, a: 40 (n = 5)" in chart and "NPS, c: -20 (n = 3)" in chart


def test_one_month_of_lines_still_draws_its_points():
    chart = svg.line_chart("t", ["2026-10"], [Series("north", [12.5]), Series("south", [None])])
    assert len(_marks(chart)) == 1


def test_no_value_at_all_says_so():
    assert "no data yet" in svg.bar_chart("t", ["a"], [Series("x", [None])])


def test_ticks_are_round_and_cover_the_values():
    assert svg._ticks(-100, 100) == [-100, -50, 0, 50, 100]
    ticks = svg._ticks(0, 0.08)
    assert ticks[0] == 0 and ticks[-1] >= 0.08
    assert [svg._number(t, "%", svg._decimals(ticks)) for t in ticks] == ["0%", "0.02%", "0.04%", "0.06%", "0.08%"]
