"""The seed's registry size on one machine: 3 × 10^6 text works and 3 × 10^6 images (issue 23).

Seed 003 §4.4 sizes service-side screening over blacklists "covering feature vectors of over 3 million
registered works". This registers ``--works`` text works (500 B-2 KB, half English from a bigram model of
Shakespeare's plays, half Chinese from the character model of the seed papers' Chinese, as
``matching_speed.py`` builds them) and ``--images`` pictures (64x64 PNG, a random gradient under 12 random
shapes, as ``guard_latency.py`` draws them) through the bulk path (``WorkService.register_many`` in batches
of ``--batch``, fingerprinting on a pool of ``--workers``) into PostgreSQL with the pack blob store
(``COPYALIGN_BLOB_STORE=pack``), then builds the match index (``MatchService.refresh``: text fingerprints,
and PDQ of each image with its 18 crops, 19 hashes an image, as registration makes them).

Reported: registration rate (works/s, the generation of the synthetic works excluded and reported apart; and CPU
time per work, this process and its pool, steadier than the wall clock on a shared machine), index build time
(registration indexes as it goes, each batch's conflict check refreshing the index with the batches before it, so
the refresh after the last batch is reported apart from a whole rebuild), disk per work (PostgreSQL tables and
indexes of the run's schema, blob packs and their index, the match index) and resident memory per work of the
serving process once the index is loaded; the guard's output check (``GuardService.check_output``) p50/p99 for 2 KB
texts (clean, carrying a 300-character passage of a registered work, exact copies; English and Chinese alike) and
512x512 images (clean, and registered images upscaled and saved as JPEG), in process and over HTTP (``POST
/v1/guard/output`` to uvicorn in this process); and the image candidate search alone (the multi-index search over
every segment) as indexed PDQ hashes covered per millisecond of a query.

Targets (issue 23): guard text and image p99 < 10 ms in process at 3 × 10^6, ≥ 10^6 hashes searched per ms,
resident memory < 16 GB, bulk registration ≥ 2,000 works/s on PostgreSQL.

``--profile FILE`` writes a cProfile of this process's registration (the pool's workers are not in it) and
prints its top entries. ``--workdir`` keeps the data folder (the database schema is dropped either way).

    python benchmarks/registry_scale.py [--works 3000000] [--images N] [--workers 2] [--batch 10000]
        [--queries 200] [--no-rebuild] [--profile FILE] [--out FILE]
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import os
import pstats
import socket
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from _machine import fresh_database, machine_info  # noqa: E402
from copyalign.context import Copyalign, connect  # noqa: E402
from copyalign.core.matching.query import image_query  # noqa: E402
from copyalign.services.registry.works import WorkInput  # noqa: E402
from copyalign.settings import Settings  # noqa: E402
from guard_latency import encode, field_image, pct, timed  # noqa: E402
from matching_speed import SEEDS, WordModel, chinese_text  # noqa: E402
from scan_throughput import cut, shakespeare  # noqa: E402

SEED = 20261206
FULL = 3_000_000
TARGETS = {
    "guard_text_p99_ms": 10,
    "guard_image_p99_ms": 10,
    "image_hashes_searched_per_ms": 1_000_000,
    "rss_bytes": 16 * 2**30,
    "registration_works_per_s": 2_000,
}


def text_batches(models: list[WordModel], n: int, batch: int, keep_every: int) -> Iterator[tuple[list[str], list[str]]]:
    """Batches of ``batch`` texts of 500-2,048 bytes alternating English and Chinese models, and a sample
    (one in ``keep_every``) kept for the queries."""
    rng = np.random.default_rng(SEED)
    made = 0
    while made < n:
        size = min(batch, n - made)
        texts: list[str] = []
        while len(texts) < size:
            model = models[len(texts) // 250 % len(models)]
            nbytes = int(rng.integers(500, 2049))
            group = model.generate(rng, min(250, size - len(texts)), model.words_for(nbytes) + 2)
            texts += [cut(t, nbytes) for t in group]
        made += size
        yield texts, texts[::keep_every]


def image_batches(n: int, batch: int) -> Iterator[tuple[list[bytes], np.ndarray]]:
    seeds = np.random.default_rng(SEED + 1).integers(0, 2**63, size=n)
    for i in range(0, n, batch):
        part = seeds[i : i + batch]
        yield [encode(field_image(np.random.default_rng(int(s)), 64)) for s in part], part


def register(
    ca: Copyalign, op: object, holder: str, batches: Iterator[list[WorkInput]], workers: int
) -> tuple[int, float]:
    """Register every batch; return (works, seconds inside ``register_many``). A line of progress every ten
    batches (a long run's rate as it grows, kept in the log should the run not finish)."""
    n, spent = 0, 0.0
    for i, items in enumerate(batches, 1):
        t0 = time.perf_counter()
        views = ca.works.register_many(op, items, holder_id=holder, workers=workers)  # type: ignore[arg-type]
        took = time.perf_counter() - t0
        spent += took
        n += len(views)
        if i % 10 == 0:
            print(f"  {n} registered, {n / spent:.0f}/s so far, the last batch {len(views) / took:.0f}/s", flush=True)
    return n, spent


def _live_children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return out + [g for c in out for g in _live_children(c)]


def cpu_seconds() -> float:
    """CPU time of this process and its children, living (the pool's workers) and ended: on a shared, loaded
    machine a steadier figure than the wall clock for comparing two versions of the same path."""
    t = os.times()
    total = t.user + t.system + t.children_user + t.children_system
    tick = os.sysconf("SC_CLK_TCK")
    for child in _live_children(os.getpid()):
        try:
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def du(path: Path) -> int:
    return sum(f.stat().st_blocks * 512 for f in path.rglob("*") if f.is_file())


def schema_bytes(ca: Copyalign) -> int:
    with ca.store.read() as s:
        return int(
            s.connection()
            .exec_driver_sql(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
            )
            .scalar_one()
        )


def rss() -> dict[str, int]:
    """Resident memory, and its two parts: the process's own (anonymous) pages, and the pages of mapped files
    (the index's segments are memory-mapped: those pages are the kernel's page cache, shared, and dropped
    under memory pressure rather than swapped)."""
    names = {"VmRSS": "rss_bytes", "VmHWM": "peak_rss_bytes", "RssAnon": "anon_bytes", "RssFile": "file_bytes"}
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in names:
            out[names[key]] = int(value.split()[0]) * 1024
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_queries(models: list[WordModel], kept: list[str], q: int) -> list[bytes]:
    """2 KB texts in equal thirds: new (matching nothing), carrying a re-cased 300-character passage of a
    registered work, exact copies of registered works; half English, half Chinese."""
    rng = np.random.default_rng(SEED + 2)
    out: list[str] = []
    for i in range(q // 3):
        model = models[i % len(models)]
        out.append(cut(model.generate(rng, 1, model.words_for(2048) + 2)[0], 2048))
    for i in range(q // 3):
        model = models[i % len(models)]
        src = kept[int(rng.integers(len(kept)))]
        a = int(rng.integers(0, max(1, len(src) - 320)))
        passage = src[a : a + 300]
        filler = cut(model.generate(rng, 1, model.words_for(1700) + 2)[0], 1700)
        half = len(filler) // 2
        out.append(filler[:half] + "\n" + textwrap.fill(passage.upper(), 50) + "\n" + filler[half:])
    out += [kept[int(i)] for i in rng.integers(0, len(kept), q - 2 * (q // 3))]
    return [t.encode() for t in out]


def image_queries(seeds: np.ndarray, q: int) -> list[bytes]:
    rng = np.random.default_rng(SEED + 3)
    clean = [encode(field_image(np.random.default_rng(10**12 + k), 512)) for k in range(q // 2)]
    copies = [
        encode(
            field_image(np.random.default_rng(int(s)), 64).resize((512, 512), Image.Resampling.BICUBIC),
            "JPEG",
            quality=80,
        )
        for s in rng.choice(seeds, q - q // 2)
    ]
    return clean + copies


def candidate_rate(ca: Copyalign, queries: list[bytes]) -> dict[str, float]:
    """Indexed PDQ hashes covered per millisecond by the candidate search alone (every live segment)."""
    segments = [seg for shard in ca.matching.index.shards for seg in shard.live()]
    hashes = sum(int(seg.arrays["pdq"].shape[0]) for seg in segments)
    radius = ca.policy.matching.pdq_max_distance
    prepared = [image_query(Image.open(io.BytesIO(d))) for d in queries]

    def search(q: np.ndarray) -> int:
        return sum(int(seg.image_candidates(q, radius)[0].size) for seg in segments)

    times, _ = timed(search, prepared)
    med = float(np.median(times)) * 1000
    return {
        "indexed_hashes": hashes,
        "segments": len(segments),
        "search_p50_ms": round(med, 4),
        "hashes_per_ms": round(hashes / med) if med > 0 else 0,
    }


def over_http(ca: Copyalign, key: str, texts: list[bytes], images: list[bytes]) -> dict[str, dict[str, float]]:
    import httpx
    import uvicorn

    from copyalign.server import create_app

    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(ca, checkpoints=False), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {key}"}) as client:

            def post_text(d: bytes) -> int:
                return client.post("/v1/guard/output", json={"text": d.decode(), "kind": "text"}).status_code

            def post_image(d: bytes) -> int:
                body = {"content_base64": base64.b64encode(d).decode(), "kind": "image"}
                return client.post("/v1/guard/output", json=body).status_code

            for d in texts[:5]:
                post_text(d)
            for d in images[:5]:
                post_image(d)
            text_t, codes_t = timed(post_text, texts)
            image_t, codes_i = timed(post_image, images)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
    assert set(codes_t) == {200} and set(codes_i) == {200}, (set(codes_t), set(codes_i))
    return {"text_2kb": pct(text_t), "image_512": pct(image_t)}


def profiled(path: Path | None, fn: Callable[[], tuple[int, float]]) -> tuple[int, float]:
    if path is None:
        return fn()
    prof = cProfile.Profile()
    out = prof.runcall(fn)
    prof.dump_stats(str(path))
    pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--works", type=int, default=FULL, help="text works (and images, unless --images)")
    ap.add_argument("--images", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seeds", type=Path, default=SEEDS)
    ap.add_argument("--workdir", type=Path, help="keep the data folder (blobs, index) here")
    ap.add_argument(
        "--rebuild",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time building the whole index again from the registry (MatchService.rebuild)",
    )
    ap.add_argument("--profile", type=Path, help="write a cProfile of the registration here")
    ap.add_argument(
        "--guard-profile",
        type=Path,
        help="after the timed guard checks, run them again under cProfile and write the profile here (the timed "
        "figures are not profiled)",
    )
    ap.add_argument("--out", type=Path, help="results JSON (default: results/registry_scale.json at full size)")
    args = ap.parse_args()
    n_images = args.works if args.images is None else args.images
    if n_images < 1 or args.works < 1:
        ap.error("--works and --images must be at least 1: the guard's text and image checks are timed on them")
    out = args.out or (Path(__file__).parent / "results" / "registry_scale.json" if args.works >= FULL else None)

    zh, zh_source = chinese_text(args.seeds)
    models = [WordModel.from_text(shakespeare(), "bigram"), WordModel.from_text(zh, "bigram", chinese=True)]
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="registry-scale-"))
    with fresh_database("postgresql", tmp) as url:
        settings = Settings(database_url=url, data_dir=str(tmp / "data"), blob_store="pack", workers=args.workers)
        ca = connect(settings)
        operator = ca.parties.create(None, name="Operator", role="operator")
        op = ca.parties.authenticate(ca.parties.issue_key(None, operator.id).secret)
        holder = ca.parties.create(op, name="Publisher", role="rights_holder").id
        provider = ca.parties.create(op, name="Provider", role="provider")
        key = ca.parties.issue_key(op, provider.id).secret
        actor = ca.parties.authenticate(key)

        # -- registration ----------------------------------------------------------------------------------
        kept: list[str] = []
        seeds: list[np.ndarray] = []
        generate_s = 0.0

        def text_items() -> Iterator[list[WorkInput]]:
            nonlocal generate_s
            it = text_batches(models, args.works, args.batch, keep_every=max(1, args.works // 20_000))
            done = 0
            while True:
                t0 = time.perf_counter()
                try:
                    texts, sample = next(it)
                except StopIteration:
                    return
                kept.extend(sample)
                items = [WorkInput(data=t.encode(), title=f"text {done + j}", kind="text") for j, t in enumerate(texts)]
                done += len(texts)
                generate_s += time.perf_counter() - t0
                yield items

        def image_items() -> Iterator[list[WorkInput]]:
            nonlocal generate_s
            it = image_batches(n_images, args.batch)
            done = 0
            while True:
                t0 = time.perf_counter()
                try:
                    data, part = next(it)
                except StopIteration:
                    return
                seeds.append(part)
                items = [WorkInput(data=d, title=f"image {done + j}", kind="image") for j, d in enumerate(data)]
                done += len(data)
                generate_s += time.perf_counter() - t0
                yield items

        def both() -> tuple[int, float]:
            nt, st = register(ca, op, holder, text_items(), args.workers)
            print(f"texts: {nt} in {st:.1f} s = {nt / st:.0f} works/s", flush=True)
            ni, si = register(ca, op, holder, image_items(), args.workers)
            print(f"images: {ni} in {si:.1f} s = {ni / si:.0f} works/s", flush=True)
            both.split = {"texts": (nt, st), "images": (ni, si)}  # type: ignore[attr-defined]
            return nt + ni, st + si

        cpu0 = cpu_seconds()
        registered, register_s = profiled(args.profile, both)
        register_cpu = cpu_seconds() - cpu0
        split = both.split  # type: ignore[attr-defined]
        t0 = time.perf_counter()
        ca.matching.refresh()
        index_s = time.perf_counter() - t0
        rebuild_s = None
        if args.rebuild:
            t0 = time.perf_counter()
            assert ca.matching.rebuild() == registered
            rebuild_s = time.perf_counter() - t0
        print(
            f"registered {registered} in {register_s:.1f} s ({register_cpu / max(1, registered) * 1000:.2f} ms of CPU "
            f"a work); index after the last batch {index_s:.1f} s, rebuilt in {rebuild_s or 0:.1f} s",
            flush=True,
        )

        # -- disk and memory ------------------------------------------------------------------------------
        disk = {
            "postgresql_bytes": schema_bytes(ca),
            "blob_bytes": du(settings.blob_dir),
            "index_bytes": du(settings.index_dir),
        }
        all_seeds = np.concatenate(seeds) if seeds else np.empty(0, dtype=np.int64)

        # -- the guard ------------------------------------------------------------------------------------
        tq = text_queries(models, kept, args.queries)
        iq = image_queries(all_seeds, args.queries)
        for d in tq[:5] + iq[:5]:  # warm-up: statements compiled, index pages mapped
            ca.guard.check_output(actor, d)
        # First pass: right after registration, with whatever of the index the page cache kept (at 2 x 10^6
        # works the index outgrew it: the first pass faults pages in from disk). Second pass: the same queries
        # again, what a serving process that has warmed up answers; both are reported.
        first_text = timed(lambda d: ca.guard.check_output(actor, d, kind="text"), tq)[0]
        first_image = timed(lambda d: ca.guard.check_output(actor, d, kind="image"), iq)[0]
        text_t, text_v = timed(lambda d: ca.guard.check_output(actor, d, kind="text"), tq)
        image_t, image_v = timed(lambda d: ca.guard.check_output(actor, d, kind="image"), iq)
        third, half = len(tq) // 3, len(iq) // 2
        decisions = {
            "text_clean_allowed": sum(v.decision.value == "allow" for v in text_v[:third]),
            "text_passage_blocked": sum(v.decision.value == "block" for v in text_v[third : 2 * third]),
            "text_copy_blocked": sum(v.decision.value == "block" for v in text_v[2 * third :]),
            "image_clean_allowed": sum(v.decision.value == "allow" for v in image_v[:half]),
            "image_copy_blocked": sum(v.decision.value == "block" for v in image_v[half:]),
        }
        memory = rss()
        candidates = candidate_rate(ca, iq)
        in_process = {
            "text_2kb": pct(text_t),
            "image_512": pct(image_t),
            "first_pass": {"text_2kb": pct(first_text), "image_512": pct(first_image)},
            # which queries make the tail: new texts, texts with a passage of a work, whole copies; new images, copies
            "by_query": {
                "text_new": pct(text_t[:third]),
                "text_passage": pct(text_t[third : 2 * third]),
                "text_copy": pct(text_t[2 * third :]),
                "image_new": pct(image_t[:half]),
                "image_copy": pct(image_t[half:]),
            },
        }
        if args.guard_profile is not None:
            prof = cProfile.Profile()
            prof.runcall(lambda: [ca.guard.check_output(actor, d) for d in tq + iq])
            prof.dump_stats(str(args.guard_profile))
        print("in process", in_process, decisions, candidates, flush=True)
        http = over_http(ca, key, tq, iq)
        print("http", http, flush=True)
        ca.close()

    works = registered or 1
    result = {
        "benchmark": "registry_scale",
        "machine": machine_info(("copyalign", "sqlalchemy", "psycopg", "numpy", "pdqhash", "fastapi", "uvicorn")),
        "texts": args.works,
        "images": n_images,
        "text_bytes": "500-2048, half English (Shakespeare bigram), half Chinese (" + zh_source + ")",
        "workers": args.workers,
        "batch": args.batch,
        "backend": "postgresql",
        "blob_store": "pack",
        "registration": {
            "works": registered,
            "seconds": round(register_s, 1),
            "works_per_s": round(registered / register_s, 1),
            "texts_per_s": round(split["texts"][0] / split["texts"][1], 1) if split["texts"][1] else None,
            "images_per_s": round(split["images"][0] / split["images"][1], 1) if split["images"][1] else None,
            "cpu_ms_per_work": round(register_cpu / works * 1000, 3),
            "generating_works_s": round(generate_s, 1),
        },
        "index_after_last_batch_s": round(index_s, 1),
        "index_rebuild_s": None if rebuild_s is None else round(rebuild_s, 1),
        "disk": {**disk, "bytes_per_work": round(sum(disk.values()) / works, 1)},
        "memory": {**memory, "rss_bytes_per_work": round(memory["rss_bytes"] / works, 1)},
        "guard_in_process": in_process,
        "guard_http": http,
        "image_candidates": candidates,
        "decisions": decisions,
        "queries": {"texts": len(tq), "images": len(iq)},
        "targets": TARGETS,
    }
    print(json.dumps(result, indent=2))
    if out is not None:
        out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
