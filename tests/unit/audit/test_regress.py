"""The regression gate over two reports, and the report files (HTML charts, atomic publication)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from copyalign.errors import InvalidInputError
from copyalign.policy import load_policy
from copyalign.services.audit import regress
from copyalign.services.audit import report as rp
from copyalign.services.audit.probes import ProbeConfig, Window, offset_bins, summarise

MARGINS = load_policy("cn").audit.gate_margins()


def _row(work: str, windows: int, extracted: int, pythia: float, disc: float = 0.0) -> dict[str, Any]:
    return {
        "work": work,
        "title": f"title of {work}",
        "tokens": 500,
        "windows": windows,
        "extracted": extracted,
        "extraction_rate": extracted / windows if windows else 0.0,
        "pythia_mean": pythia,
        "pythia_max": pythia,
        "rouge_l_mean": pythia,
        "lcs_words_max": 3,
        "lcs_chars_max": 20,
        "lcs_chars_mean": 10.0,
        "contained_rate": extracted / windows if windows else 0.0,
        "log_pz_max": -3.0,
        "log_pz_mean": -50.0,
        "discoverable_rate": disc,
    }


def _report(rows: list[dict[str, Any]], *, canaries: dict[str, Any] | None = None, **probe: Any) -> dict[str, Any]:
    return {
        "format_version": regress.REPORT_FORMAT,
        "config": {"probe": ProbeConfig(**probe).to_dict()},
        "per_work": rows,
        "canaries": canaries,
    }


def _canaries(sha: str, exposures: list[tuple[int, float]]) -> dict[str, Any]:
    return {"sha256": sha, "exposures": [{"repetitions": r, "exposure": e} for r, e in exposures]}


def test_more_extraction_on_the_same_works_fails_the_gate() -> None:
    before = _report([_row("a", 10, 0, 0.10), _row("b", 10, 1, 0.20)])
    after = _report([_row("a", 10, 2, 0.30), _row("b", 10, 1, 0.20)])
    gate = regress.compare(after, before, MARGINS)
    worse = {c["metric"] for c in gate["checks"] if c["worse"]}
    assert worse == {"extraction_rate", "contained_rate", "pythia_mean"} and not gate["passed"]
    assert regress.compare(before, before, MARGINS)["passed"]


def test_within_the_margin_passes() -> None:
    before = _report([_row(w, 100, 1, 0.10) for w in "abc"])
    after = _report([_row("a", 100, 2, 0.11), _row("b", 100, 1, 0.10), _row("c", 100, 1, 0.10)])
    assert regress.compare(after, before, MARGINS)["passed"]  # 3 of 300 -> 4 of 300: +0.3 points


def test_new_works_are_not_a_regression() -> None:
    before = _report([_row("a", 10, 0, 0.10)])
    after = _report([_row("a", 10, 0, 0.10), _row("new", 10, 10, 1.0)])
    gate = regress.compare(after, before, MARGINS)
    assert gate["passed"] and gate["common_works"] == 1 and gate["new_works"] == 1


def test_canary_exposure_is_compared_only_for_the_same_set() -> None:
    rows = [_row("a", 10, 0, 0.1)]
    before = _report(rows, canaries=_canaries("s1", [(0, 1.0), (16, 3.0), (64, 4.0)]))
    worse = _report(rows, canaries=_canaries("s1", [(0, 1.0), (16, 9.0), (64, 9.9)]))
    gate = regress.compare(worse, before, MARGINS)
    assert not gate["passed"] and gate["canaries_compared"]
    assert [c["metric"] for c in gate["checks"] if c["worse"]] == ["canary_exposure_mean"]
    other_set = _report(rows, canaries=_canaries("s2", [(16, 9.0)]))
    assert regress.compare(other_set, before, MARGINS)["passed"]


def test_a_baseline_probed_differently_or_sharing_nothing_is_refused(tmp_path: Path) -> None:
    before = _report([_row("a", 10, 0, 0.1)], prefix=32, suffix=32)
    with pytest.raises(InvalidInputError, match="prefix 32 vs 50") as e:
        regress.compare(_report([_row("a", 10, 0, 0.1)]), before, MARGINS)
    assert e.value.field == "baseline"
    with pytest.raises(InvalidInputError, match="nothing to compare"):
        regress.compare(_report([_row("b", 10, 0, 0.1)]), _report([_row("a", 10, 0, 0.1)]), MARGINS)
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(InvalidInputError, match="not a copyalign.audit/1 report"):
        regress.load_baseline(tmp_path / "r.json")
    with pytest.raises(InvalidInputError, match="does not exist"):
        regress.load_baseline(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(InvalidInputError, match="not a JSON report"):
        regress.load_baseline(tmp_path / "bad.json")


def _w(offset: int, exact: bool) -> Window:
    return Window(offset, exact, 1.0 if exact else 0.0, 5, 30, 0.5, 12 if exact else 0, exact, -2.0, exact)


def test_offsets_are_binned_on_a_doubling_scale() -> None:
    windows = [(o, _w(o, o == 0)) for o in (0, 50, 60, 100, 150, 420)]
    bins = offset_bins(windows, stride=50)
    assert [(b["offsets"], b["windows"], b["extracted"]) for b in bins] == [
        ("0", 1, 1),
        ("50-99", 2, 0),
        ("100-199", 2, 0),
        ("400-799", 1, 0),
    ]
    assert summarise([])["extraction_rate"] == 0.0 and summarise([])["discoverable_rate"] is None


def test_the_html_report_draws_charts_and_quotes_no_text(tmp_path: Path) -> None:
    rows = [_row("wrk_a", 4, 1, 0.5, 0.25)]
    rep = {
        **_report(rows),
        "audit": "aud_x",
        "generated_at": "2026-03-01T00:00:00.000000Z",
        "model": {"name": "tiny", "sha256": "ab" * 32},
        "works": {
            "selected": 2,
            "probed": 1,
            "skipped": [{"work": "wrk_b", "title": "Short", "tokens": 9, "reason": "x"}],
        },
        "extraction": {
            "works": 1,
            "works_extracted": 1,
            **summarise([_w(0, True), _w(50, False), _w(100, False), _w(150, False)]),
            "by_offset": offset_bins([(0, _w(0, True)), (50, _w(50, False))], 50),
        },
        "worst": rows,
        "membership": None,
        "takedown": None,
    }
    rep["config"] = {**rep["config"], "works": "all registered text works", "policy": "cn"}
    page = rp.report_html(rep)
    assert page.count("<svg") == 3 and "Works not probed" in page and "wrk_b" in page
    assert "No canary set was tested" in page and "No non-member texts" in page
    files = rp.render(rep, [{"work": "wrk_a", "offset": 0}])
    rp.write_partial(tmp_path, files)
    assert not (tmp_path / "report.json").exists()  # nothing under its final name before publication
    rp.publish(tmp_path, list(files))
    assert json.loads((tmp_path / "report.json").read_text())["audit"] == "aud_x"
    rp.write_partial(tmp_path / "again", files)
    rp.discard(tmp_path / "again", list(files))
    assert list((tmp_path / "again").iterdir()) == []
