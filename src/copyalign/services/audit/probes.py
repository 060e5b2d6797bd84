"""Extraction probes: does the model continue a registered work's prefix with the work's own words?

For each work, windows of ``prefix + suffix`` tokens (the model's tokens) every ``stride`` tokens, at most
``max_windows`` of them spread along the text. For each window:

* the greedy continuation of the prefix, ``suffix`` tokens long, scored against the true suffix:
  ``exact`` (k-extractable, Carlini et al. 2022), ``pythia`` (share of positions right, Biderman et al.
  2023), the longest common substring in words and in characters, ROUGE-L over words, and the longest
  passage of the *whole work* the continuation contains, by the matching engine's rules (``contained``
  when it has at least ``min_passage_words`` words; the engine chains runs of equal words across small
  gaps, so a copy with a word changed every few words is still contained); ``verbatim_words``, the longest
  run of consecutive words of the work it repeats with no gap at all (what a blocker of n-grams caps);
* ``log_pz``, the log-probability of the true suffix given the prefix (sampling at temperature 1), and
  whether it is ``(n, p)``-discoverable (Hayes et al. 2024; Cooper et al. 2025). Greedy extraction flips
  between checkpoints; ``p_z`` moves smoothly, so it is what a regression gate should also watch.

Defaults 50/50 follow Carlini et al. (2022); 32/32 compares with Pythia's published scores.

Example:
    >>> results = probe(lm, [WorkText("wrk_1", "Title", text)], ProbeConfig(prefix=32, suffix=32))  # doctest: +SKIP
    >>> results[0].summary()["extraction_rate"]  # doctest: +SKIP
    0.75
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from copyalign.core.audit import memorisation as mem
from copyalign.core.matching import textfp
from copyalign.errors import InvalidInputError
from copyalign.services.audit.model import LanguageModel, Processor

Progress = Callable[[int, int], None]  # (windows done, windows in all)


@dataclass(frozen=True)
class ProbeConfig:
    prefix: int = 50
    suffix: int = 50
    stride: int = 50
    max_windows: int = 64
    n: int = 1000
    p: float = 0.5
    min_passage_words: int = 12
    batch: int = 32

    def __post_init__(self) -> None:
        for name in ("prefix", "suffix", "stride", "max_windows", "n", "min_passage_words", "batch"):
            if getattr(self, name) < 1:
                raise InvalidInputError(f"{name} must be at least 1", field=name)
        if not 0 < self.p < 1:
            raise InvalidInputError("p must lie strictly between 0 and 1", field="p")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class WorkText:
    id: str
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Window:
    offset: int  # token position of the prefix in the work
    exact: bool
    pythia: float
    lcs_words: int
    lcs_chars: int
    rouge_l: float
    contained_words: int
    contained: bool
    log_pz: float | None = None
    discoverable: bool | None = None
    verbatim_words: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["pythia"] = round(self.pythia, 4)
        out["rouge_l"] = round(self.rouge_l, 4)
        if self.log_pz is not None:
            out["log_pz"] = round(self.log_pz, 4)
        return out


@dataclass
class WorkProbe:
    work: str
    title: str
    tokens: int
    windows: list[Window] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"work": self.work, "title": self.title, "tokens": self.tokens, **summarise(self.windows)}


def summarise(windows: Sequence[Window]) -> dict[str, Any]:
    """Rates and means over windows (an empty list gives zeros and ``None``s, never a division error)."""
    n = len(windows)

    def mean(values: Sequence[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    pz = [w.log_pz for w in windows if w.log_pz is not None]
    disc = [w.discoverable for w in windows if w.discoverable is not None]
    return {
        "windows": n,
        "extracted": sum(w.exact for w in windows),
        "extraction_rate": mean([float(w.exact) for w in windows]),
        "pythia_mean": mean([w.pythia for w in windows]),
        "pythia_max": round(max((w.pythia for w in windows), default=0.0), 4),
        "rouge_l_mean": mean([w.rouge_l for w in windows]),
        "lcs_words_max": max((w.lcs_words for w in windows), default=0),
        "lcs_chars_max": max((w.lcs_chars for w in windows), default=0),
        "lcs_chars_mean": mean([float(w.lcs_chars) for w in windows]),
        "contained_rate": mean([float(w.contained) for w in windows]),
        "verbatim_words_max": max((w.verbatim_words for w in windows), default=0),
        "log_pz_max": round(max(pz), 4) if pz else None,
        "log_pz_mean": mean(pz) if pz else None,
        "discoverable_rate": mean([float(d) for d in disc]) if disc else None,
    }


def offset_bins(windows: Sequence[tuple[int, Window]], stride: int) -> list[dict[str, Any]]:
    """Windows grouped by offset on a doubling scale (0, then stride x [1, 2), [2, 4), ...), with their
    rates: where in a work extraction happens (openings are more often memorised than the middle)."""
    bins: dict[int, list[Window]] = {}
    for offset, w in windows:
        k = 0 if offset < stride else 1 + int(math.log2(offset // stride))
        bins.setdefault(k, []).append(w)
    out = []
    for k in sorted(bins):
        lo = 0 if k == 0 else stride * (1 << (k - 1))
        hi = stride if k == 0 else stride * (1 << k)
        label = "0" if k == 0 else f"{lo}-{hi - 1}"
        out.append({"offsets": label, **summarise(bins[k])})
    return out


def _plain(text: str) -> str:
    return text


@dataclass(frozen=True)
class _Reference:
    """A work's fingerprint with its k-grams sorted once, for the gap-free runs of every window."""

    fp: textfp.TextFingerprint
    order: npt.NDArray[np.int64]
    sorted_kgrams: npt.NDArray[np.uint64]

    @classmethod
    def of(cls, text: str) -> _Reference:
        fp = textfp.text_fingerprint(text)
        order = np.argsort(fp.kgrams, kind="stable")
        return cls(fp, order, fp.kgrams[order])


def verbatim_run(candidate: str, reference: str | _Reference, *, per_kgram: int = 64) -> int:
    """The longest run of consecutive words (the matching engine's) of ``candidate`` that ``reference`` has
    consecutively too: 0 under ``textfp.K`` words. Unlike the contained passage, no gap is bridged.

    ``K`` consecutive words shared make a shared k-gram (64-bit hashes), and a run of ``L`` words is
    ``L - K + 1`` shared k-grams on one diagonal (candidate position minus reference position).

    Example:
        >>> verbatim_run("so it was the best of times, it was the worst", "It was the best of times, it was the age")
        9
    """
    ref = _Reference.of(reference) if isinstance(reference, str) else reference
    cand = textfp.text_fingerprint(candidate)
    if cand.size < textfp.K or ref.fp.size < textfp.K:
        return 0
    lo = np.searchsorted(ref.sorted_kgrams, cand.kgrams, side="left")
    counts = np.minimum(np.searchsorted(ref.sorted_kgrams, cand.kgrams, side="right") - lo, per_kgram)
    if not counts.any():
        return 0
    q = np.repeat(np.arange(cand.kgrams.size, dtype=np.int64), counts)
    within = np.arange(q.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    diag = q - ref.order[np.repeat(lo, counts) + within]
    at = np.lexsort((q, diag))
    q, diag = q[at], diag[at]
    breaks = np.flatnonzero((np.diff(diag) != 0) | (np.diff(q) != 1)) + 1
    longest = int(np.diff(np.concatenate(([0], breaks, [q.size]))).max())
    return longest + textfp.K - 1


def probe(
    lm: LanguageModel,
    works: Sequence[WorkText],
    cfg: ProbeConfig,
    *,
    processors: Sequence[Processor] = (),
    transform: Callable[[str], str] | None = None,
    compare: Callable[[str], str] = _plain,
    probabilistic: bool = True,
    progress: Progress | None = None,
    chunk: int = 256,
) -> list[WorkProbe]:
    """Probe every work; a work with fewer than ``prefix + suffix`` tokens gets no windows (the caller
    decides whether that is an error). ``transform`` rewrites each prefix's text before it is given to the
    model (style-transfer probes); ``compare`` normalises both texts before they are compared."""
    if cfg.prefix + cfg.suffix > lm.context:
        raise InvalidInputError(
            f"windows of {cfg.prefix}+{cfg.suffix} tokens do not fit the model's context of {lm.context}",
            field="prefix",
        )
    ids = lm.encode_many([w.text for w in works])
    results = [WorkProbe(w.id, w.title, len(t)) for w, t in zip(works, ids, strict=True)]
    todo: list[tuple[int, int]] = []  # (work index, offset)
    for i, t in enumerate(ids):
        offsets = mem.window_offsets(len(t), cfg.prefix, cfg.suffix, stride=cfg.stride, limit=cfg.max_windows)
        todo += [(i, o) for o in offsets]
    refs: dict[int, _Reference] = {}
    done = 0
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        prefixes = [ids[i][o : o + cfg.prefix] for i, o in part]
        truths = [ids[i][o + cfg.prefix : o + cfg.prefix + cfg.suffix] for i, o in part]
        prompts = prefixes
        if transform is not None:
            room = lm.context - cfg.suffix
            prompts = [lm.encode(transform(lm.decode(p)))[-room:] for p in prefixes]
        generated = lm.greedy(prompts, cfg.suffix, processors=processors, batch=cfg.batch)
        pzs: list[float | None] = [None] * len(part)
        if probabilistic:
            full = [ids[i][o : o + cfg.prefix + cfg.suffix] for i, o in part]
            scored = lm.token_logprobs(full, last=cfg.suffix, batch=cfg.batch)
            pzs = [float(s.logprobs.sum()) for s in scored]
        for (i, o), gen, truth, log_pz in zip(part, generated, truths, pzs, strict=True):
            if i not in refs:
                refs[i] = _Reference.of(compare(works[i].text))
            gen_text, truth_text = compare(lm.decode(gen)), compare(lm.decode(truth))
            gen_words, truth_words = mem.words(gen_text), mem.words(truth_text)
            contained = mem.contained_passage(gen_text, refs[i].fp).tokens
            exact = gen == truth if transform is None else gen_text == truth_text
            results[i].windows.append(
                Window(
                    offset=o,
                    exact=bool(exact),
                    pythia=mem.pythia_score(gen, truth),
                    lcs_words=mem.longest_common_substring(gen_words, truth_words),
                    lcs_chars=mem.longest_common_substring(gen_text, truth_text),
                    rouge_l=mem.rouge_l(gen_words, truth_words),
                    contained_words=contained,
                    contained=contained >= cfg.min_passage_words,
                    log_pz=log_pz,
                    discoverable=None if log_pz is None else mem.discoverable(log_pz, n=cfg.n, p=cfg.p),
                    verbatim_words=verbatim_run(gen_text, refs[i]),
                )
            )
        done += len(part)
        if progress is not None:
            progress(done, len(todo))
    return results


def aggregate(results: Sequence[WorkProbe], cfg: ProbeConfig) -> dict[str, Any]:
    """Over all windows of all probed works, with the per-offset breakdown and the count of works that gave
    up at least one window verbatim."""
    windows = [w for r in results for w in r.windows]
    probed = [r for r in results if r.windows]
    return {
        "works": len(probed),
        "works_extracted": sum(1 for r in probed if any(w.exact for w in r.windows)),
        "works_contained": sum(1 for r in probed if any(w.contained for w in r.windows)),
        **summarise(windows),
        "by_offset": offset_bins([(w.offset, w) for r in results for w in r.windows], cfg.stride),
    }


__all__ = [
    "ProbeConfig",
    "Window",
    "WorkProbe",
    "WorkText",
    "aggregate",
    "offset_bins",
    "probe",
    "summarise",
    "verbatim_run",
]
