"""The scan's HTML report for an auditor: decisions coloured by meaning, the steps as figures, a per-item table
with every reason linked to its cause, and a cap that says what it left out."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from copyalign.context import Copyalign
from copyalign.services.scan import report_html
from copyalign.services.scan.report_html import COLOURS, anchor
from tests.integration.test_scan import EXPECTED, world  # noqa: F401 - the scan test's corpus and registry


def _rows(page: str) -> dict[str, str]:
    """Each item row of the table, by its anchor."""
    return dict(re.findall(r'<tr id="(item-[0-9a-f]+)"(.*?)</tr>', page, re.S))


def test_the_report_lists_every_item_with_links_to_the_causes(ca: Copyalign, world: dict, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    ca.scan.scan(world["dev"], world["root"], out, dedup=True)
    page = (out / "report.html").read_text()
    rows = _rows(page)
    assert set(rows) == {anchor(i) for i in EXPECTED}
    for item, (decision, reasons) in EXPECTED.items():
        row = rows[anchor(item)]
        assert f'data-decision="{decision}"' in row and f'<span class="d d-{decision}">' in row
        assert all(r in row for r in reasons)

    def links(item: str) -> list[str]:
        return [html.unescape(h) for h in re.findall(r'href="([^"]+)"', rows[anchor(item)])]

    # an opt-out signal links to the site file the scan read, relative to the report
    robots = [h for h in links("web/part-000.jsonl#7") if h.endswith("robots.txt")]
    assert robots and (out / robots[0]).resolve() == (world["root"] / ".copyalign-sites/robots.example/robots.txt")
    # a header signal links to the corpus file that carried it
    assert any((out / h).resolve() == world["root"] / "web/part-000.jsonl" for h in links("web/part-000.jsonl#8"))
    # a registry reason links to the matched work's row, which names its holder and preference
    opted = [h for h in links("web/part-000.jsonl#2") if h.startswith("#work-")]
    assert set(opted) == {f"#work-{world['w']['denied']}"} and f'id="work-{world["w"]["denied"]}"' in page
    works = page[page.index('<h2 id="works">') :]
    assert world["holder"].name in works and "deny" in works
    licensed = [h for h in links("web/part-000.jsonl#3") if h.startswith("#work-")]
    assert "licensed by notice" in works and world["notice"] in works and licensed
    # a duplicate links to the item it repeats
    assert f"#{anchor('web/part-000.jsonl#1')}" in links("web/part-000.jsonl#16")


def test_decisions_are_coloured_by_meaning_and_steps_are_figures(ca: Copyalign, world: dict, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "out"
    ca.scan.scan(world["dev"], world["root"], out, dedup=True)
    page = (out / "report.html").read_text()
    chart = page[page.index("<h2>Decisions</h2>") : page.index("<h2>Reasons</h2>")]
    assert COLOURS["keep"] in chart and COLOURS["drop"] in chart and COLOURS["keep"] != COLOURS["drop"]
    steps = page[page.index("<h2>Steps</h2>") :]
    assert "records per second:" in steps and "{&quot;" not in steps and '{"' not in steps
    assert "<script>" in page and "http" not in page.split("<script>")[1]  # inline, loads nothing
    rep = json.loads((out / "report.json").read_text())
    assert len(rep["listing"]["items"]) == len(EXPECTED)


def test_a_large_scan_lists_the_first_items_per_decision_and_says_so(
    ca: Copyalign,
    world: dict,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(report_html, "CAP", 2)
    out = tmp_path / "out"
    result = ca.scan.scan(world["dev"], world["root"], out, dedup=True)
    page = (out / "report.html").read_text()
    shown = {d: len(re.findall(f'<tr id="item-[0-9a-f]+" data-decision="{d}"', page)) for d in COLOURS}
    assert shown == {d: min(2, n) for d, n in result.decisions.items()}
    assert "Not every item is listed" in page and f"drop: the first 2 of {result.decisions['drop']}" in page
    assert "manifest.parquet</code> lists every item" in page
