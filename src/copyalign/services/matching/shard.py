"""A shard: a directory of immutable segments, a manifest naming the live ones, and tombstones.

Writers (a refresh, a removal, a compaction) hold the index lock, write new segment directories, and then
replace ``manifest.json`` atomically (write, fsync, rename): a reader sees the old state or the new one,
never half of one, and a crash leaves at worst an unreferenced directory that the next compaction deletes.
Readers take no lock; they re-read the manifest when its modification time changes.

Removal is a tombstone (the work id is filtered out of every answer at once); compaction merges the
segments, up to :data:`MAX_MERGED_BYTES` a segment, and drops tombstoned works for good.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from copyalign.services.matching.segment import SEGMENT_FORMAT, VECTOR_TABLES, IndexedWork, Segment

MANIFEST = "manifest.json"
MAX_SEGMENTS = 8
"""Segments under half of :data:`MAX_MERGED_BYTES` a shard keeps before it compacts them."""
SMALL_SEGMENT = 20_000
"""Works under which a segment is always merged with the one after it (:meth:`Shard.settle`)."""
MAX_MERGED_BYTES = 4 << 30
"""The largest segment a merge writes, in bytes of arrays. A merge builds its segment in memory (its sorts and
copies peak near twice the result): merging two halves of a 2.5 x 10^6-text shard (~13 GB) ran a 23 GB
machine out of memory. A larger shard keeps several segments of about this size, each searched in turn."""


def write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Shard:
    def __init__(self, directory: Path, *, min_quality: int) -> None:
        self.directory = directory
        self.min_quality = min_quality
        self._mtime: int | None = None
        self.segments: list[Segment] = []
        self.names: list[str] = []
        self.tombstones: frozenset[str] = frozenset()
        directory.mkdir(parents=True, exist_ok=True)
        if not (directory / MANIFEST).exists():
            write_json_atomic(directory / MANIFEST, {"segments": [], "tombstones": []})
        self.reload()

    # -- reading ---------------------------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read the manifest if another process changed it; keep loaded segments that are still live."""
        for _ in range(3):
            path = self.directory / MANIFEST
            mtime = path.stat().st_mtime_ns
            if mtime == self._mtime:
                return
            manifest = json.loads(path.read_text())
            try:
                loaded = dict(zip(self.names, self.segments, strict=True))
                segments = [loaded.get(n) or Segment.load(self.directory / n) for n in manifest["segments"]]
            except FileNotFoundError:  # compacted away between our reads: the manifest is newer now
                continue
            self.names, self.segments = list(manifest["segments"]), segments
            self.tombstones = frozenset(manifest["tombstones"])
            self._mtime = mtime
            return

    def live(self) -> Iterator[Segment]:
        return iter(self.segments)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    # -- writing (caller holds the index lock) ---------------------------------------------------------
    def _commit(self, names: list[str], tombstones: frozenset[str]) -> None:
        write_json_atomic(self.directory / MANIFEST, {"segments": names, "tombstones": sorted(tombstones)})
        self.reload()

    def add(self, works: Sequence[IndexedWork]) -> None:
        self.reload()
        if not works:
            return
        name = f"seg-{secrets.token_hex(6)}"
        Segment.build(works, min_quality=self.min_quality).save(self.directory / name)
        ids = {w.work_id for w in works}
        self._commit([*self.names, name], self.tombstones - ids)
        if self._open() > MAX_SEGMENTS:
            self.settle()

    def _open(self) -> int:
        """Segments that may still be merged with another: those under half of :data:`MAX_MERGED_BYTES`."""
        return sum(seg.nbytes < MAX_MERGED_BYTES // 2 for seg in self.segments)

    def settle(self) -> None:
        """Merge the newest segments by size tiers: the newest two while the older holds fewer than
        :data:`SMALL_SEGMENT` works or the newer at least as many as the older (a binary counter of sizes).

        A bulk load refreshes the index after every import batch, and each refresh merged the whole index
        into one segment: at 3 x 10^6 works in batches of 10,000, 300 merges of up to the whole index
        (quadratic). Tiered, a work is merged about log2(n / SMALL_SEGMENT) times, the shard keeps one small
        segment and at most log2 large ones (every one large enough for a bucket table), and a full
        :meth:`compact` is left for the rare shard still over :data:`MAX_SEGMENTS`. No merge writes a segment
        over :data:`MAX_MERGED_BYTES` (its memory): a large shard keeps segments of about that size, and the
        counter runs on the segments after them.
        """
        self.reload()
        while len(self.segments) >= 2:
            older, newer = self.segments[-2], self.segments[-1]
            if older.size >= SMALL_SEGMENT and newer.size < older.size:
                break
            if older.nbytes + newer.nbytes > MAX_MERGED_BYTES:
                break
            name = f"seg-{secrets.token_hex(6)}"
            merge(self.segments[-2:], frozenset()).save(self.directory / name)  # tombstones stay in force
            gone = self.names[-2:]
            self._commit([*self.names[:-2], name], self.tombstones)
            for old in gone:
                shutil.rmtree(self.directory / old, ignore_errors=True)
        if self._open() > MAX_SEGMENTS:
            self.compact()

    def remove(self, work_ids: Sequence[str]) -> None:
        self.reload()
        self._commit(self.names, self.tombstones | set(work_ids))

    def clear(self) -> None:
        self._commit([], frozenset())
        for entry in self.directory.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)

    def compact(self) -> None:
        """Merge the segments, dropping tombstoned works and older copies of re-added ones: into one, or, for a
        shard over :data:`MAX_MERGED_BYTES`, into runs of consecutive segments of at most that size each. A
        segment alone in its run is left as it is unless it holds a tombstoned work.

        Copies of a work in two runs (a work added again with the same content, as a refresh that stopped
        before its watermark does) both stay and give the same evidence, which the engine merges."""
        self.reload()
        if len(self.names) <= 1 and not self.tombstones:
            return  # already one segment with nothing to drop
        runs: list[list[int]] = []
        size = 0
        for i, seg in enumerate(self.segments):
            if runs and size + seg.nbytes <= MAX_MERGED_BYTES:
                runs[-1].append(i)
                size += seg.nbytes
            else:
                runs.append([i])
                size = seg.nbytes
        gone = np.array(sorted(self.tombstones), dtype="S40") if self.tombstones else None
        names: list[str] = []
        for run in runs:
            if len(run) == 1 and (gone is None or not np.isin(self.segments[run[0]].arrays["work_ids"], gone).any()):
                names.append(self.names[run[0]])
                continue
            name = f"seg-{secrets.token_hex(6)}"
            merge([self.segments[i] for i in run], self.tombstones).save(self.directory / name)
            names.append(name)
        if names == self.names and not self.tombstones:
            return
        old = set(self.names)
        self._commit(names, frozenset())
        for entry in self.directory.iterdir():
            if entry.is_dir() and entry.name not in names and (entry.name in old or entry.name.endswith(".tmp")):
                shutil.rmtree(entry, ignore_errors=True)


def merge(segments: Sequence[Segment], drop: frozenset[str]) -> Segment:
    """One segment with the works of ``segments`` (later copies of a work win), minus ``drop``."""
    seen: set[str] = set()
    keep_maps: list[np.ndarray] = []
    base = 0
    for seg in reversed(segments):
        ids = [seg.work_id(i) for i in range(seg.size)]
        m = np.full(seg.size, -1, dtype=np.int64)
        for i, wid in enumerate(ids):
            if wid not in drop and wid not in seen:
                seen.add(wid)
                m[i] = 0
        keep_maps.append(m)
    keep_maps.reverse()
    for m in keep_maps:
        kept = m >= 0
        m[kept] = base + np.arange(int(kept.sum()))
        base += int(kept.sum())

    out: dict[str, list[np.ndarray]] = {}

    def put(name: str, arr: np.ndarray) -> None:
        out.setdefault(name, []).append(np.asarray(arr))

    sig_base = 0
    for seg, m in zip(segments, keep_maps, strict=True):
        a = seg.arrays
        kept_rows = np.flatnonzero(m >= 0)
        put("work_ids", a["work_ids"][kept_rows])
        put("characters", a["characters"][kept_rows])
        for key, work in (("sha_key", "sha_work"), ("norm_key", "norm_work")):
            w = m[a[work]]
            put(key, a[key][w >= 0])
            put(work, w[w >= 0])
        fw = m[a["fp_work"]]
        ok = fw >= 0
        put("fp_hash", a["fp_hash"][ok])
        put("fp_work", fw[ok])
        put("fp_pos", a["fp_pos"][ok])
        off = a["tok_offsets"]
        counts = np.diff(off)[kept_rows]
        put("tok_counts", counts)
        for name in ("tok_hash", "tok_start", "tok_end"):
            if kept_rows.size == seg.size:  # every work kept (a settle's merge): the whole column, as it is
                put(name, a[name][off[0] : off[-1]] if seg.size else np.empty(0, dtype=np.uint32))
                continue
            parts = [a[name][off[i] : off[i + 1]] for i in kept_rows.tolist()]
            put(name, np.concatenate(parts) if parts else np.empty(0, dtype=np.uint32))
        sw = m[a["sig_work"]]
        sig_ok = np.flatnonzero(sw >= 0)
        new_sig = np.full(sw.size, -1, dtype=np.int64)
        new_sig[sig_ok] = sig_base + np.arange(sig_ok.size)
        put("sig", a["sig"][sig_ok])
        put("sig_work", sw[sig_ok])
        ls = new_sig[a["lsh_sig"]]
        put("lsh_key", a["lsh_key"][ls >= 0])
        put("lsh_sig", ls[ls >= 0])
        sig_base += sig_ok.size
        pw = m[a["pdq_work"]]
        put("pdq", a["pdq"][pw >= 0])
        put("pdq_work", pw[pw >= 0])
        put("pdq_region", a["pdq_region"][pw >= 0])
        for prefix in VECTOR_TABLES.values():
            if prefix in a:
                vw = m[a[f"{prefix}_work"]]
                put(prefix, a[prefix][vw >= 0])
                put(f"{prefix}_work", vw[vw >= 0])
                put(f"{prefix}_span", a[f"{prefix}_span"][vw >= 0])

    def cat(name: str, dtype: object) -> np.ndarray:
        parts = out.get(name, [])
        # concatenate copies already: astype only where the type changes
        res: np.ndarray = np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)  # type: ignore[call-overload]
        return res

    r: dict[str, np.ndarray] = {"work_ids": cat("work_ids", "S40"), "characters": cat("characters", np.int64)}
    for key, work in (("sha_key", "sha_work"), ("norm_key", "norm_work"), ("lsh_key", "lsh_sig")):
        k, w = cat(key, np.uint64), cat(work, np.int32)
        order = np.argsort(k, kind="stable")
        r[key], r[work] = k[order], w[order]
    h = cat("fp_hash", np.uint64)
    order = np.argsort(h, kind="stable")
    r["fp_hash"], r["fp_work"], r["fp_pos"] = h[order], cat("fp_work", np.int32)[order], cat("fp_pos", np.int32)[order]
    r["tok_offsets"] = np.concatenate([[0], np.cumsum(cat("tok_counts", np.int64))]).astype(np.int64)
    for name in ("tok_hash", "tok_start", "tok_end"):
        r[name] = cat(name, np.uint32)
    sigs = out.get("sig", [])
    r["sig"] = np.concatenate(sigs).astype(np.uint32) if sigs else np.empty((0, 128), dtype=np.uint32)
    r["sig_work"] = cat("sig_work", np.int32)
    pdqs = out.get("pdq", [])
    pdq = np.concatenate(pdqs).astype(np.uint64).reshape(-1, 4) if pdqs else np.empty((0, 4), dtype=np.uint64)
    r["pdq"], r["pdq_work"] = pdq, cat("pdq_work", np.int32)
    regions = out.get("pdq_region", [])
    r["pdq_region"] = np.concatenate(regions).astype(np.float32).reshape(-1, 4) if regions else np.empty((0, 4))
    for prefix in VECTOR_TABLES.values():
        if prefix in out:
            dims = {part.shape[1] for part in out[prefix]}
            if len(dims) == 1:  # segments of one model (the index is rebuilt when the model changes)
                r[prefix] = np.concatenate(out[prefix]).astype(np.float16)
                r[f"{prefix}_work"] = cat(f"{prefix}_work", np.int32)
                r[f"{prefix}_span"] = np.concatenate(out[f"{prefix}_span"]).astype(np.int64).reshape(-1, 2)
    return Segment.derived(r, {"format": SEGMENT_FORMAT, "works": int(r["work_ids"].shape[0])})
