"""Semantic matching quality: how well passage embeddings (all-MiniLM-L6-v2, the ``ml`` extra) find
rewritten copies that the fingerprints miss, and how often they match unrelated text of the same genre.

The corpora and the split are those of ``matching_quality.py`` (Shakespeare's scenes of alternate plays
registered, the others negatives; the English seed papers in ~3 KB works, alternately registered). The
Chinese seed is left out: all-MiniLM-L6-v2 is an English model. Each 300-600 character passage is
rewritten harder than the fingerprint evaluation does: 20 % and 35 % of its words replaced by words of
other texts, or its sentences shuffled. The semantic engine (``MatchService._semantic_text``) is asked
alone, with a low threshold, and recall and false matches are then counted at each candidate threshold,
so the table shows the trade-off around a profile's ``matching.semantic_min_similarity`` (which a profile
cannot set below 0.85, seed 003 §4.3's alert floor; the lower columns are measured to show what it costs).

    python benchmarks/matching_semantic.py [--passages 60] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.context import connect  # noqa: E402
from copyalign.core.matching.results import Evidence  # noqa: E402
from copyalign.policy import load_policy  # noqa: E402
from copyalign.services.registry.works import WorkInput  # noqa: E402
from copyalign.settings import Settings  # noqa: E402
from matching_quality import _cjk, contains, passage, seed_works, shakespeare_scenes, transform_text  # noqa: E402

TRANSFORMS = ("identity", "substitute5", "substitute20", "substitute35", "shuffle")
THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)


def rewrite(kind: str, text: str, rng: random.Random, vocab: list[str]) -> str:
    if kind in ("identity", "substitute5"):
        return transform_text(kind, text, rng, [], vocab)
    if kind == "shuffle":
        sentences = re.split(r"(?<=[.!?;:])\s+", text)
        rng.shuffle(sentences)
        return " ".join(sentences)
    share = {"substitute20": 0.2, "substitute35": 0.35}[kind]
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, round(len(words) * share))):
        words[i] = rng.choice(vocab)
    return " ".join(words)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passages", type=int, default=60, help="positive and negative passages per group")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "matching_semantic.json")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    scenes = shakespeare_scenes()
    plays = sorted({p for p, _, _ in scenes})
    registered = set(plays[::2])
    pos = [(t, x) for p, t, x in scenes if p in registered]
    neg = [(t, x) for p, t, x in scenes if p not in registered]
    english = [(t, x) for g, t, x in seed_works() if g == "seed-en" and not _cjk(x)]
    pos += english[::2]
    neg += english[1::2]
    policy = load_policy("cn")
    policy = policy.model_copy(
        update={"matching": policy.matching.model_copy(update={"semantic_min_similarity": min(THRESHOLDS)})}
    )
    report: dict[str, object] = {"machine": machine_info(("copyalign", "sentence-transformers", "torch", "usearch"))}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{tmp}/r.db",
            data_dir=f"{tmp}/d",
            index_refresh_seconds=3600,
            text_embedder="minilm",
        )
        ca = connect(settings, policy=policy)
        ca.parties.create(None, name="Evaluation CMO", role="operator")
        actor = ca.parties.operator()
        assert actor is not None
        views = ca.works.register_many(actor, [WorkInput(data=x.encode(), title=t, kind="text") for t, x in pos])
        ids = {v.title: v.id for v in views}
        texts = {ids[t]: x for t, x in pos}
        t0 = time.perf_counter()
        ca.matching.refresh()
        report["registered_works"] = len(pos)
        report["index_build_seconds_with_embeddings"] = round(time.perf_counter() - t0, 1)
        vocab = sorted({w for _, x in neg[:50] for w in re.findall(r"[A-Za-z]+", x)})
        groups = {
            "shakespeare": ([p for p in pos if "§" in p[0]], [n for n in neg if "§" in n[0]]),
            "seeds_en": ([p for p in pos if "#" in p[0]], [n for n in neg if "#" in n[0]]),
        }
        latencies: list[float] = []
        for group, (gpos, gneg) in groups.items():
            per: dict[str, dict[str, list[float]]] = {}
            samples = [(ids[t], x) for t, x in rng.choices(gpos, k=args.passages)]
            samples += [(None, x) for _, x in rng.choices(gneg, k=args.passages)]
            for kind in TRANSFORMS:
                own, other = [], []  # best score of the source work; best score of any wrong work
                for expected, source in samples:
                    base = passage(source, rng)
                    found: dict[str, Evidence] = {}
                    t1 = time.perf_counter()
                    ca.matching._semantic_text(rewrite(kind, base, rng, vocab), found)
                    latencies.append(time.perf_counter() - t1)
                    if expected is not None:
                        own.append(found[expected].score if expected in found else 0.0)
                    wrong = [ev.score for w, ev in found.items() if w != expected and not contains(texts[w], base)]
                    other.append(max(wrong, default=0.0))
                per[kind] = {"own": own, "other": other}
            report[group] = {
                kind: {
                    f"{t:.2f}": {
                        "recall": round(float(np.mean([s >= t for s in v["own"]])), 3),
                        "queries_with_false_match": round(float(np.mean([s >= t for s in v["other"]])), 3),
                    }
                    for t in THRESHOLDS
                }
                for kind, v in per.items()
            }
        report["query_ms_p50"] = round(float(np.percentile(latencies, 50)) * 1e3, 1)
        report["query_ms_p99"] = round(float(np.percentile(latencies, 99)) * 1e3, 1)
        ca.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for group in groups:
        print(group)
        for kind in TRANSFORMS:
            row = report[group][kind]  # type: ignore[index]
            cells = "  ".join(f"{t}: {r['recall']:.2f}/{r['queries_with_false_match']:.2f}" for t, r in row.items())
            print(f"  {kind:13} recall/false  {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
