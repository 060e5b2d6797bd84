"""Segment probes: the multi-index image probe answers exactly what a full scan answers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from copyalign.core.matching.imagefp import ImageHash
from copyalign.services.matching import mih, segment
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
    monkeypatch.setattr(mih, "MIH_TABLE_MIN", 1000 if table else 10**9)
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


def _spread(query: np.ndarray, d: int, shift: int) -> np.ndarray:
    """``query`` with ``d`` bits flipped spread as evenly as the wide layout's 11 chunks allow (the pigeonhole's
    worst case), on the first and last bits of chunks, where a chunk straddles two words."""
    bits: list[int] = []
    for k in range(d):
        c = (k + shift) % len(mih.WIDE_WIDTHS)
        within = k // len(mih.WIDE_WIDTHS)  # the chunk's first, last, middle, third bit
        width = mih.WIDE_WIDTHS[c]
        bits.append(mih.WIDE_OFFSETS[c] + (0, width - 1, width // 2, width // 3)[within])
    return _flip(query, np.array(bits))


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "numpy"])
@pytest.mark.parametrize("bits", [3, 16], ids=["375-row-buckets", "small-buckets"])
def test_the_wide_layout_finds_exactly_what_a_full_scan_finds(
    kernel: bool, bits: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A large segment (from MIH_WIDE_MIN hashes) cuts hashes into 11 chunks of 23-24 bits: a hash 31 bits away
    # with at most 3 bits in every chunk but one must still be found, and nothing 32+ bits away reported.
    monkeypatch.setattr(mih, "MIH_WIDE_MIN", 1000)
    monkeypatch.setattr(mih, "wide_bits", lambda n: bits)
    if not kernel:
        monkeypatch.setattr(mih, "native", None)
    elif mih.native is None:
        pytest.skip("this process has no kernels (.ci/run builds them)")
    rng = np.random.default_rng(bits)
    query = rng.integers(0, 2**64, size=(3, 4), dtype=np.uint64)
    planted = [_flip(query[0], rng.choice(256, d, replace=False)) for d in range(41)]
    planted += [_spread(query[1], d, shift) for d in range(20, 36) for shift in (0, 5)]
    planted += [query[2]] * 5  # the same hash five times: one bucket, five rows
    seg = _segment(rng, 3000, planted)
    seg.save(tmp_path / "seg")
    loaded = Segment.load(tmp_path / "seg")
    assert "mihw_table" in loaded.arrays and "mih_order" not in loaded.arrays
    assert loaded.arrays["mihw_table"].shape == (11, (1 << bits) + 1)
    for s in (seg, loaded):
        pdq = np.asarray(s.arrays["pdq"])
        full = np.bitwise_count(pdq[:, None, :] ^ query[None, :, :]).sum(axis=2)
        for radius in (0, 10, 11, 21, 22, 31):  # where the probes need no, one and two flipped bits
            rows, qi, dist = s.image_candidates(query, radius)
            want_qi, want_rows = np.nonzero(np.less_equal(full.T, radius))  # sorted by query row, then row
            assert rows.tolist() == want_rows.tolist() and qi.tolist() == want_qi.tolist()
            assert dist.tolist() == full[rows, qi].tolist()
        rows, qi, _ = s.image_candidates(query, 31)
        spread = {int(s.arrays["pdq_work"][r]) - 41 for r, q in zip(rows.tolist(), qi.tolist(), strict=True) if q == 1}
        assert spread == set(range(24))  # distances 20..31, two patterns each
        assert (qi == 2).sum() == 5


def test_wide_chunks_are_the_hash_bits_they_name() -> None:
    rng = np.random.default_rng(8)
    words = rng.integers(0, 2**64, size=(200, 4), dtype=np.uint64)
    chunks = mih.wide_chunks(words)
    for i in range(words.shape[0]):
        bits = "".join(f"{int(w):064b}" for w in words[i])
        want = [int(bits[o : o + w], 2) for o, w in zip(mih.WIDE_OFFSETS, mih.WIDE_WIDTHS, strict=True)]
        assert chunks[:, i].tolist() == want
    assert sum(mih.WIDE_WIDTHS) == 256 and len(mih.WIDE_WIDTHS) * 3 > 32


@pytest.mark.skipif(mih.native is None, reason="this process has no kernels (.ci/run builds them)")
def test_the_wide_kernel_refuses_arrays_that_do_not_fit_together() -> None:
    pdq = np.zeros((10, 4), dtype=np.uint64)
    order, value = np.zeros((11, 10), dtype=np.int32), np.zeros((11, 10), dtype=np.uint32)
    table = np.zeros((11, (1 << 4) + 1), dtype=np.int32)
    q = np.zeros((1, 4), dtype=np.uint64)
    assert mih.native.mih_wide_search(pdq, table, order, value, q, 31, 4)[0] == b""
    for args in (
        (pdq, table, order, value, q, 31, 5),  # table of 2^4 buckets said to have 2^5
        (pdq, table, np.zeros((11, 9), dtype=np.int32), value, q, 31, 4),
        (pdq, table, order, value[:10], q, 31, 4),
        (pdq, table, order, value, q, 33, 4),  # 11 chunks cover at most 32 bits
        (pdq, table, order, value, q, -1, 4),
        (pdq, np.zeros((11, (1 << 24) + 1), dtype=np.int32), order, value, q, 31, 24),  # wider than a chunk
    ):
        with pytest.raises(ValueError, match="wrong shape"):
            mih.native.mih_wide_search(*args)


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
