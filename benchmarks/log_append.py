"""Transparency log: appends/s (batched and single) and proof latency at 10^6 entries, beside pymerkle.

Ours goes through the real path: ``Ledger.append`` inside a write transaction (entry JSON, leaf hash,
perfect-subtree nodes, frontier update), then proofs served by ``Ledger.inclusion_proof`` /
``consistency_proof`` from the stored nodes at signed tree sizes. The peer, pymerkle (its ``SqliteTree``,
a Merkle tree persisted in SQLite, and ``InmemoryTree``), gets the same entries in the same run.

    python benchmarks/log_append.py [--size 1000000] [--backends sqlite,postgresql] [--peer-size 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _machine import fresh_database, machine_info  # noqa: E402
from copyalign.clock import SystemClock  # noqa: E402
from copyalign.core import merkle  # noqa: E402
from copyalign.core.checkpoint import Ed25519Signer, generate_key  # noqa: E402
from copyalign.services.ledger import Event, Ledger  # noqa: E402
from copyalign.store.db import Store  # noqa: E402

BATCH = 1000


def event(i: int) -> Event:
    return Event("work.registered", "pty_bench", f"wrk_{i:012d}", {"sha256": f"{i:064x}", "title": f"work {i}"})


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


def latency(fn, args: list[tuple]) -> dict[str, float]:  # type: ignore[no-untyped-def]
    times = []
    for a in args:
        t = time.perf_counter()
        fn(*a)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(statistics.median(times), 4), "p99_ms": round(pct(times, 0.99), 4), "n": len(times)}


def run_ours(backend: str, size: int, tmp: Path) -> dict[str, object]:
    with fresh_database(backend, tmp) as url:
        store = Store(url)
        ledger = Ledger(
            store, signer=Ed25519Signer.from_key(generate_key("bench/log")[0]), clock=SystemClock(), origin="bench/log"
        )
        single_n = 2000
        t = time.perf_counter()
        for i in range(single_n):
            with store.write() as s:
                ledger.append(s, [event(i)])
        single = single_n / (time.perf_counter() - t)
        checkpoints = []
        t = time.perf_counter()
        n = single_n
        while n < size:
            k = min(BATCH, size - n)
            with store.write() as s:
                ledger.append(s, [event(n + j) for j in range(k)])
            n += k
            if n % (size // 4) < BATCH:
                checkpoints.append(ledger.checkpoint().size)
        batched = (size - single_n) / (time.perf_counter() - t)
        final = ledger.checkpoint().size
        rng = random.Random(7)
        incl = latency(ledger.inclusion_proof, [(rng.randrange(final), final) for _ in range(1000)])
        olds = [c for c in checkpoints if c < final] or [final]
        cons = latency(ledger.consistency_proof, [(rng.choice(olds), final) for _ in range(1000)])
        # offline check that what is served verifies
        cp = ledger.latest_checkpoint()
        assert cp is not None
        idx = rng.randrange(final)
        entry = ledger.entries(idx, idx + 1)[0][1]
        merkle.verify_inclusion(merkle.leaf_hash(entry), idx, final, ledger.inclusion_proof(idx, final), cp.root)
        store.dispose()
        return {
            "entries": final,
            "appends_per_s_batched": round(batched),
            "appends_per_s_single": round(single),
            "batch": BATCH,
            "inclusion_proof": incl,
            "consistency_proof": cons,
        }


def run_memory(size: int) -> dict[str, object]:
    leaves = [merkle.leaf_hash(f"entry {i}".encode()) for i in range(size)]
    t = time.perf_counter()
    store = merkle.MemoryNodeStore()
    for i in range(0, size, BATCH):
        store.append(leaves[i : i + BATCH])
    appends = size / (time.perf_counter() - t)
    rng = random.Random(7)
    incl = latency(merkle.inclusion_proof, [(rng.randrange(size), size, store) for _ in range(1000)])
    cons = latency(merkle.consistency_proof, [(rng.randrange(1, size), size, store) for _ in range(1000)])
    return {"entries": size, "appends_per_s": round(appends), "inclusion_proof": incl, "consistency_proof": cons}


def run_pymerkle(size: int, tmp: Path) -> dict[str, object]:
    from pymerkle import InmemoryTree, SqliteTree

    out: dict[str, object] = {"entries": size}
    entries = [f"entry {i}".encode() for i in range(size)]
    mem = InmemoryTree(algorithm="sha256")
    t = time.perf_counter()
    for e in entries:
        mem.append_entry(e)
    out["inmemory_appends_per_s"] = round(size / (time.perf_counter() - t))
    rng = random.Random(7)
    out["inmemory_inclusion_proof"] = latency(
        mem.prove_inclusion, [(rng.randrange(1, size + 1), size) for _ in range(200)]
    )
    out["inmemory_consistency_proof"] = latency(
        mem.prove_consistency, [(rng.randrange(1, size), size) for _ in range(200)]
    )
    db = SqliteTree(str(tmp / "pymerkle.db"), algorithm="sha256")
    t = time.perf_counter()
    for i in range(0, size, BATCH):
        db.append_entries(entries[i : i + BATCH])
    out["sqlite_appends_per_s_batched"] = round(size / (time.perf_counter() - t))
    out["sqlite_inclusion_proof"] = latency(db.prove_inclusion, [(rng.randrange(1, size + 1), size) for _ in range(50)])
    out["sqlite_consistency_proof"] = latency(db.prove_consistency, [(rng.randrange(1, size), size) for _ in range(50)])
    assert mem.get_root(size) == merkle.root_from_leaves([merkle.leaf_hash(e) for e in entries])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument(
        "--peer-size", type=int, default=100_000, help="pymerkle recomputes proofs from leaves; keep it modest"
    )
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "log_append.json"))
    args = ap.parse_args()
    res: dict[str, object] = {
        "benchmark": "log_append",
        "machine": machine_info(("copyalign", "sqlalchemy", "psycopg", "pymerkle")),
        "floors": {"appends_per_s_batched_sqlite": 10_000, "proof_ms_at_1e6": 1.0},
    }
    with tempfile.TemporaryDirectory() as d:
        for backend in args.backends.split(","):
            r = run_ours(backend, args.size, Path(d))
            res[backend] = r
            print(
                f"{backend:10} {r['entries']} entries: {r['appends_per_s_batched']} appends/s batched, "
                f"{r['appends_per_s_single']} single; inclusion p50/p99 {r['inclusion_proof']['p50_ms']}/"  # type: ignore[index]
                f"{r['inclusion_proof']['p99_ms']} ms, consistency {r['consistency_proof']['p50_ms']}/"  # type: ignore[index]
                f"{r['consistency_proof']['p99_ms']} ms"
            )  # type: ignore[index]
        res["memory"] = m = run_memory(args.size)
        print(f"in-memory  {m['appends_per_s']} appends/s; inclusion p99 {m['inclusion_proof']['p99_ms']} ms")  # type: ignore[index]
        res["pymerkle"] = p = run_pymerkle(args.peer_size, Path(d))
        print(f"pymerkle   at {p['entries']}: {p}")
        ours_sqlite = res.get("sqlite")
        if isinstance(ours_sqlite, dict):
            res["ratios"] = {
                "appends_batched_ours_sqlite_vs_pymerkle_sqlite": round(
                    ours_sqlite["appends_per_s_batched"] / p["sqlite_appends_per_s_batched"], 2
                ),  # type: ignore[operator]
                "inclusion_p50_pymerkle_sqlite_over_ours_sqlite": round(
                    p["sqlite_inclusion_proof"]["p50_ms"] / ours_sqlite["inclusion_proof"]["p50_ms"], 1
                ),  # type: ignore[index]
                "note": f"pymerkle measured at {p['entries']} entries, ours at {args.size}",
            }
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
