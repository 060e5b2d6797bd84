"""The one chart helper every HTML report draws with."""

from __future__ import annotations

import doctest

from copyalign.services import charts
from copyalign.services.charts import count_bars, hbars, table


def test_bars_scale_to_the_largest_and_escape_labels() -> None:
    svg = count_bars({"<b>keep</b>": 4, "drop": 1}, "#4a7")
    assert "&lt;b&gt;keep&lt;/b&gt;" in svg and "<b>" not in svg
    assert 'width="360"' in svg and 'width="90"' in svg  # 4 -> full width, 1 -> a quarter
    assert svg == hbars([("<b>keep</b>", 4), ("drop", 1)], colour="#4a7")  # the scan report's bars, unchanged


def test_a_fixed_scale_clips_draws_a_threshold_and_formats_values() -> None:
    svg = hbars([("a", 2.0), ("b", 0.5)], top=1.0, colour="#c63", shown=lambda v: f"{100 * v:.1f} %", mark=0.25)
    assert svg.count('width="360"') == 1 and 'width="180"' in svg  # 2.0 clipped to the top
    assert "200.0 %" in svg and "50.0 %" in svg
    assert 'stroke-dasharray="4 3"' in svg and 'x1="320"' in svg  # 230 + 360 / 4


def test_nothing_to_draw() -> None:
    assert hbars([], colour="#000") == "<p>none</p>" == count_bars({}, "#000")
    assert 'width="1"' in count_bars({"zero": 0}, "#000")  # a zero still shows a hairline


def test_tables_escape_and_say_none() -> None:
    assert table(["a"], [["<x>"]]) == "<table><tr><th>a</th></tr><tr><td>&lt;x&gt;</td></tr></table>"
    assert "none" in table(["a", "b"], [])


def test_docstring_examples() -> None:
    assert doctest.testmod(charts).failed == 0
