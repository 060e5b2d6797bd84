"""Embedding vectors in segments: exact below the graph threshold, usearch's graph above it, both across
save/load and compaction."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from copyalign.services.matching import segment
from copyalign.services.matching.segment import IndexedWork, Segment
from copyalign.services.matching.shard import Shard


def _unit(rng: np.random.Generator, n: int, d: int = 32) -> np.ndarray:
    v = rng.normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _works(vectors: np.ndarray, per_work: int, prefix: str = "w") -> list[IndexedWork]:
    out = []
    for i in range(0, vectors.shape[0], per_work):
        rows = vectors[i : i + per_work]
        spans = np.array([[10 * j, 10 * j + 9] for j in range(rows.shape[0])], dtype=np.int64)
        wid = f"{prefix}{i // per_work}"
        out.append(IndexedWork(wid, "text", hashlib.sha256(wid.encode()).digest(), vectors=rows, vector_spans=spans))
    return out


@pytest.mark.parametrize("graph", [False, True], ids=["exact-scan", "usearch-graph"])
def test_nearest_finds_a_close_vector_and_nothing_far(
    graph: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(segment, "ANN_MIN", 500 if graph else 10**9)
    rng = np.random.default_rng(3)
    stored = _unit(rng, 2000)
    seg = Segment.build(_works(stored, 4), min_quality=50)
    seg.save(tmp_path / "seg")
    loaded = Segment.load(tmp_path / "seg")
    assert ("tvec" in loaded.ann) is graph
    target = 1234
    near = stored[target] + 0.05 * _unit(rng, 1)[0]
    queries = np.stack([near / np.linalg.norm(near), _unit(rng, 1)[0]]).astype(np.float32)
    for s in (seg, loaded):
        rows, qi, sims = s.nearest("text", queries, 0.9)
        assert rows.tolist() == [target] and qi.tolist() == [0] and sims[0] > 0.99
        assert int(s.arrays["tvec_work"][target]) == target // 4
        assert s.arrays["tvec_span"][target].tolist() == [10 * (target % 4), 10 * (target % 4) + 9]
        rows, qi, _ = s.nearest("text", queries[:1], 0.9)  # a single query vector takes another path in usearch
        assert rows.tolist() == [target] and qi.tolist() == [0]
    assert loaded.nearest("image", queries, 0.5)[0].size == 0  # no image vectors in this segment


def test_compaction_keeps_vectors_and_drops_removed_works(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    a, b = _unit(rng, 6), _unit(rng, 6)
    shard = Shard(tmp_path / "shard", min_quality=50)
    shard.add(_works(a, 3, "a"))
    shard.add(_works(b, 3, "b"))
    shard.remove(["a0"])
    shard.compact()
    (seg,) = list(shard.live())
    assert sorted(seg.work_id(i) for i in range(seg.size)) == ["a1", "b0", "b1"]
    for vectors, dropped in ((a, True), (b, False)):
        rows, _, _ = seg.nearest("text", vectors[:1], 0.999)
        assert (rows.size == 0) is dropped
    rows, _, _ = seg.nearest("text", b[4:5], 0.999)
    assert seg.work_id(int(seg.arrays["tvec_work"][rows[0]])) == "b1"
