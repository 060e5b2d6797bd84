"""The regression gate: did memorisation get worse than in a baseline report, by more than a margin?

A developer keeps the report of an accepted model and runs ``copyalign audit run NEW-MODEL --baseline
REPORT.json`` in CI; the command exits non-zero when a gated metric grew by more than its margin. Metrics
are compared over the works both runs probed (a registry grows between runs: new works are not a
regression), with the same window configuration (a 32/32 run is not comparable with a 50/50 one), and
canary exposure only when both runs tested the same canary set.

Gated, each "higher is worse": the share of windows extracted verbatim, the share containing a passage of
the work, the share (n, p)-discoverable (which moves smoothly where greedy extraction flips), the mean Pythia
score, and the mean exposure of the inserted canaries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from copyalign.core.audit import memorisation as mem
from copyalign.errors import InvalidInputError

REPORT_FORMAT = "copyalign.audit/1"
COMPARABLE = ("prefix", "suffix", "stride", "max_windows", "n", "p", "min_passage_words")


def load_baseline(path: Path) -> dict[str, Any]:
    """A previous report, checked to be one; refused with the reason otherwise."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InvalidInputError(f"baseline {path} does not exist", field="baseline") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"baseline {path} is not a JSON report: {exc}", field="baseline") from None
    if not isinstance(data, dict) or data.get("format_version") != REPORT_FORMAT:
        raise InvalidInputError(f"baseline {path} is not a {REPORT_FORMAT} report", field="baseline")
    for key in ("config", "per_work"):
        if key not in data:
            raise InvalidInputError(f"baseline {path} has no {key!r}", field="baseline")
    return data


def check_comparable(config: Mapping[str, Any], baseline: Mapping[str, Any]) -> None:
    """Refuse a baseline probed with other windows: its rates measure something else."""
    theirs = baseline["config"].get("probe", {})
    diff = [k for k in COMPARABLE if theirs.get(k) != config.get(k)]
    if diff:
        pairs = ", ".join(f"{k} {theirs.get(k)} vs {config.get(k)}" for k in diff)
        raise InvalidInputError(f"the baseline was probed differently ({pairs}): not comparable", field="baseline")


def gate_metrics(report: Mapping[str, Any], works: set[str] | None = None) -> dict[str, float]:
    """The gated metrics of a report, over ``works`` (default: all it probed), windows-weighted."""
    rows = [r for r in report["per_work"] if r["windows"] and (works is None or r["work"] in works)]
    total = sum(r["windows"] for r in rows)
    out: dict[str, float] = {}
    if total:
        out["extraction_rate"] = sum(r["extracted"] for r in rows) / total
        out["contained_rate"] = sum(r["contained_rate"] * r["windows"] for r in rows) / total
        out["pythia_mean"] = sum(r["pythia_mean"] * r["windows"] for r in rows) / total
        disc = [r for r in rows if r.get("discoverable_rate") is not None]
        if disc:
            out["discoverable_rate"] = sum(r["discoverable_rate"] * r["windows"] for r in disc) / sum(
                r["windows"] for r in disc
            )
    canaries = report.get("canaries") or {}
    inserted = [e["exposure"] for e in canaries.get("exposures", []) if e["repetitions"] > 0]
    if inserted:
        out["canary_exposure_mean"] = sum(inserted) / len(inserted)
    return {k: round(v, 6) for k, v in out.items()}


def compare(report: Mapping[str, Any], baseline: Mapping[str, Any], margins: Mapping[str, float]) -> dict[str, Any]:
    """The gate section of a report: the checks, whether it passed, and what was compared."""
    check_comparable(report["config"]["probe"], baseline)
    ours = {r["work"] for r in report["per_work"] if r["windows"]}
    theirs = {r["work"] for r in baseline["per_work"] if r["windows"]}
    common = ours & theirs
    current, before = gate_metrics(report, common), gate_metrics(baseline, common)
    same_canaries = (report.get("canaries") or {}).get("sha256") == (baseline.get("canaries") or {}).get("sha256")
    if not same_canaries:
        current.pop("canary_exposure_mean", None)
    checks = mem.gate(current, before, margins)
    if not checks:  # a gate that compares nothing must not pass silently in CI
        raise InvalidInputError(
            "nothing to compare with the baseline: no probed work in common and no shared canary set", field="baseline"
        )
    return {
        "common_works": len(common),
        "new_works": len(ours - theirs),
        "canaries_compared": same_canaries and "canary_exposure_mean" in current,
        "checks": [c.to_dict() for c in checks],
        "passed": not any(c.worse for c in checks),
    }


__all__ = ["REPORT_FORMAT", "check_comparable", "compare", "gate_metrics", "load_baseline"]
