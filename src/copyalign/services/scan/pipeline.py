"""The per-shard step of a corpus scan: read, check opt-out signals, match against the registry, fingerprint.

This is the part that runs in parallel (a local process pool or Ray tasks, :mod:`copyalign.engines`): it
needs no database, only the match index directory (opened read-only, memory-mapped) and the site captures,
so the same function runs unchanged on a laptop or on a cluster node that mounts both. Its output per
shard is one Parquet file of evidence per record; every *decision* (which needs the registry's current
preferences and the developer's notices) is taken afterwards in one place, :mod:`copyalign.core.scan.decide`.

A shard's result is written beside its final name and renamed into place together with a marker holding
the scan's configuration digest, so a rerun skips exactly the shards finished under the same configuration.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from copyalign.core.content import Limits, decode_text, open_image
from copyalign.core.matching import textfp
from copyalign.core.matching.imagefp import PDQ_MIN_QUALITY, pdq
from copyalign.core.matching.query import TextQuery
from copyalign.core.policy import MatchingSection
from copyalign.core.scan import signals as sig
from copyalign.errors import CopyalignError, CorruptShardError
from copyalign.services.matching.engine import find_image, find_text
from copyalign.services.matching.index import MatchIndex
from copyalign.services.scan.readers import Record, Shard, read_shard

RESULT_COLUMNS = (
    "id",
    "source_id",
    "shard",
    "kind",
    "bytes",
    "tokens",
    "url",
    "host",
    "fetched_at",
    "licence",
    "sha256",
    "norm_sha256",
    "signals",
    "site",
    "checked",
    "matches",
    "error",
    "dedup_keys",
    "dedup_sig",
)
SITE_FILES = {"robots_txt": "robots.txt", "tdmrep_json": "tdmrep.json", "ai_txt": "ai.txt", "rsl_xml": "rsl.xml"}
#: ``site`` of an evidence row: a web item's site was captured (its files, or a fetch that found none) or not
CAPTURED, NOT_CAPTURED = "captured", "not-captured"
RESULT_VERSION = 2  # the evidence rows' layout: results of another version are scanned again


@dataclass(frozen=True)
class ScanConfig:
    """Everything a worker needs, picklable and digestible (the digest decides what a rerun may reuse)."""

    corpus: str
    work_dir: str
    index_dir: str
    sites_dir: str | None
    matching: MatchingSection
    limits: Limits
    agents: tuple[str, ...]
    purpose: str
    dedup: bool
    text_field: str = "text"
    index_watermark: int = 0

    def digest(self) -> str:
        cached: str | None = self.__dict__.get("_digest")
        if cached is None:
            cached = self._digest()
            object.__setattr__(self, "_digest", cached)
        return cached

    def _digest(self) -> str:
        obj = {
            "corpus": self.corpus,
            "matching": self.matching.model_dump(mode="json"),
            "limits": repr(self.limits),
            "agents": list(self.agents),
            "purpose": self.purpose,
            "dedup": self.dedup,
            "text_field": self.text_field,
            "index_watermark": self.index_watermark,
            "sites": _sites_digest(self.sites_dir),
            "fingerprint": textfp.FINGERPRINT_VERSION,
            "result": RESULT_VERSION,
        }
        return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def sites_digest(sites_dir: str | None) -> str | None:
    """SHA-256 over every captured site file (name and content digest): what a scan's log entry commits to."""
    return _sites_digest(sites_dir)


def _sites_digest(sites_dir: str | None) -> str | None:
    if not sites_dir or not Path(sites_dir).is_dir():
        return None
    h = hashlib.sha256()
    for p in sorted(Path(sites_dir).rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(sites_dir)).encode() + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


@dataclass
class ShardOutcome:
    shard: str
    records: int = 0
    seconds: float = 0.0
    error: str | None = None
    skipped: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (member path, why): tar members not read


# -- per-process state ------------------------------------------------------------------------------------

_INDEXES: dict[str, MatchIndex] = {}


def _index(directory: str) -> MatchIndex:
    idx = _INDEXES.get(directory)
    if idx is None:
        idx = _INDEXES[directory] = MatchIndex.reader(Path(directory))
    return idx


@dataclass(frozen=True, slots=True)
class SiteCapture:
    """What was captured of one site: its parsed files, the files whose capture failed (which hold the site's
    items), whether anything was captured at all, and the names of the files present."""

    signals: sig.SiteSignals | None = None
    failed: tuple[str, ...] = ()
    captured: bool = False
    files: tuple[str, ...] = ()


_NONE = SiteCapture()


class SiteCache:
    """Each site's captured robots.txt, tdmrep.json, ai.txt and RSL file, parsed once per process, and the
    files whose capture failed (``fetch.json``), which hold the site's items. A site is *captured* when its
    folder holds ``fetch.json`` (a fetch ran, even if it found no file: the site says nothing) or any of the
    files; otherwise its reservations were never read, and its items are held (``signals:not-captured``)."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory or None
        self._cache: dict[str, SiteCapture] = {}

    def get(self, host: str | None) -> SiteCapture:
        if not host or self.directory is None:
            return _NONE
        hit = self._cache.get(host)
        if hit is not None:
            return hit
        folder = os.path.join(self.directory, _host_folder(host))
        try:  # one directory read per site, not a stat per file: most sites publish none of the files
            names = set(os.listdir(folder))
        except OSError:  # no folder: never captured
            names = set()
        found: dict[str, str] = {}
        failed: list[str] = []
        for arg, name in SITE_FILES.items():
            if name in names:
                with open(os.path.join(folder, name), "rb") as fh:
                    found[arg] = fh.read().decode("utf-8", "replace")
        if "fetch.json" in names:
            try:
                with open(os.path.join(folder, "fetch.json"), "rb") as fh:
                    files = json.loads(fh.read()).get("files", {})
                failed = [f"{n} could not be fetched ({e['error']})" for n, e in files.items() if e.get("error")]
            except (ValueError, AttributeError, OSError):
                failed = ["fetch.json is not valid JSON"]
        hit = SiteCapture(
            sig.site_signals(**found) if found else None,
            tuple(failed),
            bool(found) or "fetch.json" in names,
            tuple(SITE_FILES[a] for a in SITE_FILES if a in found),
        )
        self._cache[host] = hit
        return hit


_SITES: dict[str, SiteCache] = {}


def site_cache(cfg: ScanConfig) -> SiteCache:
    """The process's cache of site captures for this configuration: a worker parses each site once, whichever
    shards name it (the configuration's digest covers the captures' content, so a changed capture is a new
    cache)."""
    key = cfg.digest()
    cache = _SITES.get(key)
    if cache is None:
        _SITES.clear()
        cache = _SITES[key] = SiteCache(cfg.sites_dir)
    return cache


def _host_folder(host: str) -> str:
    """The folder name of a host's captures: the host in lower case, ``:`` of a port replaced by ``_``."""
    return host.lower().replace(":", "_")


# -- one record ----------------------------------------------------------------------------------------------


def _c2pa_store(data: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The C2PA manifest store of an image, if it carries one (a JUMBF box labelled ``c2pa``)."""
    if b"jumb" not in data or b"c2pa" not in data:
        return None, None
    try:
        import c2pa
    except ImportError:
        return None, "the image carries a C2PA manifest; install copyalign[c2pa] to read its training assertions"
    try:
        fmt = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        with c2pa.Reader(fmt, io.BytesIO(data)) as reader:
            store = json.loads(reader.json())
        return (store if isinstance(store, dict) else None), None
    except Exception as exc:  # noqa: BLE001 - any failure to read a present manifest holds the item
        return None, f"the image's C2PA manifest cannot be read: {exc}"


def _signals(
    rec: Record, sites: SiteCache, cfg: ScanConfig, host: str | None, web: bool
) -> tuple[list[sig.Signal], str | None, list[str]]:
    """The record's signals, its site's capture status (None: not a web item) and the sources checked."""
    xmp = c2pa_store = None
    capture = sites.get(host) if web else _NONE
    extra = [sig.Signal("site", "fetch", sig.Verdict.ERROR, f) for f in capture.failed]
    checked = list(capture.files)
    if rec.headers:
        checked.append("headers")
    if rec.html:
        checked.append("html-meta")
    if rec.kind == "image" and rec.data:
        xmp = sig.xmp_packet(rec.data)
        c2pa_store, problem = _c2pa_store(rec.data)
        if problem:
            extra.append(sig.Signal("c2pa", "c2pa", sig.Verdict.ERROR, problem))
        checked += (["xmp"] if xmp else []) + (["c2pa"] if c2pa_store is not None or problem else [])
    site_status = None if not web else CAPTURED if capture.captured else NOT_CAPTURED
    try:
        found = sig.evaluate(
            url=rec.url,
            site=capture.signals,
            headers=rec.headers,
            html=rec.html,
            xmp=xmp,
            c2pa=c2pa_store,
            is_image=rec.kind == "image",
            agents=cfg.agents,
            purpose=cfg.purpose,
        )
    except Exception as exc:  # noqa: BLE001 - an evaluation error never means "allowed"
        found = [sig.Signal("signals", "record", sig.Verdict.ERROR, f"signal evaluation failed: {exc}")]
    return found + extra, site_status, checked


def _web_host(url: str | None) -> tuple[str | None, bool]:
    """The URL's host (lower case) and whether it names a web page (http or https with a host): the items
    whose site files must have been captured."""
    if not url:
        return None, False
    try:
        parts = urlsplit(url)
    except ValueError:
        return None, url.lower().startswith(("http:", "https:"))  # a web URL that cannot be parsed: never captured
    host = parts.netloc.lower() or None
    return host, parts.scheme.lower() in ("http", "https") and host is not None


def _evidence(found: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for wid, ev in found.items():
        out.append(
            {
                "work": wid,
                "match": ev.match,
                "score": round(float(ev.score), 4),
                "tokens": sum(s.tokens for s in ev.spans),
                "spans": [s.to_dict() for s in ev.spans[:5]],
            }
        )
    out.sort(key=lambda m: m["work"])
    return out


def scan_record(rec: Record, cfg: ScanConfig, sites: SiteCache, index: MatchIndex) -> dict[str, Any]:
    """The evidence row of one record (no decision yet)."""
    host, web = _web_host(rec.url)
    row: dict[str, Any] = {
        "id": rec.id,
        "source_id": rec.source_id,
        "kind": rec.kind,
        "bytes": len(rec.data),
        "tokens": None,
        "url": rec.url,
        "host": host or None,
        "fetched_at": rec.fetched_at,
        "licence": rec.licence,
        "sha256": hashlib.sha256(rec.data).hexdigest() if rec.data else None,
        "norm_sha256": None,
        "signals": "[]",
        "site": None,
        "checked": [],
        "matches": "[]",
        "error": rec.error,
        "dedup_keys": [],
        "dedup_sig": None,
    }
    if rec.error:
        return row
    signals, row["site"], row["checked"] = _signals(rec, sites, cfg, host, web)
    row["signals"] = json.dumps(
        [{"name": s.name, "source": s.source, "verdict": s.verdict.value, "detail": s.detail} for s in signals]
    )
    try:
        if len(rec.data) > cfg.limits.max_bytes:
            raise CopyalignError(f"{len(rec.data)} bytes, over the limit of {cfg.limits.max_bytes}")
        if rec.kind == "text":
            text = decode_text(rec.data)
            q = TextQuery.of(text, rec.data)
            row["tokens"] = q.fp.size
            row["norm_sha256"] = q.norm.hex()
            found = find_text(index, q, cfg.matching)
            if cfg.dedup:
                keys = [int.from_bytes(q.norm[:8], "little") >> 1]  # exact key; near keys below, all unsigned
                if q.signature is not None and q.lsh is not None:
                    keys += [int(k) >> 1 | (1 << 63) for k in q.lsh.tolist()]
                    row["dedup_sig"] = q.signature.astype(np.uint32).tobytes()
                row["dedup_keys"] = keys
        else:
            img, _ = open_image(rec.data, cfg.limits)
            found = find_image(index, img, bytes.fromhex(row["sha256"]), cfg.matching)
            if rec.caption and rec.caption.strip():  # a caption can quote a registered text too
                raw = rec.caption.encode()
                for wid, ev in find_text(index, TextQuery.of(rec.caption, raw), cfg.matching).items():
                    cur = found.get(wid)
                    found[wid] = ev if cur is None else cur.merge(ev)
            if cfg.dedup:
                keys = [int.from_bytes(bytes.fromhex(row["sha256"])[:8], "little") >> 1]
                h, quality = pdq(img)
                if quality >= PDQ_MIN_QUALITY:
                    # 16 chunks of 16 bits: two hashes within 15 bits share at least one chunk exactly
                    keys += [(1 << 63) | (c << 16) | int.from_bytes(h[2 * c : 2 * c + 2], "big") for c in range(16)]
                    row["dedup_sig"] = h
                row["dedup_keys"] = keys
        row["matches"] = json.dumps(_evidence(found))
    except CopyalignError as exc:
        row["error"] = exc.message
    return row


# -- one shard -------------------------------------------------------------------------------------------------


def result_path(cfg: ScanConfig, shard: Shard) -> Path:
    safe = hashlib.sha256(shard.id.encode()).hexdigest()[:16]
    return Path(cfg.work_dir) / "shards" / f"{safe}.parquet"


def _marker(cfg: ScanConfig, shard: Shard) -> Path:
    return result_path(cfg, shard).with_suffix(".done")


def _stat(cfg: ScanConfig, shard: Shard) -> list[int]:
    """Size and modification time of the shard's files: a shard changed since its result is scanned again."""
    root = Path(cfg.corpus)
    paths = [root / m for m in shard.members] if shard.format == "files" else [root / shard.path]
    out = [0, 0]
    for p in paths:
        st = p.stat()
        out[0] += st.st_size
        out[1] ^= st.st_mtime_ns
    return out


def finished(cfg: ScanConfig, shard: Shard) -> ShardOutcome | None:
    """The outcome of a shard this configuration already finished, or None."""
    marker = _marker(cfg, shard)
    if not marker.exists():
        return None
    try:
        info = json.loads(marker.read_text())
    except ValueError:
        return None
    if info.get("config") != cfg.digest() or info.get("shard") != shard.id or info.get("stat") != _stat(cfg, shard):
        return None
    refused = [(str(p), str(w)) for p, w in info.get("refused", [])]
    return ShardOutcome(
        shard.id, info["records"], info["seconds"], info.get("error"), True, info.get("counts", {}), refused
    )


def _rows(cfg: ScanConfig, shard: Shard, refused: list[tuple[str, str]]) -> Iterator[dict[str, Any]]:
    sites, index = site_cache(cfg), _index(cfg.index_dir)
    for rec in read_shard(Path(cfg.corpus), shard, text_field=cfg.text_field):
        if rec.refused is not None:
            refused.append((rec.id, rec.refused))
            continue
        row = scan_record(rec, cfg, sites, index)
        row["shard"] = shard.id
        yield row


def scan_shard(cfg: ScanConfig, shard: Shard) -> ShardOutcome:
    """Scan one shard unless this configuration already did; the result lands atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    done = finished(cfg, shard)
    if done is not None:
        return done
    t0 = time.perf_counter()
    outcome = ShardOutcome(shard.id)
    rows: list[dict[str, Any]] = []
    refused: list[tuple[str, str]] = []
    try:
        rows = list(_rows(cfg, shard, refused))
    except CorruptShardError as exc:
        # no result and no marker: a rerun tries the shard again (its owner may have repaired it)
        outcome.error, outcome.seconds = exc.message, time.perf_counter() - t0
        return outcome
    counts: dict[str, int] = {"records": len(rows), "errors": sum(1 for r in rows if r["error"])}
    counts["matched"] = sum(1 for r in rows if r["matches"] != "[]")
    counts["signalled"] = sum(1 for r in rows if r["signals"] != "[]")
    table = pa.Table.from_pylist([{c: r.get(c) for c in RESULT_COLUMNS} for r in rows], schema=_schema())
    path = result_path(cfg, shard)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    outcome.records, outcome.counts, outcome.refused = len(rows), counts, refused
    outcome.seconds = time.perf_counter() - t0
    marker = {
        "shard": shard.id,
        "config": cfg.digest(),
        "stat": _stat(cfg, shard),
        "records": outcome.records,
        "seconds": outcome.seconds,
        "counts": counts,
        "refused": refused,
    }
    tmp_marker = _marker(cfg, shard).with_suffix(".done.partial")
    tmp_marker.write_text(json.dumps(marker))
    os.replace(tmp_marker, _marker(cfg, shard))
    return outcome


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("source_id", pa.string()),
            ("shard", pa.string()),
            ("kind", pa.string()),
            ("bytes", pa.int64()),
            ("tokens", pa.int64()),
            ("url", pa.string()),
            ("host", pa.string()),
            ("fetched_at", pa.string()),
            ("licence", pa.string()),
            ("sha256", pa.string()),
            ("norm_sha256", pa.string()),
            ("signals", pa.string()),
            ("site", pa.string()),
            ("checked", pa.list_(pa.string())),
            ("matches", pa.string()),
            ("error", pa.string()),
            ("dedup_keys", pa.list_(pa.uint64())),
            ("dedup_sig", pa.binary()),
        ]
    )
