"""What an audit writes: ``report.json`` for machines, ``report.html`` for people, ``windows.jsonl`` for
whoever wants every window.

The report holds metrics, offsets, work ids and titles, never the works' text or the model's continuations:
it is meant to be handed to an auditor, and a report that quoted the regurgitated passages would itself
reproduce them. The charts are inline SVG (no JavaScript, no chart library), drawn by :mod:`copyalign.services.charts`
as in every report.

Files are written under a ``.partial`` name and renamed only once all three are complete; the service enters
their digests in the log and only then renames them, so a report on disk under its final name is always a
whole, logged one.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from copyalign.services.charts import STYLE, hbars, table

FILES = ("report.json", "report.html", "windows.jsonl")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def _num(x: float) -> str:
    return f"{x:.2f}"


def _extraction(rep: Mapping[str, Any]) -> str:
    ex = rep["extraction"]
    offsets = ex["by_offset"]
    charts = "".join(
        f"<h3>{title}</h3>"
        + hbars(
            [(f"offset {b['offsets']} ({b['windows']})", b[key] or 0.0) for b in offsets], top=1.0, colour=c, shown=_pct
        )
        for title, key, c in (
            ("Windows extracted verbatim, by offset (tokens)", "extraction_rate", "#c63"),
            ("Mean Pythia score, by offset", "pythia_mean", "#36c"),
            ("Windows (n, p)-discoverable, by offset", "discoverable_rate", "#639"),
        )
    )
    cfg = rep["config"]["probe"]
    return (
        f"<h2>Extraction</h2><p>{ex['works']} works, {ex['windows']} windows of {cfg['prefix']} + {cfg['suffix']} "
        f"tokens: {ex['extracted']} extracted verbatim ({_pct(ex['extraction_rate'])}) from "
        f"{_n(ex['works_extracted'], 'work')}; {_pct(ex['contained_rate'])} contain a passage of "
        f"{cfg['min_passage_words']}+ words; "
        f"{_pct(ex['discoverable_rate'])} are ({cfg['n']}, {cfg['p']})-discoverable; mean Pythia score "
        f"{ex['pythia_mean']:.3f}, mean ROUGE-L {ex['rouge_l_mean']:.3f}.</p>{charts}"
    )


def _worst(rep: Mapping[str, Any]) -> str:
    rows = [
        (
            w["work"], w["title"][:60], w["windows"], _pct(w["extraction_rate"]), f"{w['pythia_mean']:.3f}",
            f"{w['rouge_l_mean']:.3f}", w["lcs_words_max"], _pct(w["contained_rate"]), _pct(w["discoverable_rate"]),
        )
        for w in rep["worst"]
    ]  # fmt: skip
    header = ["work", "title", "windows", "extracted", "Pythia", "ROUGE-L", "LCS words", "contained", "discoverable"]
    return "<h2>Works most memorised</h2>" + table(header, rows)


def _canaries(rep: Mapping[str, Any]) -> str:
    c = rep.get("canaries")
    if not c:
        return "<h2>Canaries</h2><p>No canary set was tested.</p>"
    rows = [
        (f"{b['repetitions']}x ({b['memorised']}/{b['canaries']} memorised)", b["exposure_median"])
        for b in c["by_bucket"]
    ]
    top = max(c["max_exposure"], 1.0)
    return (
        f"<h2>Canaries</h2><p>Set {html.escape(c['set'])} (SHA-256 {c['sha256']}, logged at entry "
        f"{c.get('log_index', '-')}): {len(c['exposures'])} canaries from a space of {c['space']:,} secrets "
        f"({html.escape(c['method'])}). Median exposure in bits by repetition count; the dashed line is the "
        f"memorisation threshold ({c['threshold_bits']:.1f} bits). Repetition counts memorised: "
        f"{', '.join(str(r) for r in c['memorised_repetitions']) or 'none'}.</p>"
        + hbars(rows, top=top, colour="#a50", shown=_num, mark=c["threshold_bits"])
    )


def _membership(rep: Mapping[str, Any]) -> str:
    m = rep.get("membership")
    if not m:
        return "<h2>Membership</h2><p>No non-member texts were given, so no membership scores.</p>"
    rows = [(name, s["auc"]) for name, s in m["scores"].items()] + [("blind baseline", m["blind"]["auc"])]
    scores = table(
        ["score", "AUC", "95 % CI", "TPR @ 1 % FPR", "TPR @ 5 % FPR"],
        [
            (n, s["auc"], s["auc_ci"], s["tpr_at_1pct_fpr"], s["tpr_at_5pct_fpr"])
            for n, s in [*m["scores"].items(), ("blind baseline", m["blind"])]
        ],
    )
    return (
        f"<h2>Membership</h2><p>{m['members']} registered works against {m['nonmembers']} texts the model never "
        f"saw, first {m['tokens']} tokens each. Verdict: <strong>{html.escape(m['verdict'])}</strong> — "
        f"{html.escape(m['explanation'])}.</p>" + hbars(rows, top=1.0, colour="#2a7", shown=_num, mark=0.5) + scores
    )


def _takedown(rep: Mapping[str, Any]) -> str:
    t = rep.get("takedown")
    if not t:
        return "<h2>Decoding-time blocking</h2><p>No measure was evaluated.</p>"
    rows = [
        (name, _pct(w["extraction_rate"]), f"{w['rouge_l_mean']:.3f}", _pct(w["contained_rate"]),
         f"{c['rouge_l_mean']:.3f}", _pct(c["contained_rate"]))
        for name, w, c in ((name, p["works"], p["controls"]) for name, p in t["probes"].items())
    ]  # fmt: skip
    m = t["measure"]
    verdict = {
        "suppressed": "the protected works are no longer reproduced, verbatim or near-verbatim beyond what the "
        "controls show",
        "verbatim_only": "the protected works are no longer reproduced verbatim, but near-verbatim copies remain "
        f"above the controls under: {', '.join(t['near_verbatim_after'])}",
        "not_suppressed": f"the protected works are still reproduced verbatim under: {', '.join(t['verbatim_after'])}",
    }[t["verdict"]]
    return (
        f"<h2>Decoding-time blocking</h2><p>MemFree over {m['ngrams']:,} {m['n']}-grams of {len(m['works'])} works "
        f"whose owners deny the use ({m['store']}, {m['bytes']:,} bytes). Verdict: <strong>{t['verdict']}</strong> "
        f"— {html.escape(verdict)}.</p>"
        + table(["probe", "extracted", "ROUGE-L", "contained", "controls ROUGE-L", "controls contained"], rows)
    )


def _gate(rep: Mapping[str, Any]) -> str:
    g = rep.get("gate")
    if not g:
        return ""
    rows = [
        (c["metric"], c["baseline"], c["current"], c["margin"], "WORSE" if c["worse"] else "ok") for c in g["checks"]
    ]
    return (
        f"<h2>Regression gate: {'passed' if g['passed'] else 'FAILED'}</h2><p>Against baseline "
        f"{html.escape(str(g.get('baseline_sha256', '')))} over {g['common_works']} works both runs probed.</p>"
        + table(["metric", "baseline", "now", "margin", ""], rows)
    )


def report_html(rep: Mapping[str, Any]) -> str:
    model, cfg = rep["model"], rep["config"]
    skipped = table(
        ["work", "title", "tokens", "why"],
        [(s["work"], s["title"][:60], s["tokens"], s["reason"]) for s in rep["works"]["skipped"]],
    )
    how = table(["setting", "value"], [(k, json.dumps(v)) for k, v in cfg["probe"].items()] + [("works", cfg["works"])])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>copyalign memorisation audit</title>
<style>{STYLE}</style>
</head><body>
<h1>Memorisation audit</h1>
<p>Model <code>{html.escape(model["name"])}</code> (SHA-256 {model["sha256"]}), audit {html.escape(rep["audit"])}
of {html.escape(rep["generated_at"])}, policy {html.escape(cfg["policy"])}. This report's SHA-256 is entered in
the transparency log (see <code>audit.json</code>), so it can later be shown unaltered.</p>
{_gate(rep)}
{_extraction(rep)}
{_worst(rep)}
{_canaries(rep)}
{_membership(rep)}
{_takedown(rep)}
<h2>What was tested, and how</h2>
<p>Registered text works ({html.escape(cfg["works"])}): {rep["works"]["probed"]} probed of {rep["works"]["selected"]}
selected. Each window's prefix was continued greedily and compared with the true suffix (exact match, Pythia's
per-token score, longest common substring in words and characters, ROUGE-L, the matching engine's contained
passage); p_z is the suffix's probability under the model, and a window is (n, p)-discoverable when
1 - (1 - p_z)^n &ge; p. Texts of works and of the model's continuations are not reproduced here.</p>
{how}
<h3>Works not probed</h3>{skipped}
</body></html>
"""


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render(rep: Mapping[str, Any], windows: Sequence[Mapping[str, Any]]) -> dict[str, bytes]:
    """The three files' bytes (the report's ``windows_sha256`` must already name ``windows``' digest)."""
    return {
        "report.json": (json.dumps(rep, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8"),
        "report.html": report_html(rep).encode("utf-8"),
        "windows.jsonl": windows_bytes(windows),
    }


def windows_bytes(windows: Sequence[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(w, sort_keys=True, separators=(",", ":")).encode() + b"\n" for w in windows)


def write_partial(out: Path, files: Mapping[str, bytes]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / f"{name}.partial").write_bytes(data)


def publish(out: Path, names: Sequence[str]) -> None:
    for name in names:
        os.replace(out / f"{name}.partial", out / name)


def discard(out: Path, names: Sequence[str]) -> None:
    for name in names:
        (out / f"{name}.partial").unlink(missing_ok=True)


__all__ = ["FILES", "digest", "discard", "publish", "render", "report_html", "windows_bytes", "write_partial"]
