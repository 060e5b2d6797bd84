"""Merging segments by size tiers (issue 23): a bulk load refreshed after every batch merged the whole index
each time, which is quadratic in the registry's size; tiered, a shard keeps few segments and loses nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from copyalign.services.matching import shard as shard_module
from copyalign.services.matching.segment import IndexedWork
from copyalign.services.matching.shard import Shard


def _works(prefix: str, n: int) -> list[IndexedWork]:
    return [IndexedWork(f"{prefix}{i}", "text", hashlib.sha256(f"{prefix}{i}".encode()).digest()) for i in range(n)]


def _sizes(shard: Shard) -> list[int]:
    return [s.size for s in shard.segments]


def test_small_segments_coalesce_and_large_ones_follow_a_binary_counter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shard_module, "SMALL_SEGMENT", 10)
    shard = Shard(tmp_path / "shard", min_quality=50)
    merged = []
    real_merge = shard_module.merge

    def counting_merge(segments, drop):  # noqa: ANN001, ANN202
        merged.append(sum(s.size for s in segments))
        return real_merge(segments, drop)

    monkeypatch.setattr(shard_module, "merge", counting_merge)
    for batch in range(32):
        shard.add(_works(f"b{batch}-", 4))
        shard.settle()
        assert len(shard.names) <= 4
    assert sum(_sizes(shard)) == 128
    assert _sizes(shard) == sorted(_sizes(shard), reverse=True)  # older segments are the larger
    assert sum(merged) < 128 * 6  # each work merged a few times, not once per batch (32 x 64 on average)
    ids = {shard.segments[k].work_id(i) for k in range(len(shard.segments)) for i in range(shard.segments[k].size)}
    assert ids == {f"b{b}-{i}" for b in range(32) for i in range(4)}


def test_a_later_copy_of_a_work_wins_and_tombstones_stay_in_force(tmp_path: Path) -> None:
    shard = Shard(tmp_path / "shard", min_quality=50)
    shard.add(_works("w", 3))
    shard.remove(["w0"])
    again = [IndexedWork("w1", "text", hashlib.sha256(b"new content").digest())]
    shard.add(again)
    shard.settle()
    assert len(shard.names) == 1 and shard.tombstones == {"w0"}
    [seg] = shard.segments
    found = {seg.work_id(i) for i in range(seg.size)}
    assert found == {"w0", "w1", "w2"} and seg.size == 3  # w0 is dropped at query time by its tombstone
    raw, _ = seg.exact(hashlib.sha256(b"new content").digest(), None)
    assert [seg.work_id(i) for i in raw] == ["w1"]
