"""Ray serving: what the fan-out over Ray costs a text query, against the same index searched in process.

The index (``--works`` texts of ~2 KB from a bigram model of Shakespeare's plays, ``--shards`` shards) is built
straight from the works' fingerprints (:func:`~copyalign.services.matching.engine.index_entry`, on a process
pool), with no registry: the figure measured is the engine's, which needs no database. The same 2 KB queries
(in equal shares: text that matches nothing, text carrying a 300-character passage of an indexed work re-cased
and re-wrapped, exact copies) are then answered

- in process: :func:`~copyalign.services.matching.engine.find_text` over the index;
- over Ray: :class:`~copyalign.services.matching.distributed.RayShards` with ``--groups`` shard groups of
  ``--replicas`` actors on a local Ray instance (``--address`` to join a cluster), the shards' answers merged
  by :func:`~copyalign.services.matching.engine.gather_text`.

Every Ray answer is checked equal to the in-process one (a mismatch stops the run). Reported: p50 and p99 of
each path, the fan-out's overhead (Ray minus in process), the index's size on disk, build and Ray start-up
times. ``--workdir DIR`` keeps the index, and a later run with the same sizes reuses it.

    python benchmarks/ray_serving.py [--works 1000000] [--shards 8] [--groups 2] [--replicas 2] [--replica-cpus 0.5]
        [--queries 300] [--workdir DIR]
    python benchmarks/ray_serving.py --quick      # 10^4 works, 60 queries, results to a temporary file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.core.content import Limits, normalised_sha256  # noqa: E402
from copyalign.core.matching.query import TextQuery  # noqa: E402
from copyalign.engines import LocalExecutor, chunked, in_order  # noqa: E402
from copyalign.policy import load_policy  # noqa: E402
from copyalign.services.matching.engine import find_text, gather_text, index_entry  # noqa: E402
from copyalign.services.matching.index import MatchIndex  # noqa: E402
from copyalign.services.matching.segment import IndexedWork  # noqa: E402
from matching_speed import WordModel  # noqa: E402
from scan_throughput import shakespeare  # noqa: E402

SEED = 20261206
BATCH = 20_000


def fingerprint(limits: Limits, rows: list[tuple[str, str]]) -> list[IndexedWork]:
    """Index entries for ``(work id, text)`` rows (in a worker process)."""
    out = []
    for wid, text in rows:
        data = text.encode()
        out.append(
            index_entry(
                wid, "text", hashlib.sha256(data).hexdigest(), normalised_sha256(text).hex(), data, limits
            )  # fmt: skip
        )
    return out


def pct(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1000
    return {"p50_ms": round(float(np.percentile(a, 50)), 3), "p99_ms": round(float(np.percentile(a, 99)), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=1_000_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--groups", type=int, default=2)
    ap.add_argument("--replicas", type=int, default=2)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--replica-cpus", type=float, default=0.5, help="CPUs Ray reserves for each replica")
    ap.add_argument("--workers", type=int, default=2, help="processes that fingerprint the works")
    ap.add_argument("--address", default="", help="a Ray cluster to join; empty starts a local Ray instance")
    ap.add_argument("--quick", action="store_true", help="10^4 works and 60 queries, to check the benchmark runs")
    ap.add_argument("--workdir", type=Path, help="keep the index here; a later run with the same sizes reuses it")
    ap.add_argument("--out", type=Path, help="results JSON (default results/ray_serving.json; --quick: a temp file)")
    args = ap.parse_args()
    if args.quick:
        args.works, args.queries = 10_000, 60
    out = args.out or (
        Path(tempfile.mkdtemp(prefix="ray-serving-")) / "ray_serving.json"
        if args.quick
        else Path(__file__).parent / "results" / "ray_serving.json"
    )

    real = shakespeare()
    model = WordModel.from_text(real, "bigram")
    rng = np.random.default_rng(SEED)
    limits = Limits(max_bytes=50 * 1024 * 1024, max_image_pixels=40_000_000, decode_budget_bytes=1 << 30)
    cfg = load_policy("cn").matching
    work = args.workdir or Path(tempfile.mkdtemp(prefix="ray-serving-"))
    work.mkdir(parents=True, exist_ok=True)
    marker = work / f"built-{args.works}-{args.shards}"
    index = MatchIndex(work / "index", shards=args.shards)

    # -- the index: the texts are generated again from the seed, so the queries can quote them -------------
    words = model.words_for(2000)
    t0 = time.perf_counter()
    texts: list[str] = []
    pool = LocalExecutor(args.workers) if args.workers > 1 and not marker.exists() else None
    try:
        for start in range(0, args.works, BATCH):
            batch = model.generate(rng, min(BATCH, args.works - start), words)
            if not marker.exists():
                rows = [(f"w{start + j:09d}", t) for j, t in enumerate(batch)]
                chunks = chunked(rows, 250)
                if pool is not None:
                    entries = [e for part in in_order(pool, fingerprint, limits, chunks) for e in part]
                else:
                    entries = [e for part in chunks for e in fingerprint(limits, list(part))]
                with index.lock():
                    index.add(entries)
            texts += batch
            print(f"  {start + len(batch)} works", file=sys.stderr, flush=True)
    finally:
        if pool is not None:
            pool.close()
    if not marker.exists():
        index.compact()
        marker.write_text(json.dumps(time.perf_counter() - t0))
    build_s = float(json.loads(marker.read_text()))
    index.reload()
    assert index.size == args.works, (index.size, args.works)

    # -- the queries ---------------------------------------------------------------------------------------
    q = args.queries
    qrng = np.random.default_rng(SEED + 1)
    clean = model.generate(qrng, q // 3, model.words_for(2048))
    with_passage = []
    for _ in range(q // 3):
        src = texts[int(qrng.integers(0, len(texts)))]
        a = src.index(" ", int(qrng.integers(0, len(src) - 320))) + 1
        passage = src[a : src.index(" ", a + 300)]
        filler = model.generate(qrng, 1, model.words_for(1700))[0]
        cut = filler.index(" ", len(filler) // 2)
        with_passage.append(filler[:cut] + "\n" + textwrap.fill(passage.upper(), 50) + "\n" + filler[cut:])
    copies = [texts[int(i)] for i in qrng.integers(0, len(texts), q - 2 * (q // 3))]
    queries = [TextQuery.of(t, t.encode()) for t in clean + with_passage + copies]
    del texts

    # -- in process, then over Ray ------------------------------------------------------------------------
    for query in queries[:10]:  # warm the page cache and the kernels
        find_text(index, query, cfg)
    local_t, local_answers = [], []
    for query in queries:
        t = time.perf_counter()
        local_answers.append(find_text(index, query, cfg))
        local_t.append(time.perf_counter() - t)
    found = sum(1 for a in local_answers if a)

    import ray

    from copyalign.services.matching.distributed import RayShards

    t0 = time.perf_counter()
    shards = RayShards(
        index.directory,
        groups=args.groups,
        replicas=args.replicas,
        address=args.address,
        replica_cpus=args.replica_cpus,
    )
    start_s = time.perf_counter() - t0
    try:
        for query in queries[:10]:
            gather_text(shards.text_parts(query, cfg), query, cfg)
        ray_t = []
        for query, want in zip(queries, local_answers, strict=True):
            t = time.perf_counter()
            got = gather_text(shards.text_parts(query, cfg), query, cfg)
            ray_t.append(time.perf_counter() - t)
            if got != want:
                raise SystemExit(f"the Ray answer differs from the in-process answer for query {len(ray_t) - 1}")
        nodes = len(ray.nodes())  # type: ignore[no-untyped-call]
    finally:
        shards.close()

    local, remote = pct(local_t), pct(ray_t)
    result = {
        "benchmark": "ray_serving",
        "machine": machine_info(("copyalign", "numpy", "ray")),
        "quick": args.quick,
        "index": {
            "works": args.works,
            "shards": args.shards,
            "disk_bytes": index.disk_bytes(),
            "disk_bytes_per_work": round(index.disk_bytes() / args.works, 1),
            "build_s": round(build_s, 1),
        },
        "ray": {
            "groups": args.groups,
            "replicas": args.replicas,
            "replica_cpus": args.replica_cpus,
            "nodes": nodes,
            "start_s": round(start_s, 2),
        },
        "queries": {"texts": len(queries), "text_bytes_mean": int(np.mean([len(x.text.encode()) for x in queries]))},
        "answers_with_matches": found,
        "answers_identical": True,
        "find_text_2kb": {
            "in_process": local,
            "ray": remote,
            "fan_out_overhead_ms": {k: round(remote[k] - local[k], 3) for k in local},
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
