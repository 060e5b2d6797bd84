"""The scan's ``report.html``: what an auditor reads, item by item, offline, years later.

A static file beside ``manifest.parquet``: decisions coloured by what they mean (keep green, keep-licensed blue,
hold amber, drop red), the steps as a table of figures, and a per-item table — decision, reasons, matched works
and their holders, signals — that can be filtered by decision, by reason and by any text. The filter is a few
lines of inline script (no library, nothing loaded from anywhere): without script every row is shown.

Every reason links to what caused it: an opt-out signal to the site file the scan read (``robots.txt`` under the
captured sites) or to the corpus file that carried it (headers, meta tags, XMP, C2PA), a registry reason to the
matched work's row in "Works matched" (holder, preference, the notice that licensed or excluded it), a duplicate
to the item it repeats. A large scan lists at most ``cap`` items per decision (the first ones, in corpus order)
and says how many it left out; the manifest has them all.

:func:`listing` builds the table's data (JSON, kept in ``report.json`` as ``listing``); :func:`render` writes the
page from ``report.json``'s content.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from copyalign.core.scan.decide import Decision, WorkFacts
from copyalign.services.charts import STYLE, count_bars

ORDER = ("keep", "keep-licensed", "hold", "drop")
COLOURS = {"keep": "#2f8a4a", "keep-licensed": "#2a6fb0", "hold": "#c98a00", "drop": "#c0392b"}
#: Items listed per decision; the rest are counted (the manifest has every item).
CAP = 500
#: Which file a site-level signal was read from, under the host's folder of captured sites.
SITE_FILE = {
    "robots.txt": "robots.txt",
    "tdmrep.json": "tdmrep.json",
    "ai.txt": "ai.txt",
    "rsl": "rsl.xml",
    "fetch": "fetch.json",
}


def _host_folder(host: str) -> str:
    # as the pipeline names the folders of captured sites (pipeline._host_folder)
    return host.lower().replace(":", "_")


def anchor(item_id: str) -> str:
    """The HTML id of an item's row: item ids hold ``#`` and ``/`` (``web/part-000.jsonl#3``), which a URL's
    fragment cannot carry as they are."""
    return "item-" + hashlib.sha256(item_id.encode()).hexdigest()[:16]


def _href(target: Path, out: Path) -> str:
    """A link from the report (in ``out``) to ``target``, relative so that the folders can move together."""
    return Path(os.path.relpath(target, out)).as_posix()


def listing(
    rows: Sequence[Mapping[str, Any]],
    decisions: Sequence[Decision],
    facts: Mapping[str, WorkFacts],
    holders: Mapping[str, str],
    *,
    out: Path,
    corpus: Path,
    sites: Path | None,
    cap: int = CAP,
) -> dict[str, Any]:
    """The per-item table's data: at most ``cap`` items per decision, with every reason's link."""
    total = Counter(d.decision for d in decisions)
    shown: Counter[str] = Counter()
    items = []
    used: set[str] = set()
    for row, d in zip(rows, decisions, strict=True):
        if shown[d.decision] >= cap:
            continue
        shown[d.decision] += 1
        host = row.get("host")
        signals = []
        for s in json.loads(row["signals"] or "[]"):
            href = None
            name = SITE_FILE.get(s["source"])
            if name and host and sites is not None and (sites / _host_folder(host) / name).is_file():
                href = _href(sites / _host_folder(host) / name, out)
            elif not name and not str(row["shard"]).startswith("#"):
                href = _href(corpus / str(row["shard"]), out)  # a record's own headers, meta, XMP or C2PA
            signals.append({**s, "href": href})
        matches = json.loads(row["matches"] or "[]")
        used.update(m["work"] for m in matches)
        reasons = []
        for r in d.reasons:
            link: str | None = None
            kind, _, what = r.partition(":")
            if kind in ("reserved", "signal-error"):
                link = next((s["href"] for s in signals if s["name"] == what and s["href"]), None)
                if link is None and kind == "signal-error":
                    link = next((s["href"] for s in signals if s["verdict"] == "error" and s["href"]), None)
            elif kind == "registry":
                hits = [m["work"] for m in matches if _registry_reason(facts.get(m["work"])) == r]
                link = f"#work-{hits[0]}" if hits else (f"#work-{matches[0]['work']}" if matches else None)
            elif kind == "duplicate" and d.duplicate_of:
                link = f"#{anchor(d.duplicate_of)}"
            reasons.append({"reason": r, "href": link})
        items.append(
            {
                "id": row["id"],
                "source_id": row.get("source_id"),
                "shard": row["shard"],
                "url": row.get("url"),
                "kind": row["kind"],
                "decision": d.decision,
                "reasons": reasons,
                "works": [{"id": m["work"], "match": m["match"], "score": m["score"]} for m in matches],
                "signals": signals,
                "duplicate_of": d.duplicate_of,
                "error": row.get("error"),
            }
        )
    works = {
        wid: {
            "title": f.title,
            "holder_id": f.holder_id,
            "holder": holders.get(f.holder_id, f.holder_id),
            "preference": f.value,
            "licensed_by": f.licensed_by,
            "excluded": f.excluded,
        }
        for wid, f in sorted(facts.items())
        if wid in used
    }
    return {
        "cap": cap,
        "total": {k: total.get(k, 0) for k in ORDER},
        "shown": {k: shown.get(k, 0) for k in ORDER},
        "items": items,
        "works": works,
    }


def _registry_reason(f: WorkFacts | None) -> str | None:
    """The registry reason a matched work gives (as :func:`copyalign.core.scan.decide.decide_item` words it)."""
    if f is None:
        return None
    if f.value == "deny":
        return "registry:opted-out"
    if f.excluded is not None:
        return "registry:objected" if f.excluded == "objected" else "registry:opted-out"
    if f.licensed_by is not None:
        return "registry:licensed"
    if f.value == "allow-with-remuneration":
        return "registry:unlicensed"
    return None


# -- the page -----------------------------------------------------------------------------------------------

_PAGE_STYLE = """
.d{display:inline-block;padding:0 .45rem;border-radius:999px;color:#fff;font-size:.85rem;white-space:nowrap}
.d-keep{background:#2f8a4a}.d-keep-licensed{background:#2a6fb0}.d-hold{background:#c98a00}.d-drop{background:#c0392b}
table.items td{vertical-align:top;font-size:.9rem}table.items ul{margin:0;padding-left:1rem}
.filters{display:flex;gap:1rem;flex-wrap:wrap;align-items:center;margin:.5rem 0;padding:.5rem;background:#f3f5f9}
.muted{color:#666}.deny{color:#c0392b}.error{color:#c98a00}code{font-size:.85rem;overflow-wrap:anywhere}
:target{outline:2px solid #2a6fb0}
"""

_FILTER_JS = """
(function(){
  var rows=[].slice.call(document.querySelectorAll('table.items tbody tr'));
  var boxes=[].slice.call(document.querySelectorAll('.filters input[name=decision]'));
  var reason=document.getElementById('reason'), text=document.getElementById('text'), n=document.getElementById('n');
  function apply(){
    var on=boxes.filter(function(b){return b.checked}).map(function(b){return b.value});
    var r=reason.value, q=text.value.toLowerCase(), shown=0;
    rows.forEach(function(tr){
      var ok=on.indexOf(tr.dataset.decision)>=0 && (!r || (' '+tr.dataset.reasons+' ').indexOf(' '+r+' ')>=0)
        && (!q || tr.textContent.toLowerCase().indexOf(q)>=0);
      tr.hidden=!ok; if(ok) shown++;
    });
    n.textContent=shown;
  }
  boxes.concat([reason,text]).forEach(function(e){e.addEventListener('input',apply)});
  document.querySelector('.filters').hidden=false; apply();
})();
"""


def _e(v: object) -> str:
    return html.escape(str(v), quote=True)


def _link(text: str, href: str | None) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>' if href else _e(text)


def _steps(steps: Mapping[str, Any]) -> str:
    out = []
    for name, figures in steps.items():
        if isinstance(figures, Mapping):
            cells = "; ".join(f"{_e(k.replace('_', ' '))}: {_e(v)}" for k, v in figures.items() if v is not None)
        else:
            cells = _e(figures)
        out.append(f"<tr><th scope=row>{_e(name)}</th><td>{cells}</td></tr>")
    return "<table><tr><th>step</th><th>figures</th></tr>" + "".join(out) + "</table>"


def _items(lst: Mapping[str, Any]) -> str:
    works = lst.get("works", {})
    body = []
    for it in lst["items"]:
        reasons = "".join(f"<li>{_link(r['reason'], r['href'])}</li>" for r in it["reasons"]) or "<li>—</li>"
        matched = []
        for m in it["works"]:
            w = works.get(m["id"], {})
            who = f" · {_e(w['holder'])}" if w else ""
            title = _e(w.get("title") or m["id"])
            matched.append(
                f'<li><a href="#work-{_e(m["id"])}">{title}</a>{who} <span class=muted>({_e(m["match"])}'
                f", {_e(m['score'])})</span></li>"
            )
        signals = "".join(
            f'<li class="{_e(s["verdict"])}">{_link(s["name"] + ": " + s["verdict"], s["href"])}'
            f" <span class=muted>{_e(s.get('detail') or '')}</span></li>"
            for s in it["signals"]
        )
        where = _link(it["url"], it["url"]) if it["url"] else f"<code>{_e(it['shard'])}</code>"
        error = f'<br><span class="error">{_e(it["error"])}</span>' if it.get("error") else ""
        body.append(
            f'<tr id="{anchor(it["id"])}" data-decision="{_e(it["decision"])}" '
            f'data-reasons="{_e(" ".join(r["reason"] for r in it["reasons"]))}">'
            f"<td><code>{_e(it['source_id'] or it['id'])}</code><br>{where}{error}</td><td>{_e(it['kind'])}</td>"
            f'<td><span class="d d-{_e(it["decision"])}">{_e(it["decision"])}</span></td>'
            f"<td><ul>{reasons}</ul></td><td><ul>{''.join(matched) or '<li>—</li>'}</ul></td>"
            f"<td><ul>{signals or '<li>—</li>'}</ul></td></tr>"
        )
    return (
        '<table class="items"><thead><tr><th>item</th><th>kind</th><th>decision</th><th>reasons</th>'
        "<th>matched works (holder)</th><th>signals</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def _works(lst: Mapping[str, Any]) -> str:
    rows = []
    for wid, w in lst.get("works", {}).items():
        status = (
            f"licensed by notice <code>{_e(w['licensed_by'])}</code>"
            if w.get("licensed_by")
            else f"excluded ({_e(w['excluded'])})"
            if w.get("excluded")
            else "—"
        )
        rows.append(
            f'<tr id="work-{_e(wid)}"><td><code>{_e(wid)}</code></td><td>{_e(w["title"])}</td>'
            f"<td>{_e(w['holder'])} <span class=muted>{_e(w['holder_id'])}</span></td>"
            f"<td>{_e(w['preference'])}</td><td>{status}</td></tr>"
        )
    if not rows:
        return "<p>No registered work was found in this corpus.</p>"
    return (
        "<table><tr><th>work</th><th>title</th><th>holder</th><th>preference for the scan's use</th>"
        "<th>notices</th></tr>" + "".join(rows) + "</table>"
    )


def render(rep: Mapping[str, Any]) -> str:
    """``report.html`` from ``report.json``'s content (a report without ``listing`` still renders)."""
    scan = rep["scan"]
    lst = rep.get("listing") or {"items": [], "works": {}, "total": rep["decisions"], "shown": {}, "cap": 0}
    errs = "".join(f"<tr><td>{_e(e['shard'])}</td><td>{_e(e['error'])}</td></tr>" for e in rep["shard_errors"])
    refused = "".join(f"<tr><td>{_e(e['path'])}</td><td>{_e(e['why'])}</td></tr>" for e in rep["refused_paths"])
    cut = [k for k in ORDER if lst["total"].get(k, 0) > lst["shown"].get(k, 0)]
    capped = (
        "<p><strong>Not every item is listed:</strong> "
        + "; ".join(f"{k}: the first {lst['shown'][k]:,} of {lst['total'][k]:,}" for k in cut)
        + f" (at most {lst['cap']:,} per decision). <code>manifest.parquet</code> lists every item.</p>"
        if cut
        else ""
    )
    reasons = sorted({r["reason"] for it in lst["items"] for r in it["reasons"]})
    boxes = "".join(
        f'<label><input type="checkbox" name="decision" value="{k}" checked> '
        f'<span class="d d-{k}">{k}</span> {lst["shown"].get(k, 0)}</label>'
        for k in ORDER
    )
    options = "".join(f'<option value="{_e(r)}">{_e(r)}</option>' for r in reasons)
    checks = rep.get("signal_checks")
    checked = f"<h2>Items checked, by source</h2>{count_bars(checks['checked_against'], '#369')}" if checks else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>copyalign scan report</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{STYLE}{_PAGE_STYLE}</style>
</head><body>
<h1>Corpus scan</h1>
<p>{_e(rep["items"])} items from <code>{_e(scan.get("corpus", ""))}</code>, checked against registry
checkpoint {_e(scan.get("checkpoint", {}).get("size", ""))}
(log entry {_e(scan.get("log_index", "not yet recorded"))}).</p>
<h2>Decisions</h2>{count_bars(rep["decisions"], "#888", COLOURS)}
<h2>Reasons</h2>{count_bars(rep["reasons"], "#c63")}
<h2>Opt-out signals seen</h2>{count_bars(rep["signals"], "#36c")}
{checked}
<h2>Kinds</h2>{count_bars(rep["kinds"], "#888")}
<h2 id="items">Items</h2>
{capped}
<div class="filters" hidden>
 <span>Show:</span>{boxes}
 <label>reason <select id="reason"><option value="">any</option>{options}</select></label>
 <label>text <input id="text" type="search" placeholder="id, URL, title, holder…"></label>
 <span><span id="n">{len(lst["items"])}</span> shown</span>
</div>
{_items(lst)}
<h2 id="works">Works matched</h2>
{_works(lst)}
<h2>Shards that could not be read</h2>
<table><tr><th>shard</th><th>error</th></tr>{errs or '<tr><td colspan="2">none</td></tr>'}</table>
<h2>Paths refused</h2>
<table><tr><th>path</th><th>why</th></tr>{refused or '<tr><td colspan="2">none</td></tr>'}</table>
<h2>Steps</h2>{_steps(rep["steps"])}
<script>{_FILTER_JS}</script>
</body></html>
"""


__all__ = ["CAP", "COLOURS", "anchor", "listing", "render"]
