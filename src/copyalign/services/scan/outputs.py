"""What a scan writes: the provenance manifest, the usage summary, the scan report and the EU summary.

* ``manifest.parquet`` — one row per item: id, the record's own id, shard, URL, fetch time, kind, size, digests, the
  signals seen, whether its site's files were captured and which sources it was checked against, the decision with
  all its reasons, the matched works and the duplicate it repeats;
* ``usage.json`` — per registered work found: items, kept items, matched tokens and bytes, decisions; and
  per finalised notice the ``lines`` a usage report takes (``POST /v1/notices/{id}/reports``);
* ``report.json`` / ``report.html`` — counts per decision, reason, signal, kind, shard errors, refused paths (tar
  members and symlinks, with why), ``signal_checks`` (how many items were checked against which source and how many
  web items were held for want of a capture of their site), with charts, and the per-item table (``listing``:
  decision, reasons linked to their causes, matched works and holders, signals; capped per decision,
  :mod:`~copyalign.services.scan.report_html`);
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
            "site": [r.get("site") for r in rows],
            "checked": pa.array([list(r.get("checked") or []) for r in rows], pa.list_(pa.string())),
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


SITE_SOURCES = ("robots.txt", "tdmrep.json", "ai.txt", "rsl.xml")
RECORD_SOURCES = ("headers", "html-meta", "xmp", "c2pa")


def signal_checks(rows: Sequence[Mapping[str, Any]], decisions: Sequence[Decision]) -> dict[str, Any]:
    """Exactly what the opt-out checks covered: per source, the items checked against it; the web items whose
    site was captured but publishes none of the files; the web items held (or otherwise decided) because their
    site was never captured; and the items that are not web pages (no http(s) URL), for which no site file
    applies."""
    readable = [(r, d) for r, d in zip(rows, decisions, strict=True) if not r["error"]]
    checked: Counter[str] = Counter()
    for r, _ in readable:
        checked.update(r.get("checked") or ())
    web = [(r, d) for r, d in readable if r.get("site") is not None]
    missing = [(r, d) for r, d in web if r.get("site") == "not-captured"]
    bare = sum(1 for r, _ in web if r.get("site") == "captured" and not set(r.get("checked") or ()) & set(SITE_SOURCES))
    by_decision = Counter(d.decision for _, d in missing)
    hosts_missing = sorted({str(r["host"] or r["url"]) for r, _ in missing})
    return {
        "items": len(rows),
        "readable": len(readable),
        "web_items": len(web),
        "not_web_items": len(readable) - len(web),
        "checked_against": {k: checked.get(k, 0) for k in (*SITE_SOURCES, *RECORD_SOURCES)},
        "web_items_site_publishes_none": bare,
        "not_captured": {
            "items": len(missing),
            "held": by_decision.get("hold", 0),
            "dropped": by_decision.get("drop", 0),
            "kept": by_decision.get("keep", 0) + by_decision.get("keep-licensed", 0),
            "hosts": len(hosts_missing),
            "first_hosts": hosts_missing[:50],
        },
        "sites_captured": len({r["host"] for r, _ in web if r.get("site") == "captured"}),
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
        "signal_checks": signal_checks(rows, decisions),
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
    checks = signal_checks(rows, decisions)
    research = record.get("research")
    not_binding = reasons.get("research:reservation-not-binding", 0)
    if not_binding:  # recorded, not applied: these are not removals
        reserved = {}
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
            "measures": _measures(checks, research, not_binding),
            "checked_against": checks["checked_against"],
            "web_items": checks["web_items"],
            "items_without_web_url": checks["not_web_items"],
            "items_held_site_not_captured": checks["not_captured"]["held"],
            "items_site_not_captured": checks["not_captured"]["items"],
            "research_exception": research,
            "items_reservation_recorded_not_applied": not_binding,
            "items_removed_by_signal": reserved,
            "items_removed_registry_opt_out": 0 if not_binding else reasons.get("registry:opted-out", 0),
            "items_removed_objection": 0 if not_binding else reasons.get("registry:objected", 0),
            "items_held_unreadable_signal": 0
            if not_binding
            else sum(v for k, v in reasons.items() if k.startswith("signal-error:")),
            "registry_checkpoint": record.get("checkpoint"),
            "scan_log_index": record.get("log_index"),
        },
        "3.2_illegal_content_removal": TO_COMPLETE,
        "3.3_other": {
            "duplicates_removed": reasons.get("duplicate:exact", 0) + reasons.get("duplicate:near", 0),
            "unreadable_removed": reasons.get("unreadable", 0),
        },
    }


def _measures(checks: Mapping[str, Any], research: Mapping[str, Any] | None, not_binding: int) -> str:
    """Section 3.1's statement of what was checked, built from the counts: it claims no check that did not run."""
    c = checks["checked_against"]
    registry = (
        "Every item was checked against the copyalign rights registry (opt-outs and training-notice objections) as "
        "of the scan's registry checkpoint"
    )
    record = (
        f"the metadata items carried was read where present: HTTP headers (AIPREF Content-Usage, Content Signals, "
        f"TDM-Reservation, X-Robots-Tag) for {c['headers']}, HTML meta noai/tdm-reservation for {c['html-meta']}, "
        f"IPTC data-mining in XMP for {c['xmp']}, C2PA training-mining assertions for {c['c2pa']} items"
    )
    if not checks["web_items"]:
        text = (
            f"{registry}. No item carries a web (http/https) URL, so no site-level reservation (robots.txt, W3C "
            f"TDMRep, ai.txt, RSL) applies and none was checked; {record}."
        )
    else:
        nc = checks["not_captured"]
        text = (
            f"{registry}. Of {checks['web_items']} items crawled from the web, {c['robots.txt']} were checked against "
            f"their site's robots.txt (for the listed crawlers and the known AI training crawlers), "
            f"{c['tdmrep.json']} against W3C TDMRep, {c['ai.txt']} against ai.txt and {c['rsl.xml']} against an RSL "
            f"licence; {checks['web_items_site_publishes_none']} came from sites whose captured files publish none "
            f"of these; {nc['items']} came from {nc['hosts']} sites whose files had not been captured, so their "
            f"reservations could not be checked: {nc['held']} of them were held back, {nc['dropped']} removed"
            + (f", {nc['kept']} kept as the profile directs" if nc["kept"] else "")
            + f". Besides, {record}; {checks['not_web_items']} items carry no web URL, for which no site file applies."
        )
    if research:
        applied = (
            "reservations were applied as for any use"
            if research.get("honour_opt_outs")
            else f"reservations do not bind this use: {not_binding} items carrying one were recorded, not removed"
        )
        text += f" The data was used under {research.get('exception')} ({research.get('use')}); {applied}."
    else:
        text += " Reserved items were removed, and items whose signals could not be read were held back."
    return text


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
        f"| held: the site's files were never captured | {r['items_held_site_not_captured']} |",
        "",
        "| checked against | items |",
        "| --- | ---: |",
    ]
    lines += [f"| {k} | {v} |" for k, v in r["checked_against"].items()]
    lines += [
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
