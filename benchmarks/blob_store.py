"""Blob stores side by side: a file per blob (``directory``) against pack files with an index (``pack``).

Blobs of 500 B-2 KB (the registry benchmark's texts) are written with ``put_many`` in batches as a bulk import
writes them (durable: fsync on), then read back with ``get`` in random order. Reported as operations per second
of one thread, with the bytes each store takes on disk per blob.

    python benchmarks/blob_store.py [--blobs 200000] [--batch 5000] [--stores directory,pack] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.store.blobs import BlobStore, DirectoryBlobStore  # noqa: E402
from copyalign.store.packs import PackBlobStore  # noqa: E402


def payloads(n: int, seed: int = 23) -> list[bytes]:
    rng = random.Random(seed)
    return [f"{i:09d}".encode() + rng.randbytes(rng.randint(500, 2048) - 9) for i in range(n)]


def disk_bytes(root: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in root.rglob("*") if f.is_file())


def open_store(kind: str, root: Path) -> BlobStore:
    return PackBlobStore(root) if kind == "pack" else DirectoryBlobStore(root)


def run(kind: str, data: list[bytes], batch: int, reads: int, tmp: Path) -> dict[str, float]:
    root = tmp / kind
    store = open_store(kind, root)
    t0 = time.perf_counter()
    digests: list[str] = []
    for i in range(0, len(data), batch):
        digests += store.put_many(data[i : i + batch])
    t1 = time.perf_counter()
    order = random.Random(1).choices(digests, k=reads)
    t2 = time.perf_counter()
    for d in order:
        store.get(d)
    t3 = time.perf_counter()
    assert store.get(digests[-1]) == data[-1]
    return {
        "blobs": len(data),
        "put_many_blobs_per_s": round(len(data) / (t1 - t0), 1),
        "get_per_s": round(reads / (t3 - t2), 1),
        "disk_bytes_per_blob": round(disk_bytes(root) / len(data), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blobs", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--reads", type=int, default=100_000)
    ap.add_argument("--stores", default="directory,pack")
    ap.add_argument("--quick", action="store_true", help="2,000 blobs, 2,000 reads: checks that it runs")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "blob_store.json"))
    args = ap.parse_args()
    if args.quick:
        args.blobs, args.reads, args.batch = 2_000, 2_000, 500
    data = payloads(args.blobs)
    results: dict[str, object] = {
        "benchmark": "blob_store",
        "machine": machine_info(),
        "blobs": args.blobs,
        "batch": args.batch,
        "blob_bytes": "500-2048",
        "fsync": True,
    }
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as d:  # the disk the stores would use
        for kind in args.stores.split(","):
            r = results[kind] = run(kind, data, args.batch, args.reads, Path(d))
            print(
                f"{kind:10} put_many {r['put_many_blobs_per_s']:>10} blobs/s   get {r['get_per_s']:>10} /s   "
                f"{r['disk_bytes_per_blob']} disk bytes/blob"
            )
    if not args.quick:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
