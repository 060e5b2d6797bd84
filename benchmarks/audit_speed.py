"""Model audit speed: probes per second and the decoding-time blocker's cost per generated token, on the tiny
GPT-2 the tests train (2 layers, width 128, ~100 KB of standard-library docstrings, a work planted 64 times).

Measured, each the best of ``--repeat`` runs (the machine is shared):

* training the tiny model (seconds), twice, and whether the two weight files are bit-identical;
* extraction probes, 50/50 and 32/32 windows over ``--works`` background docstrings (at most 8 windows
  each): greedy continuations alone (our cached loop, and transformers' ``generate`` on the same batches,
  the peer a user would otherwise call), ``p_z`` alone (one forward pass per window), and the whole probe
  with every score (windows/s); and whether two probe runs give identical windows;
* the MemFree blockers: greedy decoding of 50 tokens at batch 1 and batch 32 with no processor, with
  MemFree over the token 8-grams of the training corpus (exact set and Bloom filter), over 10^6 random
  token 8-grams, with the word-level MemFree (``WordMemFree``, top 50 candidates checked) over the
  normalised word 8-grams of the same corpus and over 10^6 random word 8-grams, and, as the peer,
  transformers' ``NoRepeatNGramLogitsProcessor`` (another n-gram rule, within the output); the overhead
  per decoding step (one token for each sequence of the batch) and per generated token, in milliseconds and
  in per cent of the step without a processor, and the word-level blocker's overhead as a ratio to the
  token-level one's on the same store, in the same run. Overhead is the CPU time of the decoding thread
  spent inside the processor (``time.thread_time``), the least over ``--repeat`` runs interleaved with the
  others: on a shared machine the difference of two wall times is mostly noise. The prompts are openings of
  the corpus texts, which the model partly memorised: over the corpus stores the blockers are at work (the
  word-level one decodes and checks candidates one by one there); over the random stores nothing protected
  is being said, the common case for a served model;
* canary exposure: one canary ranked exactly among 1,000 secrets, one estimated from 4,096 samples.

    python benchmarks/audit_speed.py [--device cpu|cuda] [--threads 1] [--works 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.services.audit.blocker import MemFree, NgramBlocklist  # noqa: E402
from copyalign.services.audit.canaries import exposures, make_canaries  # noqa: E402
from copyalign.services.audit.model import LanguageModel, deterministic, load, model_digest  # noqa: E402
from copyalign.services.audit.probes import ProbeConfig, WorkText, probe  # noqa: E402
from copyalign.services.audit.tinylm import TinyLMConfig, planted_corpus, train_tiny_lm  # noqa: E402
from copyalign.services.audit.wordblock import WordBlocklist, WordMemFree  # noqa: E402


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def probe_speed(lm: LanguageModel, works: list[WorkText], prefix: int, suffix: int, repeat: int) -> dict[str, Any]:
    import torch

    cfg = ProbeConfig(prefix=prefix, suffix=suffix, stride=suffix, max_windows=8, batch=32)
    ids = lm.encode_many([w.text for w in works])
    windows = [
        t[o : o + prefix + suffix]
        for t in ids
        for o in range(0, len(t) - prefix - suffix + 1, suffix)[: cfg.max_windows]
    ]
    prefixes = [w[:prefix] for w in windows]
    n = len(windows)

    def hf_generate() -> None:
        with torch.inference_mode():
            for i in range(0, n, cfg.batch):
                batch = torch.tensor(prefixes[i : i + cfg.batch], device=lm.device)
                lm.model.generate(
                    batch,
                    attention_mask=torch.ones_like(batch),
                    max_new_tokens=suffix,
                    min_new_tokens=suffix,
                    do_sample=False,
                    pad_token_id=lm.tokenizer.eos_token_id,
                )

    t_greedy, _ = best(lambda: lm.greedy(prefixes, suffix, batch=cfg.batch), repeat)
    t_hf, _ = best(hf_generate, repeat)
    t_pz, _ = best(lambda: lm.token_logprobs(windows, batch=cfg.batch), repeat)
    t_probe, first = best(lambda: probe(lm, works, cfg), repeat)
    again = probe(lm, works, cfg)
    identical = [r.windows for r in first] == [r.windows for r in again]
    return {
        "windows": n,
        "greedy_windows_per_s": round(n / t_greedy, 1),
        "greedy_tokens_per_s": round(n * suffix / t_greedy, 1),
        "hf_generate_windows_per_s": round(n / t_hf, 1),
        "greedy_vs_hf_generate": round(t_hf / t_greedy, 2),
        "pz_windows_per_s": round(n / t_pz, 1),
        "probe_windows_per_s": round(n / t_probe, 1),
        "probe_seconds": round(t_probe, 3),
        "bit_identical": identical,
    }


def blocker_overhead(lm: LanguageModel, corpus_ids: list[list[int]], texts: list[str], repeat: int) -> dict[str, Any]:
    from transformers import NoRepeatNGramLogitsProcessor

    rng = np.random.default_rng(0)
    vocab = len(lm.tokenizer)
    words = np.array([f"w{i}x" for i in range(50_000)])
    random_texts = [" ".join(rng.choice(words, 15)) for _ in range(125_000)]  # 8 word 8-grams each
    stores: dict[str, NgramBlocklist | WordBlocklist] = {
        "corpus_set": NgramBlocklist.build(corpus_ids, n=8, kind="set"),
        "corpus_bloom": NgramBlocklist.build(corpus_ids, n=8, kind="bloom"),
        "random_1e6_set": NgramBlocklist.build(rng.integers(0, vocab, (125_000, 15)).tolist(), n=8, kind="set"),
        "random_1e6_bloom": NgramBlocklist.build(rng.integers(0, vocab, (125_000, 15)).tolist(), n=8, kind="bloom"),
        "words_corpus_set": WordBlocklist.build(texts, n=8, kind="set"),
        "words_corpus_bloom": WordBlocklist.build(texts, n=8, kind="bloom"),
        "words_random_1e6_set": WordBlocklist.build(random_texts, n=8, kind="set"),
        "words_random_1e6_bloom": WordBlocklist.build(random_texts, n=8, kind="bloom"),
    }
    out: dict[str, Any] = {
        "n": 8,
        "word_top_k": 50,
        "stores": {k: {"ngrams": v.ngrams, "bytes": v.nbytes} for k, v in stores.items()},
    }
    steps = 50
    starts = [ids[:50] for ids in corpus_ids if len(ids) >= 50]
    for batch in (1, 32):
        prefixes = starts[:batch]
        processors: dict[str, Any] = {
            k: WordMemFree(v, lm.tokenizer, top_k=50) if isinstance(v, WordBlocklist) else MemFree(v)
            for k, v in stores.items()
        }
        processors["peer_no_repeat_ngram"] = NoRepeatNGramLogitsProcessor(8)
        timed = {k: _Timed(v) for k, v in processors.items()}
        base = float("inf")
        inside = dict.fromkeys(timed, float("inf"))
        with_proc = dict.fromkeys(timed, float("inf"))
        for _ in range(repeat):  # interleaved, so that a busy spell of the machine hits every row alike
            t = time.thread_time()
            lm.greedy(prefixes, steps, batch=len(prefixes))
            base = min(base, time.thread_time() - t)
            for name, proc in timed.items():
                proc.seconds = 0.0
                t = time.thread_time()
                lm.greedy(prefixes, steps, processors=[proc], batch=len(prefixes))
                with_proc[name] = min(with_proc[name], time.thread_time() - t)
                inside[name] = min(inside[name], proc.seconds)
        row: dict[str, Any] = {"none_ms_per_step": round(base / steps * 1000, 4)}
        for name, proc in processors.items():
            extra = inside[name] / steps * 1000
            row[name] = {
                "ms_per_step": round(with_proc[name] / steps * 1000, 4),
                "overhead_ms_per_step": round(extra, 4),
                "overhead_ms_per_token": round(extra / batch, 4),
                "overhead_pct": round(100 * inside[name] / base, 1),
            }
            if isinstance(proc, WordMemFree):  # candidates decoded and checked one by one, per generated token
                row[name]["checked_per_token"] = round(proc.checked / (repeat * steps * batch), 3)
        # the word-level blocker beside the token-level one on the same store, in the same run
        row["words_vs_tokens_overhead"] = {
            store: round(inside[f"words_{store}"] / inside[store], 2)
            for store in ("corpus_set", "corpus_bloom", "random_1e6_set", "random_1e6_bloom")
        }
        out[f"batch_{batch}"] = row
    return out


class _Timed:
    """A logits processor, and the CPU time of this thread spent inside it: the blocker's own cost, which the
    other work of a shared machine does not inflate as it does wall time."""

    def __init__(self, proc: Any) -> None:
        self.proc, self.seconds = proc, 0.0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        t = time.thread_time()
        out = self.proc(input_ids, scores)
        self.seconds += time.thread_time() - t
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--works", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "audit_speed.json")
    args = ap.parse_args()

    import torch

    tmp = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    canaries = make_canaries(b"bench", set_id="bench", buckets=(0, 1, 4, 16, 64), per_bucket=2, length=3)
    corpus = planted_corpus(repeats=64, planted=[(c.text, c.repetitions) for c in canaries.canaries])
    t = time.perf_counter()
    path = train_tiny_lm(corpus.documents, tmp / "a", TinyLMConfig())
    train_s = time.perf_counter() - t
    twin = train_tiny_lm(corpus.documents, tmp / "b", TinyLMConfig())
    result: dict[str, Any] = {
        "benchmark": "audit_speed",
        "command": "python benchmarks/audit_speed.py " + " ".join(sys.argv[1:]),
        "machine": machine_info(("copyalign", "torch", "transformers", "numpy")),
        "device": args.device if args.device == "cpu" else f"{args.device}: {torch.cuda.get_device_name()}",
        "threads": args.threads,
        "model": {**json.loads((path / "training.json").read_text())["config"], "train_seconds": round(train_s, 2)},
        "training_bit_identical": model_digest(path) == model_digest(twin),
    }
    with deterministic(args.threads):
        lm = load(path, device=args.device)
        works = [WorkText(f"w{i}", f"doc {i}", d) for i, d in enumerate(corpus.background[: args.works])]
        result["probes_50_50"] = probe_speed(lm, works, 50, 50, args.repeat)
        result["probes_32_32"] = probe_speed(lm, works, 32, 32, args.repeat)
        texts = corpus.background + [corpus.repeated]
        result["blocker"] = blocker_overhead(lm, lm.encode_many(texts), texts, args.repeat)
        exact = canaries.canaries[-1:]
        one = type(canaries)(canaries.set_id, canaries.format, canaries.alphabet, canaries.length, tuple(exact))
        t_exact, _ = best(lambda: exposures(lm, one), args.repeat)
        big = make_canaries(b"bench", set_id="big", buckets=(1,), per_bucket=1, length=9)
        t_sampled, _ = best(lambda: exposures(lm, big, samples=4096), args.repeat)
        result["canary_exposure_seconds"] = {"exact_1000": round(t_exact, 3), "sampled_4096": round(t_sampled, 3)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
