"""Transparency log: appends/s (batched and one per transaction) and proof latency at 10^6 entries, beside pymerkle.

Ours goes through the real path: ``Ledger.append`` inside a write transaction (entry JSON, leaf hash,
perfect-subtree nodes, frontier update), 1,000 events a transaction as a bulk import writes them, after 2,000
appends of one event a transaction as single registrations write them. A few checkpoints are signed on the
way, so proofs are served by ``Ledger.inclusion_proof`` / ``consistency_proof`` at signed sizes, from the
stored nodes (random leaf indices; random earlier checkpoint as the old size). The same proofs are then
timed on the pure in-memory path (``merkle.MemoryNodeStore``) over the very entries the database holds.

The peer, pymerkle 7 (``InmemoryTree`` and ``SqliteTree``, a Merkle tree persisted in SQLite), gets those
same entry bytes in the same run and answers the same proof requests; its root must equal our signed root.

    python benchmarks/log_append.py [--size 1000000] [--backends sqlite,postgresql] [--peer-size N]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from sqlalchemy import select  # noqa: E402

from _machine import fresh_database, machine_info  # noqa: E402
from copyalign.clock import SystemClock  # noqa: E402
from copyalign.core.log import merkle  # noqa: E402
from copyalign.core.log.checkpoint import Ed25519Signer, generate_key  # noqa: E402
from copyalign.services.log.ledger import Event, Ledger  # noqa: E402
from copyalign.store.db import Store  # noqa: E402
from copyalign.store.models import Checkpoint as CheckpointRow  # noqa: E402
from copyalign.store.models import LogEntry  # noqa: E402

BATCH = 1000  # events per transaction, as `works import` writes them
SINGLE = 2000  # appends of one event per transaction, timed first
REQUESTS = 1000  # proof requests per measurement
CHECKPOINTS = 8  # signed on the way, so consistency proofs have several old sizes
PEER_BUDGET_S = 180.0  # pymerkle's in-memory appends stop here if the machine is too slow for --peer-size
FLOOR_APPENDS = 10_000  # batched appends/s on SQLite
FLOOR_PROOF_MS = 1.0  # proof generation at 10^6 entries


def event(i: int) -> Event:
    return Event("work.registered", "pty_bench", f"wrk_{i:012d}", {"sha256": f"{i:064x}", "title": f"work {i}"})


def latency(fn: Callable[..., Any], requests: Sequence[tuple[int, ...]]) -> dict[str, float]:
    """p50/p99/max in milliseconds of ``fn(*r)`` over ``requests``, one call each."""
    times = []
    for r in requests:
        t = time.perf_counter()
        fn(*r)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {
        "p50_ms": round(times[len(times) // 2], 4),
        "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 4),
        "max_ms": round(times[-1], 4),
        "n": len(times),
    }


def requests(size: int, olds: Sequence[int], seed: int = 7) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The same random proof requests for every implementation: (index, size) and (old size, size)."""
    rng = random.Random(seed)
    incl = [(rng.randrange(size), size) for _ in range(REQUESTS)]
    cons = [(rng.choice(olds), size) for _ in range(REQUESTS)]
    return incl, cons


def run_ours(backend: str, size: int, tmp: Path, *, keep_entries: bool) -> tuple[dict[str, Any], list[bytes]]:
    with fresh_database(backend, tmp) as url:
        store = Store(url)
        try:
            skey, _ = generate_key("bench/log")
            ledger = Ledger(store, signer=Ed25519Signer.from_key(skey), clock=SystemClock(), origin="bench/log")
            t = time.perf_counter()
            for i in range(SINGLE):
                with store.write() as s:
                    ledger.append(s, [event(i)])
            single = SINGLE / (time.perf_counter() - t)

            every = max(BATCH, size // CHECKPOINTS // BATCH * BATCH)
            n, t, signing = SINGLE, time.perf_counter(), 0.0
            while n < size:
                k = min(BATCH, size - n)
                with store.write() as s:
                    ledger.append(s, [event(n + j) for j in range(k)])
                n += k
                if n % every == 0 and n < size:
                    c = time.perf_counter()
                    ledger.checkpoint()
                    signing += time.perf_counter() - c
            batched_s = time.perf_counter() - t - signing
            final = ledger.checkpoint()
            with store.read() as s:
                sizes = sorted(s.execute(select(CheckpointRow.size)).scalars())
            olds = [c for c in sizes if 0 < c < final.size]
            incl_req, cons_req = requests(final.size, olds)
            incl = latency(ledger.inclusion_proof, incl_req)
            cons = latency(ledger.consistency_proof, cons_req)

            # What is served must verify against what was signed.
            idx = incl_req[0][0]
            entry = ledger.entries(idx, idx + 1)[0][1]
            merkle.verify_inclusion(
                merkle.leaf_hash(entry), idx, final.size, ledger.inclusion_proof(idx, final.size), final.root
            )
            old = ledger.checkpoint_at(cons_req[0][0])
            merkle.verify_consistency(
                old.size, final.size, old.root, final.root, ledger.consistency_proof(old.size, final.size)
            )
            entries: list[bytes] = []
            if keep_entries:
                with store.read() as s:
                    entries = [bytes(e) for e in s.execute(select(LogEntry.entry).order_by(LogEntry.idx)).scalars()]
            result = {
                "entries": final.size,
                "root": final.root.hex(),
                "appends_per_s_batched": round((size - SINGLE) / batched_s),
                "batched_seconds": round(batched_s, 1),
                "appends_per_s_single": round(single),
                "batch": BATCH,
                "checkpoint_sizes": sizes,
                "inclusion_proof": incl,
                "consistency_proof": cons,
            }
            return result, entries
        finally:
            store.dispose()


def run_memory(entries: list[bytes], olds: Sequence[int]) -> dict[str, Any]:
    """Our pure path over the same entries: leaf hashing, frontier appends, proofs from the node dict."""
    t = time.perf_counter()
    store = merkle.MemoryNodeStore()
    for i in range(0, len(entries), BATCH):
        store.append([merkle.leaf_hash(e) for e in entries[i : i + BATCH]])
    appends = len(entries) / (time.perf_counter() - t)
    incl_req, cons_req = requests(store.size, olds)
    return {
        "entries": store.size,
        "root": store.root().hex(),
        "appends_per_s": round(appends),
        "inclusion_proof": latency(lambda i, n: merkle.inclusion_proof(i, n, store), incl_req),
        "consistency_proof": latency(lambda m, n: merkle.consistency_proof(m, n, store), cons_req),
    }


def run_pymerkle(entries: list[bytes], olds: Sequence[int], tmp: Path) -> dict[str, Any]:
    """pymerkle 7 on the same entries; indices are 1-based there. Its subroot cache is left on (its default)."""
    from pymerkle import InmemoryTree, SqliteTree

    mem = InmemoryTree(algorithm="sha256")
    t = time.perf_counter()
    for i, e in enumerate(entries):
        mem.append_entry(e)
        if i % BATCH == BATCH - 1 and time.perf_counter() - t > PEER_BUDGET_S:
            break
    size = mem.get_size()
    out: dict[str, Any] = {
        "entries": size,
        "cut_short": size < len(entries),
        "inmemory_appends_per_s": round(size / (time.perf_counter() - t)),
    }
    entries = entries[:size]
    olds = [o for o in olds if o < size] or [size // 2]
    incl_req, cons_req = requests(size, olds)
    out["root"] = mem.get_root(size).hex()
    out["inmemory_inclusion_proof"] = latency(mem.prove_inclusion, [(i + 1, n) for i, n in incl_req])
    out["inmemory_consistency_proof"] = latency(mem.prove_consistency, cons_req)
    del mem

    db = SqliteTree(str(tmp / "pymerkle.db"), algorithm="sha256")
    t = time.perf_counter()
    for i in range(0, size, BATCH):
        db.append_entries(entries[i : i + BATCH])
    out["sqlite_appends_per_s_batched"] = round(size / (time.perf_counter() - t))
    out["sqlite_inclusion_proof"] = latency(db.prove_inclusion, [(i + 1, n) for i, n in incl_req])
    out["sqlite_consistency_proof"] = latency(db.prove_consistency, cons_req)
    return out


def ratios(ours: dict[str, Any], mem: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    """ours / peer. For appends/s above 1 means we are faster; for latencies below 1 means we are faster."""

    def r(a: float, b: float) -> float:
        return round(a / b, 3)

    return {
        "appends_db_ours_sqlite_over_pymerkle_sqlite": r(
            ours["appends_per_s_batched"], peer["sqlite_appends_per_s_batched"]
        ),
        "appends_memory_ours_over_pymerkle_inmemory": r(mem["appends_per_s"], peer["inmemory_appends_per_s"]),
        **{
            f"{kind}_{q}_db_ours_sqlite_over_pymerkle_sqlite": r(
                ours[f"{kind}_proof"][f"{q}_ms"], peer[f"sqlite_{kind}_proof"][f"{q}_ms"]
            )
            for kind in ("inclusion", "consistency")
            for q in ("p50", "p99")
        },
        **{
            f"{kind}_{q}_memory_ours_over_pymerkle_inmemory": r(
                mem[f"{kind}_proof"][f"{q}_ms"], peer[f"inmemory_{kind}_proof"][f"{q}_ms"]
            )
            for kind in ("inclusion", "consistency")
            for q in ("p50", "p99")
        },
        "direction": "ours/peer: appends above 1 and latencies below 1 favour copyalign",
    }


def floors(res: dict[str, Any], backends: Sequence[str]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    if "sqlite" in res:
        checks[f"sqlite batched appends/s >= {FLOOR_APPENDS:,}"] = (
            res["sqlite"]["appends_per_s_batched"] >= FLOOR_APPENDS
        )
    for name in [*backends, "memory"]:
        for kind in ("inclusion", "consistency"):
            checks[f"{name} {kind} proof p99 < {FLOOR_PROOF_MS} ms"] = (
                res[name][f"{kind}_proof"]["p99_ms"] < FLOOR_PROOF_MS
            )
    return checks


def show(name: str, r: dict[str, Any], appends: str) -> None:
    i, c = r["inclusion_proof"], r["consistency_proof"]
    print(
        f"{name:11} {r['entries']:>9,} entries  {appends}  inclusion p50/p99 {i['p50_ms']:.3f}/{i['p99_ms']:.3f} ms"
        f"  consistency {c['p50_ms']:.3f}/{c['p99_ms']:.3f} ms",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--size", type=int, default=1_000_000, help="log size to grow to (default 10^6)")
    ap.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql")
    ap.add_argument("--peer-size", type=int, default=None, help="entries given to pymerkle (default --size)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "log_append.json"))
    args = ap.parse_args()
    if args.size <= SINGLE + BATCH:
        ap.error(f"--size must exceed {SINGLE + BATCH}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    started = time.perf_counter()
    res: dict[str, Any] = {
        "benchmark": "log_append",
        "command": "python benchmarks/log_append.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(("copyalign", "sqlalchemy", "psycopg", "pymerkle")),
        "size": args.size,
    }
    entries: list[bytes] = []
    with tempfile.TemporaryDirectory() as d:
        for backend in backends:
            r, got = run_ours(backend, args.size, Path(d), keep_entries=not entries)
            entries = entries or got
            res[backend] = r
            show(
                backend, r, f"{r['appends_per_s_batched']:>7,} appends/s batched, {r['appends_per_s_single']:,} single"
            )
        first = res[backends[0]]
        olds = [c for c in first["checkpoint_sizes"] if 0 < c < first["entries"]]
        res["memory"] = m = run_memory(entries, olds)
        show("memory", m, f"{m['appends_per_s']:>7,} appends/s")
        assert all(res[b]["entries"] == m["entries"] for b in backends)
        assert m["root"] == first["root"], "the in-memory tree disagrees with the signed root"

        peer = entries if args.peer_size is None else entries[: args.peer_size]
        res["pymerkle"] = p = run_pymerkle(peer, olds, Path(d))
        if p["entries"] == len(entries):
            assert p["root"] == first["root"], "pymerkle's root differs from ours over the same entries"
        p["note"] = (
            f"pymerkle given {len(peer):,} entries, reached {p['entries']:,}"
            + (f" (stopped after {PEER_BUDGET_S:.0f} s of appends)" if p["cut_short"] else "")
            + "; same entry bytes and same proof requests as ours; subroot cache on (its default)"
        )
        for kind in ("inmemory", "sqlite"):
            show(
                f"pymerkle {kind[:3]}",
                {
                    "entries": p["entries"],
                    "inclusion_proof": p[f"{kind}_inclusion_proof"],
                    "consistency_proof": p[f"{kind}_consistency_proof"],
                },
                f"{p[f'{kind}_appends_per_s' if kind == 'inmemory' else 'sqlite_appends_per_s_batched']:>7,} appends/s",
            )
    if "sqlite" in res:
        res["ratios"] = ratios(res["sqlite"], m, p)
        if p["entries"] != args.size:
            res["ratios"]["note"] = f"pymerkle at {p['entries']:,} entries, ours at {args.size:,}"
        for k, v in res["ratios"].items():
            print(f"  {k}: {v}")
    res["floors"] = floors(res, backends)
    for k, ok in res["floors"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {k}")
    res["seconds"] = round(time.perf_counter() - started)
    Path(args.out).write_text(json.dumps(res, indent=2) + "\n")
    print(f"wrote {args.out} in {res['seconds']} s")


if __name__ == "__main__":
    main()
