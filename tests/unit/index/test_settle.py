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


def _ids(shard: Shard) -> list[str]:
    return sorted(seg.work_id(i) for seg in shard.segments for i in range(seg.size))


def test_no_merge_writes_a_segment_over_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A merge holds its segment in memory: past MAX_MERGED_BYTES the shard keeps segments of about that size
    (a 23 GB machine ran out of memory merging two halves of a 2.5 x 10^6-text shard), loses nothing, and does
    not compact those segments again on every batch."""
    monkeypatch.setattr(shard_module, "SMALL_SEGMENT", 10)
    probe = Shard(tmp_path / "probe", min_quality=50)
    probe.add(_works("p", 16))
    cap = probe.segments[0].nbytes  # about 16 works' worth
    monkeypatch.setattr(shard_module, "MAX_MERGED_BYTES", cap)
    shard = Shard(tmp_path / "shard", min_quality=50)
    merged: list[int] = []
    real_merge = shard_module.merge

    def recording_merge(segments, drop):  # noqa: ANN001, ANN202
        out = real_merge(segments, drop)
        merged.append(out.nbytes)
        return out

    monkeypatch.setattr(shard_module, "merge", recording_merge)
    for batch in range(60):
        shard.add(_works(f"b{batch}-", 4))
        shard.settle()
    assert merged and max(merged) <= cap
    assert len(shard.segments) > shard_module.MAX_SEGMENTS  # the cap sets the count, not a compaction
    total = sum(s.nbytes for s in shard.segments)
    assert sum(merged) < 6 * total  # each work merged a few times: full segments are not merged again
    assert _ids(shard) == sorted(f"b{b}-{i}" for b in range(60) for i in range(4))


def test_a_capped_compaction_merges_runs_drops_tombstones_and_leaves_clean_full_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = Shard(tmp_path / "probe", min_quality=50)
    probe.add(_works("p", 8))
    monkeypatch.setattr(shard_module, "MAX_MERGED_BYTES", probe.segments[0].nbytes * 2)  # about 16 works
    shard = Shard(tmp_path / "shard", min_quality=50)
    for batch in range(6):  # six segments of 8 works, left as they are (no settle)
        shard.add(_works(f"b{batch}-", 8))
    before = list(shard.names)
    shard.remove(["b1-3", "b4-0"])
    shard.compact()
    assert shard.tombstones == frozenset()
    assert max(s.nbytes for s in shard.segments) <= shard_module.MAX_MERGED_BYTES
    assert len(shard.segments) == 3  # runs of two 8-work segments
    assert _ids(shard) == sorted(f"b{b}-{i}" for b in range(6) for i in range(8) if f"b{b}-{i}" not in {"b1-3", "b4-0"})
    assert not set(shard.names) & set(before)  # every run of two was merged
    # a full segment alone in its run and holding no removed work is left as it is
    monkeypatch.setattr(shard_module, "MAX_MERGED_BYTES", max(s.nbytes for s in shard.segments))
    kept = list(shard.names)
    shard.remove(["b0-0"])
    shard.compact()
    assert shard.names[1:] == kept[1:] and shard.names[0] != kept[0]
    assert "b0-0" not in _ids(shard) and shard.tombstones == frozenset()
    on_disk = {p.name for p in (tmp_path / "shard").iterdir() if p.is_dir()}
    assert on_disk == set(shard.names)  # the segments merged away are deleted
