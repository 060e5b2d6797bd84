"""The match index: shards of segments beside the store, with one watermark and one writer lock.

A work lives in shard ``xxh64(work_id) % shards``; a query asks every shard and merges, so a registry
larger than one machine's memory splits across shards (each shard is a self-contained directory that can
sit on its own disk or host). ``index.json`` records the parameters the fingerprints were made with and
the database the index belongs to, and the embedding models its vectors came from: when any of them
changes the index is emptied and rebuilt, never silently mixed. The *watermark* is the highest
``works.log_index`` indexed; everything registered after it is picked up by the next refresh.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import rensa
import xxhash

from copyalign.core.matching import textfp
from copyalign.core.matching.imagefp import PDQ_MIN_QUALITY
from copyalign.services.matching.segment import IndexedWork
from copyalign.services.matching.shard import Shard, write_json_atomic

INDEX_FORMAT = 1


def parameters() -> dict[str, object]:
    return {
        "format": INDEX_FORMAT,
        "text": [textfp.FINGERPRINT_VERSION, textfp.K, textfp.W, textfp.NUM_PERM, textfp.BANDS],
        "rensa": getattr(rensa.RMinHash, "ALGORITHM_VERSION", "unknown"),
        "pdq_min_quality": PDQ_MIN_QUALITY,
    }


class MatchIndex:
    def __init__(
        self, directory: Path, *, shards: int = 1, database: str = "", models: dict[str, str] | None = None
    ) -> None:
        if shards < 1:
            raise ValueError("an index needs at least one shard")
        self.directory = directory
        self._thread_lock = threading.RLock()
        directory.mkdir(parents=True, exist_ok=True)
        with self.lock():
            meta_path = directory / "index.json"
            want = {"parameters": parameters(), "database": database, "shards": shards, "models": models or {}}
            meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
            if meta is None or {k: meta.get(k) for k in want} != want:
                for entry in directory.iterdir():
                    if entry.is_dir() and entry.name.startswith("shard-"):
                        shutil.rmtree(entry)
                write_json_atomic(meta_path, {**want, "watermark": 0})
        self.shards = [Shard(directory / f"shard-{i:03d}", min_quality=PDQ_MIN_QUALITY) for i in range(shards)]

    @classmethod
    def reader(cls, directory: Path) -> MatchIndex:
        """Open an existing index to query it only (a scan worker): no lock taken, nothing checked or wiped.

        Raises:
            FileNotFoundError: when ``directory`` holds no index.
        """
        self = cls.__new__(cls)
        self.directory = directory
        self._thread_lock = threading.RLock()
        self.shards = open_shards(directory, range(shard_count(directory)))
        return self

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The writer lock: across threads of this process and across processes sharing the directory."""
        with self._thread_lock, open(self.directory / "lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @property
    def watermark(self) -> int:
        return int(json.loads((self.directory / "index.json").read_text())["watermark"])

    def set_watermark(self, value: int) -> None:
        meta = json.loads((self.directory / "index.json").read_text())
        meta["watermark"] = value
        write_json_atomic(self.directory / "index.json", meta)

    def shard_of(self, work_id: str) -> int:
        return xxhash.xxh64_intdigest(work_id.encode()) % len(self.shards)

    def add(self, works: Sequence[IndexedWork]) -> None:
        """Add (or replace) works; the caller holds :meth:`lock`."""
        parts: list[list[IndexedWork]] = [[] for _ in self.shards]
        for w in works:
            parts[self.shard_of(w.work_id)].append(w)
        for shard, part in zip(self.shards, parts, strict=True):
            shard.add(part)

    def remove(self, work_ids: Sequence[str]) -> None:
        with self.lock():
            parts: list[list[str]] = [[] for _ in self.shards]
            for wid in work_ids:
                parts[self.shard_of(wid)].append(wid)
            for shard, part in zip(self.shards, parts, strict=True):
                if part:
                    shard.remove(part)

    def compact(self) -> None:
        with self.lock():
            for shard in self.shards:
                shard.compact()

    def settle(self) -> None:
        """Merge segments by size tiers (:meth:`Shard.settle`); the caller holds :meth:`lock`."""
        for shard in self.shards:
            shard.settle()

    def reload(self) -> None:
        for shard in self.shards:
            shard.reload()

    @property
    def size(self) -> int:
        return sum(s.size for s in self.shards)

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.rglob("*.npy"))


def shard_count(directory: Path) -> int:
    """How many shards the index in ``directory`` has (FileNotFoundError when it holds none)."""
    return int(json.loads((directory / "index.json").read_text())["shards"])


def open_shards(directory: Path, ids: Iterable[int]) -> list[Shard]:
    """Shards ``ids`` of the index in ``directory``, to query only (a scan worker, a Ray shard group)."""
    return [Shard(directory / f"shard-{i:03d}", min_quality=PDQ_MIN_QUALITY) for i in ids]
