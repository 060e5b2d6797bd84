"""What a scan writes: the provenance manifest, the usage summary, the scan report and the EU summary.

* ``manifest.parquet`` — one row per item: id, the record's own id, shard, URL, fetch time, kind, size, digests, the
  signals seen, the decision with all its reasons, the matched works and the duplicate it repeats;
* ``usage.json`` — per registered work found: items, kept items, matched tokens and bytes, decisions; and
  per finalised notice the ``lines`` a usage report takes (``POST /v1/notices/{id}/reports``);
* ``report.json`` / ``report.html`` — counts per decision, reason, signal, kind, shard errors, with charts, and the
  per-item table (``listing``: decision, reasons linked to their causes, matched works and holders, signals;
  capped per decision, :mod:`~copyalign.services.scan.report_html`);
* ``eu-summary.json`` / ``eu-summary.md`` — the public summary of training content (AI Act Art. 53(1)(d),
  the AI Office template of July 2025), sections 1.1-3.3, filled from what the scan saw; what a scan cannot
  know (the provider, the model, other data sources) is marked for the provider to complete.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from copyalign.core.scan.decide import Decision, WorkFacts, WorkUse

DECISIONS = ("keep", "keep-licensed", "hold", "drop")


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def file_sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_manifest(path: Path, rows: Sequence[Mapping[str, Any]], decisions: Sequence[Decision]) -> str:
    """Write the provenance manifest; returns its SHA-256 (what the scan's log entry commits to)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "item_id": [r["id"] for r in rows],
            "source_id": [r["source_id"] for r in rows],
            "shard": [r["shard"] for r in rows],
            "kind": [r["kind"] for r in rows],
            "bytes": pa.array([r["bytes"] for r in rows], pa.int64()),
            "tokens": pa.array([r["tokens"] for r in rows], pa.int64()),
            "url": [r["url"] for r in rows],
            "host": [r["host"] for r in rows],
            "fetched_at": [r["fetched_at"] for r in rows],
            "licence": [r["licence"] for r in rows],
            "sha256": [r["sha256"] for r in rows],
            "norm_sha256": [r["norm_sha256"] for r in rows],
            "signals": [r["signals"] for r in rows],
            "decision": [d.decision for d in decisions],
            "reasons": pa.array([d.reasons for d in decisions], pa.list_(pa.string())),
            "matched_works": [r["matches"] for r in rows],
            "duplicate_of": [d.duplicate_of for d in decisions],
            "error": [r["error"] for r in rows],
        }
    )
    tmp = path.with_name(path.name + ".partial")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)
    return file_sha256(path)


def usage_summary(uses: Mapping[str, WorkUse], facts: Mapping[str, WorkFacts]) -> dict[str, Any]:
    works = []
    notices: dict[str, list[list[str]]] = {}
    for wid in sorted(uses):
        u, f = uses[wid], facts.get(wid)
        works.append(
            {
                "work_id": wid,
                "title": f.title if f else None,
                "holder_id": f.holder_id if f else None,
                "preference": f.value if f else None,
                "licensed_by": f.licensed_by if f else None,
                "items": u.items,
                "kept_items": u.kept_items,
                "tokens": u.tokens,
                "bytes": u.bytes,
                "decisions": dict(sorted(u.decisions.items())),
            }
        )
        if f and f.licensed_by and u.decisions.get("keep-licensed"):
            notices.setdefault(f.licensed_by, []).append([wid, str(u.tokens)])
    return {
        "works": works,
        "usage_reports": [
            {"notice_id": nid, "unit": "tokens", "lines": lines} for nid, lines in sorted(notices.items())
        ],
    }


def report(
    rows: Sequence[Mapping[str, Any]],
    decisions: Sequence[Decision],
    *,
    shard_errors: Sequence[tuple[str, str]],
    refused: Sequence[tuple[str, str]],
    steps: Mapping[str, Any],
    record: Mapping[str, Any],
) -> dict[str, Any]:
    by_decision = Counter(d.decision for d in decisions)
    by_reason = Counter(r.split(":")[0] if r.startswith("signal-error") else r for d in decisions for r in d.reasons)
    signals: Counter[str] = Counter()
    for row in rows:
        for s in json.loads(row["signals"]):
            signals[f"{s['name']}:{s['verdict']}"] += 1
    kinds = Counter(r["kind"] for r in rows)
    return {
        "items": len(rows),
        "decisions": {k: by_decision.get(k, 0) for k in DECISIONS},
        "reasons": dict(sorted(by_reason.items())),
        "signals": dict(sorted(signals.items())),
        "kinds": dict(sorted(kinds.items())),
        "bytes": {
            k: sum(int(r["bytes"]) for r, d in zip(rows, decisions, strict=True) if d.decision == k) for k in DECISIONS
        },
        "matched_items": sum(1 for r in rows if r["matches"] != "[]"),
        "shard_errors": [{"shard": s, "error": e} for s, e in shard_errors],
        "refused_paths": [{"path": p, "why": w} for p, w in refused],
        "steps": dict(steps),
        "scan": dict(record),
    }


def report_html(rep: Mapping[str, Any]) -> str:
    """The HTML report (:mod:`copyalign.services.scan.report_html`: colours by decision, the per-item table with
    filters and links to each reason's cause, the steps as figures)."""
    from copyalign.services.scan.report_html import render

    return render(rep)


# -- the EU public summary of training content ---------------------------------------------------------

TEXT_BANDS = ((1e9, "Less than 1 billion tokens"), (1e13, "1 billion to 10 trillion tokens"))
IMAGE_BANDS = ((1e6, "Less than 1 million images"), (1e9, "1 million to 1 billion images"))
TO_COMPLETE = "(to be completed by the provider)"


def _band(n: int, bands: Sequence[tuple[float, str]], top: str) -> str:
    return next((label for limit, label in bands if n < limit), top)


def eu_summary(
    rows: Sequence[Mapping[str, Any]],
    decisions: Sequence[Decision],
    *,
    provider: str | None,
    model: str | None,
    agents: Sequence[str],
    record: Mapping[str, Any],
    sme: bool = False,
) -> dict[str, Any]:
    kept = [(r, d) for r, d in zip(rows, decisions, strict=True) if d.decision in ("keep", "keep-licensed")]
    tokens = sum(int(r["tokens"] or 0) for r, _ in kept if r["kind"] == "text")
    images = sum(1 for r, _ in kept if r["kind"] == "image")
    crawled = [(r, d) for r, d in kept if r["url"]]
    licensed = [(r, d) for r, d in kept if d.decision == "keep-licensed"]
    domains: Counter[str] = Counter()
    for r, _ in crawled:
        domains[r["host"] or ""] += int(r["bytes"])
    share = 0.05 if sme else 0.10
    top_n = max(1, math.ceil(len(domains) * share)) if domains else 0
    if sme:
        top_n = min(top_n, 1000)
    times = sorted(t for t in (r["fetched_at"] for r, _ in crawled) if t)
    reasons = Counter(x for d in decisions for x in d.reasons)
    modalities = {}
    if tokens:
        modalities["text"] = {"size": _band(tokens, TEXT_BANDS, "More than 10 trillion tokens"), "tokens": tokens}
    if images:
        modalities["image"] = {"size": _band(images, IMAGE_BANDS, "More than 1 billion images"), "images": images}
    reserved = {k.split(":", 1)[1]: v for k, v in sorted(reasons.items()) if k.startswith("reserved:")}
    return {
        "template": "AI Office template for the public summary of training content (AI Act Art. 53(1)(d)), July 2025",
        "1.1_provider": provider or TO_COMPLETE,
        "1.2_model": model or TO_COMPLETE,
        "1.3_modalities": {
            "modalities": modalities,
            "note": "tokens are words (characters in Chinese and Japanese) as copyalign counts them",
            "latest_acquisition": times[-1] if times else None,
        },
        "2.1_public_datasets": {
            "items": sum(1 for r, d in kept if not r["url"] and d.decision != "keep-licensed"),
            "names": TO_COMPLETE,
        },
        "2.2_licensed_private_datasets": {
            "items": len(licensed),
            "notices": sorted({n for n in record.get("licensing_notices", [])}),
        },
        "2.3_crawled_scraped": {
            "items": len(crawled),
            "crawlers": list(agents),
            "collection_period": [times[0], times[-1]] if times else None,
            "top_domains_rule": f"top {int(share * 100)} % of domain names by size of content"
            + (", at most 1,000 (SME)" if sme else ""),
            "top_domains": [{"domain": d, "bytes": b} for d, b in domains.most_common(top_n)],
        },
        "2.4_user_data": TO_COMPLETE,
        "2.5_synthetic_data": TO_COMPLETE,
        "2.6_other_sources": TO_COMPLETE,
        "3.1_reservations_of_rights": {
            "measures": (
                "Every item was checked, before training, against the machine-readable reservations its source "
                "carried (robots.txt for the listed crawlers and known AI training crawlers, IETF AIPREF "
                "Content-Usage, Cloudflare Content Signals, W3C TDMRep, X-Robots-Tag and meta noai/noimageai, "
                "ai.txt, RSL licences, IPTC data-mining and C2PA training-mining assertions) and against the "
                "copyalign rights registry (opt-outs and training-notice objections); reserved items were "
                "removed and items whose signals could not be read were held back."
            ),
            "items_removed_by_signal": reserved,
            "items_removed_registry_opt_out": reasons.get("registry:opted-out", 0),
            "items_removed_objection": reasons.get("registry:objected", 0),
            "items_held_unreadable_signal": sum(v for k, v in reasons.items() if k.startswith("signal-error:")),
            "registry_checkpoint": record.get("checkpoint"),
            "scan_log_index": record.get("log_index"),
        },
        "3.2_illegal_content_removal": TO_COMPLETE,
        "3.3_other": {
            "duplicates_removed": reasons.get("duplicate:exact", 0) + reasons.get("duplicate:near", 0),
            "unreadable_removed": reasons.get("unreadable", 0),
        },
    }


def eu_summary_markdown(s: Mapping[str, Any]) -> str:
    m = s["1.3_modalities"]
    c = s["2.3_crawled_scraped"]
    r = s["3.1_reservations_of_rights"]
    lines = [
        "# Public summary of training content",
        "",
        f"_{s['template']}_",
        "",
        "## 1. General information",
        f"### 1.1 Provider\n{s['1.1_provider']}",
        f"### 1.2 Model\n{s['1.2_model']}",
        "### 1.3 Modalities, overall training data size",
    ]
    for name, info in m["modalities"].items():
        lines.append(f"- {name}: {info['size']}")
    lines += [
        f"- latest date of data acquisition: {m['latest_acquisition'] or 'n/a'}",
        f"- note: {m['note']}",
        "",
        "## 2. List of data sources",
        f"### 2.1 Publicly available datasets\n{s['2.1_public_datasets']['items']} items; names: "
        f"{s['2.1_public_datasets']['names']}",
        f"### 2.2 Private datasets licensed from rights holders\n{s['2.2_licensed_private_datasets']['items']} items "
        f"licensed under training notices {', '.join(s['2.2_licensed_private_datasets']['notices']) or 'none'}",
        "### 2.3 Data crawled and scraped from online sources",
        f"- items: {c['items']}",
        f"- crawlers: {', '.join(c['crawlers']) or 'not declared'}",
        f"- collection period: {' to '.join(c['collection_period']) if c['collection_period'] else 'n/a'}",
        f"- top domain names ({c['top_domains_rule']}):",
    ]
    lines += [f"  - {d['domain']}" for d in c["top_domains"]]
    lines += [
        f"### 2.4 User data\n{s['2.4_user_data']}",
        f"### 2.5 Synthetic data\n{s['2.5_synthetic_data']}",
        f"### 2.6 Other sources\n{s['2.6_other_sources']}",
        "",
        "## 3. Data processing aspects",
        f"### 3.1 Respect of reservations of rights\n{r['measures']}",
        "",
        "| removed because of | items |",
        "| --- | ---: |",
    ]
    lines += [f"| signal: {k} | {v} |" for k, v in r["items_removed_by_signal"].items()]
    lines += [
        f"| registry opt-out | {r['items_removed_registry_opt_out']} |",
        f"| objection to a training notice | {r['items_removed_objection']} |",
        f"| held: a signal could not be read | {r['items_held_unreadable_signal']} |",
        "",
        f"Registry checkpoint: {json.dumps(r['registry_checkpoint'])}; scan recorded at log entry "
        f"{r['scan_log_index']}.",
        f"### 3.2 Removal of illegal content\n{s['3.2_illegal_content_removal']}",
        f"### 3.3 Other information\n- duplicates removed: {s['3.3_other']['duplicates_removed']}\n"
        f"- unreadable items removed: {s['3.3_other']['unreadable_removed']}",
        "",
    ]
    return "\n".join(lines)


def write_outputs(
    out: Path,
    *,
    rep: Mapping[str, Any],
    usage: Mapping[str, Any],
    summary: Mapping[str, Any],
) -> None:
    _atomic_text(out / "report.json", json.dumps(rep, indent=2, ensure_ascii=False) + "\n")
    _atomic_text(out / "report.html", report_html(rep))
    _atomic_text(out / "usage.json", json.dumps(usage, indent=2, ensure_ascii=False) + "\n")
    _atomic_text(out / "eu-summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    _atomic_text(out / "eu-summary.md", eu_summary_markdown(summary))
