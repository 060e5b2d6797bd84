"""Segment probes: the multi-index image probe answers exactly what a full scan answers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from copyalign.core.matching.imagefp import ImageHash
from copyalign.services.matching import segment
from copyalign.services.matching.segment import IndexedWork, Segment

FULL = (0.0, 0.0, 1.0, 1.0)


def _flip(words: np.ndarray, bits: np.ndarray) -> np.ndarray:
    out = words.copy()
    for b in bits.tolist():
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def _segment(rng: np.random.Generator, n: int, planted: list[np.ndarray]) -> Segment:
    rows = [*planted, *rng.integers(0, 2**64, size=(n - len(planted), 4), dtype=np.uint64)]
    works = [
        IndexedWork(
            f"w{i}",
            "image",
            hashlib.sha256(b"%d" % i).digest(),
            images=[ImageHash(np.asarray(r, dtype=np.uint64).astype(">u8").tobytes(), 100, 0, FULL, "whole")],
        )
        for i, r in enumerate(rows)
    ]
    return Segment.build(works, min_quality=50)


@pytest.mark.parametrize("table", [False, True], ids=["binary-search", "bucket-table"])
def test_image_probe_equals_a_full_scan_at_every_distance(
    table: bool, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(segment, "MIH_TABLE_MIN", 1000 if table else 10**9)
    rng = np.random.default_rng(5)
    query = rng.integers(0, 2**64, size=(2, 4), dtype=np.uint64)
    # hashes at every distance from 0 to 40 of the first query hash, the rest random
    planted = [_flip(query[0], rng.choice(256, d, replace=False)) for d in range(41)]
    seg = _segment(rng, 3000, planted)
    seg.save(tmp_path / "seg")
    loaded = Segment.load(tmp_path / "seg")
    assert ("mih_table" in loaded.arrays) is table
    for s in (seg, loaded):
        pdq = np.asarray(s.arrays["pdq"])
        full = np.bitwise_count(pdq[:, None, :] ^ query[None, :, :]).sum(axis=2)
        for radius in (0, 15, 16, 31):  # below 16 no chunk needs a flipped probe
            rows, qi, dist = s.image_candidates(query, radius)
            want_rows, want_qi = np.nonzero(full <= radius)
            assert sorted(zip(rows.tolist(), qi.tolist(), strict=True)) == sorted(
                zip(want_rows.tolist(), want_qi.tolist(), strict=True)
            )
            assert dist.tolist() == full[rows, qi].tolist()
        rows, qi, dist = s.image_candidates(query, 31)
        found = {int(s.arrays["pdq_work"][r]) for r, q in zip(rows.tolist(), qi.tolist(), strict=True) if q == 0}
        assert set(range(32)) <= found and not found & set(range(32, 41))


@pytest.mark.parametrize("size", [0, 1, 7, 5000])
@pytest.mark.parametrize("max_hits", [0, 2])
def test_directory_lookup_finds_every_equal_key_and_agrees_with_numpy(size: int, max_hits: int) -> None:
    # Fingerprint, LSH and digest probes all go through this lookup: a key it missed is a copy not found.
    rng = np.random.default_rng(size)
    distinct = rng.integers(0, 2**64, size=size, dtype=np.uint64)
    keys = np.sort(np.concatenate([distinct, distinct[: size // 3], distinct[: size // 7]]))  # some repeat
    directory = segment._directory(keys)
    needles = np.concatenate([distinct[::3], rng.integers(0, 2**64, size=50, dtype=np.uint64)])
    owner, idx = segment._lookup(keys, directory, needles, max_hits)
    want = [
        (i, j)
        for i, n in enumerate(needles.tolist())
        if (hits := np.flatnonzero(keys == n)).size > 0 and (max_hits == 0 or hits.size <= max_hits)
        for j in hits.tolist()
    ]
    assert list(zip(owner.tolist(), idx.tolist(), strict=True)) == want
    ref = segment.numpy_lookup(keys, directory, needles, max_hits)
    assert np.array_equal(ref[0], owner) and np.array_equal(ref[1], idx)


def test_a_segment_saved_without_directories_gets_them_on_load(tmp_path: Path) -> None:
    seg = _segment(np.random.default_rng(1), 50, [])
    seg.save(tmp_path / "seg")
    for name in segment.DIRECTORIES.values():
        (tmp_path / "seg" / f"{name}.npy").unlink()
    loaded = Segment.load(tmp_path / "seg")
    sha = hashlib.sha256(b"7").digest()
    assert loaded.exact(sha, None) == ([7], [])
