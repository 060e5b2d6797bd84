"""An immutable index segment: the match fingerprints of a batch of works, as flat sorted numpy arrays.

One segment holds every structure the matcher probes, each a sorted key array with a parallel array of
local work numbers, so that every probe is a vectorised binary search (``np.searchsorted``) and a segment
on disk is a directory of ``.npy`` files loaded memory-mapped: opening a large index costs nothing until
pages are touched, and several processes share the page cache.

* exact digests: the first 8 bytes of the raw and of the normalised SHA-256 (the store confirms the rest);
* text: the winnowed k-gram fingerprints (hash, work, token position), and per work its token hashes
  (low 32 bits) with character offsets, in CSR layout, to verify hits and report spans;
* MinHash: one signature per text and its LSH band keys;
* images: the PDQ hashes (4 x uint64) of each registered image and its crops, with their region, and the
  sorted chunk columns of multi-index hashing (:mod:`~copyalign.services.matching.mih`), which finds every
  hash within 31 bits of a query without a scan;
* embeddings (only with a model configured, :mod:`~copyalign.services.matching.embeddings`): float16 rows
  per text passage or image, with their work and passage span, and above :data:`ANN_MIN` rows a usearch HNSW graph saved
  beside the arrays and opened as a memory-mapped view.

Segments are never modified; the shard adds new segments, records removals as tombstones and merges
segments in the background (:mod:`copyalign.services.matching.shard`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from copyalign.core.kernels import native
from copyalign.core.matching import textfp
from copyalign.core.matching.imagefp import ImageHash, pdq_words
from copyalign.errors import MissingExtraError
from copyalign.services.matching import mih

SEGMENT_FORMAT = 1
ANN_MIN = 4096
"""From this many vectors on, a segment searches them through a usearch HNSW graph (saved beside the
arrays, opened memory-mapped); below it an exact scan is faster and exact."""
ANN_NEIGHBOURS = 16
"""Nearest passages asked of the graph per query vector (several passages of one work may rank first)."""
VECTOR_TABLES = {"text": "tvec", "image": "ivec"}


@dataclass(frozen=True, slots=True)
class IndexedWork:
    """What the index keeps of one registered work."""

    work_id: str
    kind: str
    sha256: bytes
    norm_sha256: bytes | None = None
    text: textfp.TextFingerprint | None = None
    images: Sequence[ImageHash] = ()
    vectors: npt.NDArray[np.float32] | None = None  # embedding rows (L2-normalised), if a model is configured
    vector_spans: npt.NDArray[np.int64] | None = None  # (rows, 2) character span of each text passage


def _key64(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "big")


def _sorted_pairs(keys: npt.NDArray[np.uint64], values: npt.NDArray[np.int32]) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    return keys[order], values[order]


DIRECTORY_FILL = 8
"""Sorted keys per directory bucket, on average: a probe reads one bucket, a cache line or two."""
DIRECTORIES = {"fp_hash": "fp_dir", "lsh_key": "lsh_dir", "sha_key": "sha_dir", "norm_key": "norm_dir"}
"""The sorted key columns (all uniform 64-bit hashes or digest prefixes) and the name of each one's directory."""


def _directory(sorted_keys: npt.NDArray[np.uint64]) -> np.ndarray:
    """Where each bucket of keys sharing their top ``B`` bits starts, plus the end (``2**B + 1`` entries).

    The keys are 64-bit hashes, uniform in their top bits, so buckets hold about :data:`DIRECTORY_FILL` / 2 to
    :data:`DIRECTORY_FILL` keys: finding a key is one directory read and one short scan instead of a binary
    search whose ~20 steps each miss the cache on a memory-mapped column of millions of keys. Measured on the
    ~460 winnowed fingerprints of an 11 KB document against 8.5M keys: 500 us with binary searches, 140 us
    through the directory in numpy, 47 us in C (``native.lookup``, which also overlaps the misses).
    """
    bits = min(26, max(0, (sorted_keys.shape[0] // DIRECTORY_FILL).bit_length()))
    top = (np.asarray(sorted_keys) >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(0, np.int64)
    counts = np.bincount(top, minlength=1 << bits) if bits else np.array([sorted_keys.shape[0]])
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _lookup(
    sorted_keys: np.ndarray, directory: np.ndarray, needles: npt.NDArray[np.uint64], max_hits: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(needle index, key index) of every key equal to a needle, needle by needle, keys in sorted order; a
    needle with more than ``max_hits`` equal keys (when positive) yields none."""
    needles = np.ascontiguousarray(needles, dtype=np.uint64)
    if native is not None:
        owner_b, idx_b = native.lookup(sorted_keys, directory, needles, max_hits)
        return np.frombuffer(owner_b, dtype=np.int64), np.frombuffer(idx_b, dtype=np.int64)
    return numpy_lookup(sorted_keys, directory, needles, max_hits)


def numpy_lookup(
    sorted_keys: np.ndarray, directory: np.ndarray, needles: npt.NDArray[np.uint64], max_hits: int = 0
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """:func:`_lookup` without the C kernel."""
    bits = (directory.shape[0] - 1).bit_length() - 1
    bucket = (needles >> np.uint64(64 - bits)).astype(np.intp) if bits else np.zeros(needles.shape[0], np.intp)
    lo, hi = directory[bucket], directory[bucket + 1]
    cand = mih.expand(lo, hi)
    owner = np.repeat(np.arange(needles.shape[0], dtype=np.int64), hi - lo)
    eq = np.asarray(sorted_keys)[cand] == needles[owner]
    owner, cand = owner[eq], cand[eq]
    if max_hits > 0 and owner.size:
        keep = np.bincount(owner, minlength=needles.shape[0])[owner] <= max_hits
        owner, cand = owner[keep], cand[keep]
    return owner, cand


def _ann_index(vectors: np.ndarray) -> Any:
    try:
        from usearch.index import Index
    except ImportError as exc:
        raise MissingExtraError("a vector index over embeddings", "ml") from exc
    graph = Index(ndim=int(vectors.shape[1]), metric="ip", dtype="f16")
    graph.add(np.arange(vectors.shape[0], dtype=np.uint64), np.asarray(vectors, dtype=np.float32))
    return graph


def _ann_view(path: Path) -> Any:
    try:
        from usearch.index import Index
    except ImportError as exc:
        raise MissingExtraError("a vector index over embeddings", "ml") from exc
    return Index.restore(str(path), view=True)


@dataclass
class Segment:
    """Arrays by name; built in memory by :meth:`build` or memory-mapped by :meth:`load`."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, object] = field(default_factory=dict)
    ann: dict[str, Any] = field(default_factory=dict)  # usearch graphs over the larger vector tables

    # -- building --------------------------------------------------------------------------------------
    @classmethod
    def build(cls, works: Sequence[IndexedWork], *, min_quality: int) -> Segment:
        n = len(works)
        ids = np.array([w.work_id.encode() for w in works], dtype="S40") if n else np.empty(0, dtype="S40")
        sha = np.array([_key64(w.sha256) for w in works], dtype=np.uint64)
        norm_w = [i for i, w in enumerate(works) if w.norm_sha256]
        norm = np.array([_key64(works[i].norm_sha256 or b"") for i in norm_w], dtype=np.uint64)
        a: dict[str, np.ndarray] = {"work_ids": ids}
        a["sha_key"], a["sha_work"] = _sorted_pairs(sha, np.arange(n, dtype=np.int32))
        a["norm_key"], a["norm_work"] = _sorted_pairs(norm, np.array(norm_w, dtype=np.int32))

        # text
        tok_counts = np.zeros(n, dtype=np.int64)
        toks, starts, ends, fp_h, fp_w, fp_p, sig_w, sh_off = [], [], [], [], [], [], [], [0]
        shingles = []
        chars = np.zeros(n, dtype=np.int64)
        for i, w in enumerate(works):
            t = w.text
            if t is None:
                continue
            tok_counts[i] = t.size
            chars[i] = t.characters
            toks.append((t.token_hashes & np.uint64(0xFFFFFFFF)).astype(np.uint32))
            starts.append(t.starts.astype(np.uint32))
            ends.append(t.ends.astype(np.uint32))
            fp_h.append(t.fingerprints)
            fp_w.append(np.full(t.winnowed.size, i, dtype=np.int32))
            fp_p.append(t.winnowed.astype(np.int32))
            sig_w.append(i)
            shingles.append(t.kgrams)
            sh_off.append(sh_off[-1] + t.kgrams.size)
        a["tok_offsets"] = np.concatenate([[0], np.cumsum(tok_counts)]).astype(np.int64)
        a["tok_hash"] = np.concatenate(toks) if toks else np.empty(0, dtype=np.uint32)
        a["tok_start"] = np.concatenate(starts) if starts else np.empty(0, dtype=np.uint32)
        a["tok_end"] = np.concatenate(ends) if ends else np.empty(0, dtype=np.uint32)
        a["characters"] = chars
        h = np.concatenate(fp_h) if fp_h else np.empty(0, dtype=np.uint64)
        order = np.argsort(h, kind="stable")
        a["fp_hash"] = h[order]
        a["fp_work"] = (np.concatenate(fp_w) if fp_w else np.empty(0, dtype=np.int32))[order]
        a["fp_pos"] = (np.concatenate(fp_p) if fp_p else np.empty(0, dtype=np.int32))[order]
        if sig_w:
            sigs = textfp.minhash_many(np.concatenate(shingles), np.array(sh_off, dtype=np.uint64))
        else:
            sigs = np.empty((0, textfp.NUM_PERM), dtype=np.uint32)
        a["sig"] = sigs
        a["sig_work"] = np.array(sig_w, dtype=np.int32)
        keys = np.array([textfp.lsh_keys(s) for s in sigs], dtype=np.uint64).reshape(-1)
        a["lsh_key"], a["lsh_sig"] = _sorted_pairs(keys, np.repeat(np.arange(len(sig_w), dtype=np.int32), textfp.BANDS))

        # images
        rows, img_w, regions = [], [], []
        for i, w in enumerate(works):
            for ih in w.images:
                if ih.quality >= min_quality:
                    rows.append(pdq_words(ih.pdq))
                    img_w.append(i)
                    regions.append(ih.region)
        a["pdq"] = np.array(rows, dtype=np.uint64).reshape(-1, 4)
        a["pdq_work"] = np.array(img_w, dtype=np.int32)
        a["pdq_region"] = np.array(regions, dtype=np.float32).reshape(-1, 4)

        # embeddings, one table per kind of work (text and image models differ in dimensions)
        for kind, prefix in VECTOR_TABLES.items():
            vec_w = [i for i, w in enumerate(works) if w.kind == kind and w.vectors is not None and len(w.vectors)]
            if not vec_w:
                continue
            vecs = [np.asarray(works[i].vectors, dtype=np.float32) for i in vec_w]
            a[prefix] = np.concatenate(vecs).astype(np.float16)
            a[f"{prefix}_work"] = np.repeat(np.array(vec_w, dtype=np.int32), [v.shape[0] for v in vecs])
            a[f"{prefix}_span"] = np.concatenate(
                [
                    np.asarray(works[i].vector_spans, dtype=np.int64).reshape(-1, 2)
                    if works[i].vector_spans is not None
                    else np.zeros((v.shape[0], 2), dtype=np.int64)
                    for i, v in zip(vec_w, vecs, strict=True)
                ]
            )
        return cls.derived(a, {"format": SEGMENT_FORMAT, "works": n})

    @classmethod
    def derived(cls, a: dict[str, np.ndarray], meta: dict[str, object]) -> Segment:
        """Add the structures computed from the stored ones: multi-index tables, vector graphs."""
        for column, name in DIRECTORIES.items():
            a[name] = _directory(a[column])
        a.update(mih.index(a["pdq"]))
        seg = cls(a, meta)
        for prefix in VECTOR_TABLES.values():
            if prefix in a and a[prefix].shape[0] >= ANN_MIN:
                seg.ann[prefix] = _ann_index(a[prefix])
        return seg

    # -- persistence -----------------------------------------------------------------------------------
    def save(self, directory: Path) -> None:
        """Write to ``directory`` (which must not exist) via a temporary sibling and one rename."""
        tmp = directory.with_name(directory.name + ".tmp")
        tmp.mkdir(parents=True)
        for name, arr in self.arrays.items():
            with open(tmp / f"{name}.npy", "wb") as fh:
                np.save(fh, np.ascontiguousarray(arr))
                fh.flush()
                os.fsync(fh.fileno())
        for prefix, graph in self.ann.items():
            graph.save(str(tmp / f"{prefix}.usearch"))
        (tmp / "meta.json").write_text(json.dumps(self.meta))
        os.rename(tmp, directory)

    @classmethod
    def load(cls, directory: Path) -> Segment:
        meta = json.loads((directory / "meta.json").read_text())
        # np.asarray drops the np.memmap subclass but keeps the mapping: indexing a memmap costs ~20 us of
        # Python per call (subclass bookkeeping), a plain view of the same pages nothing
        arrays = {p.stem: np.asarray(np.load(p, mmap_mode="r")) for p in directory.glob("*.npy")}
        ann = {p.stem: _ann_view(p) for p in directory.glob("*.usearch")}
        for column, name in DIRECTORIES.items():  # segments saved before directories existed
            if name not in arrays or arrays[name].dtype != np.int64:
                arrays[name] = _directory(arrays[column])
        return cls(arrays, meta, ann)

    # -- probes ----------------------------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """The bytes of its arrays: what a merge that takes it in holds in memory (the ANN graphs are built again)."""
        return sum(int(a.nbytes) for a in self.arrays.values())

    @property
    def size(self) -> int:
        return int(self.arrays["work_ids"].shape[0])

    def work_id(self, i: int) -> str:
        return bytes(self.arrays["work_ids"][i]).decode()

    def exact(self, sha256: bytes, norm_sha256: bytes | None) -> tuple[list[int], list[int]]:
        a = self.arrays
        raw = a["sha_work"][_lookup(a["sha_key"], a["sha_dir"], np.array([_key64(sha256)], dtype=np.uint64))[1]]
        norm: np.ndarray = np.empty(0, dtype=np.int32)
        if norm_sha256:
            needle = np.array([_key64(norm_sha256)], dtype=np.uint64)
            norm = a["norm_work"][_lookup(a["norm_key"], a["norm_dir"], needle)[1]]
        return raw.tolist(), norm.tolist()

    def fingerprint_hits(
        self, fingerprints: npt.NDArray[np.uint64], positions: npt.NDArray[np.int64], max_postings: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(work, work position, query position) of every posting of every query fingerprint.

        A fingerprint with more than ``max_postings`` postings is a stock phrase, not evidence: it is skipped.
        """
        a = self.arrays
        owner, idx = _lookup(a["fp_hash"], a["fp_dir"], fingerprints, max_postings)
        return a["fp_work"][idx].astype(np.int64), a["fp_pos"][idx].astype(np.int64), positions[owner]

    def tokens(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = self.arrays
        s, e = int(a["tok_offsets"][i]), int(a["tok_offsets"][i + 1])
        return a["tok_hash"][s:e], a["tok_start"][s:e], a["tok_end"][s:e]

    def near_duplicates(
        self, signature: npt.NDArray[np.uint32], threshold: float, keys: npt.NDArray[np.uint64] | None = None
    ) -> list[tuple[int, float]]:
        """Works whose MinHash agrees with ``signature`` on at least ``threshold`` of its rows (``keys``: the
        signature's LSH keys, when the caller already has them)."""
        a = self.arrays
        keys = textfp.lsh_keys(signature) if keys is None else keys
        found = _lookup(a["lsh_key"], a["lsh_dir"], keys)[1]
        if found.size == 0:
            return []
        sig_rows = np.unique(a["lsh_sig"][found])
        sims = (a["sig"][sig_rows] == signature[None, :]).mean(axis=1)
        ok = sims >= threshold
        return list(zip(a["sig_work"][sig_rows[ok]].tolist(), sims[ok].tolist(), strict=True))

    def image_candidates(
        self, query: npt.NDArray[np.uint64], max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(hash row, query row, distance) of every stored hash within ``max_distance`` of a query hash."""
        return mih.candidates(self.arrays, query, max_distance)

    def nearest(
        self, kind: str, queries: npt.NDArray[np.float32], min_similarity: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(vector row, query row, cosine similarity) of stored vectors at least ``min_similarity`` close.

        Exact below :data:`ANN_MIN` vectors; above it the ``ANN_NEIGHBOURS`` nearest per query vector
        from the HNSW graph (approximate: a near neighbour can be missed, with a probability usearch's
        recall figures bound).
        """
        prefix = VECTOR_TABLES[kind]
        empty = np.empty(0, dtype=np.int64)
        if prefix not in self.arrays or queries.shape[0] == 0:
            return empty, empty, np.empty(0, dtype=np.float32)
        if prefix in self.ann:
            found = self.ann[prefix].search(np.ascontiguousarray(queries, dtype=np.float32), ANN_NEIGHBOURS)
            n = queries.shape[0]
            keys = np.asarray(found.keys).reshape(n, -1)
            sims = 1.0 - np.asarray(found.distances, dtype=np.float32).reshape(n, -1)
            # one query gives usearch's Matches, trimmed to the hits; several give padded BatchMatches
            counts = np.asarray(found.counts).reshape(-1) if n > 1 else np.array([keys.shape[1]])
            valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
            qi, col = np.nonzero(valid & (sims >= min_similarity))
            return keys[qi, col].astype(np.int64), qi.astype(np.int64), sims[qi, col]
        table = np.asarray(self.arrays[prefix], dtype=np.float32)
        if table.shape[1] != queries.shape[1]:
            return empty, empty, np.empty(0, dtype=np.float32)
        sims = queries @ table.T  # (q, rows)
        qi, rows = np.nonzero(sims >= min_similarity)
        return rows.astype(np.int64), qi.astype(np.int64), sims[qi, rows].astype(np.float32)
