"""The arithmetic of a memorisation audit: extraction scores, exposure, membership statistics, the gate.

Everything a model audit computes once the model has spoken, and nothing that needs the model: the scores
here take token ids, texts and log-probabilities, so they are tested without torch and reused by the
service, the report and the regression gate alike.

* **Extraction** (Carlini et al. 2021, 2022; Biderman et al. 2023): a window of a work is a prefix of ``P``
  tokens and the true suffix of ``S`` tokens; the model's greedy continuation of the prefix is compared
  with the suffix: exact match (*k-extractable*), Pythia's per-token score (the share of positions that
  agree), the longest common substring in words and in characters, ROUGE-L (F1 over words), and the
  matching engine's contained passage (:func:`contained_passage`, the same verified passages the corpus
  scanner reports).
* **Probabilistic extraction** (Hayes et al. 2024; Cooper et al. 2025): ``p_z``, the probability of the
  whole suffix under the model, and *(n, p)-discoverability*: the suffix is drawn at least once in ``n``
  samples with probability at least ``p``, i.e. ``1 - (1 - p_z) ** n >= p``.
* **Exposure** (Carlini et al. 2019, *The Secret Sharer*): ``log2 |R| - log2 rank`` of a canary among all
  ``|R|`` candidate secrets; for large spaces it is estimated from a sample of candidates.
* **Membership** (Shi et al. 2024 Min-K%; Zhang et al. 2025 Min-K%++; Carlini et al. 2021 zlib ratio):
  per-text scores where higher means "more likely seen in training", ROC AUC, TPR at a low FPR with
  bootstrap intervals, and a *blind* baseline that never looks at the model (Das et al. 2024): when the
  texts themselves tell members from non-members, a membership score proves nothing.
* **Gate**: the comparison of a run with a baseline that a developer's CI fails on.

Example:
    >>> pythia_score([1, 2, 3, 9], [1, 2, 3, 4])
    0.75
    >>> round(exposure_from_rank(1, 10_000), 2)
    13.29
    >>> discoverable(math.log(0.001), n=1000, p=0.5)
    True
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from copyalign.core.matching import textfp
from copyalign.core.matching.passages import passages
from copyalign.errors import InvalidInputError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
ArrayLike = Sequence[float] | npt.NDArray[Any]

# --- windows and samples -------------------------------------------------------------------------------


def window_offsets(n_tokens: int, prefix: int, suffix: int, *, stride: int, limit: int | None = None) -> list[int]:
    """Start offsets of the ``prefix + suffix`` windows of a text of ``n_tokens`` tokens.

    Windows start every ``stride`` tokens; when there are more than ``limit``, ``limit`` of them are kept,
    evenly spread over the text (first and last included), so a long book is probed along its whole length.

    Example:
        >>> window_offsets(250, 50, 50, stride=50)
        [0, 50, 100, 150]
        >>> window_offsets(10_000, 50, 50, stride=50, limit=3)
        [0, 4950, 9900]
    """
    if prefix < 1 or suffix < 1 or stride < 1:
        raise InvalidInputError("prefix, suffix and stride must be at least one token", field="prefix")
    last = n_tokens - prefix - suffix
    if last < 0:
        return []
    offsets = list(range(0, last + 1, stride))
    if limit is not None and len(offsets) > limit:
        if limit == 1:
            return [0]
        picks = np.linspace(0, len(offsets) - 1, limit).round().astype(int)
        offsets = [offsets[i] for i in dict.fromkeys(picks.tolist())]
    return offsets


def stratified_sample(items: Sequence[tuple[str, str]], n: int, *, seed: str) -> list[str]:
    """``n`` item ids drawn from ``(id, stratum)`` pairs, each stratum in proportion to its size.

    Deterministic for a given ``seed`` and independent of input order: within a stratum items are ranked
    by ``sha256(seed, id)``; seats go to strata by largest remainder, so every stratum with at least half a
    seat's share is represented. Returns ids sorted.

    Example:
        >>> stratified_sample([("a", "x"), ("b", "x"), ("c", "y"), ("d", "y")], 2, seed="s") != []
        True
    """
    if n < 1:
        raise InvalidInputError("a sample needs at least one work", field="works")
    if n >= len(items):
        return sorted(i for i, _ in items)
    strata: dict[str, list[str]] = {}
    for item, stratum in items:
        strata.setdefault(stratum, []).append(item)
    total = len(items)
    quotas = {s: n * len(v) / total for s, v in strata.items()}
    seats = {s: int(q) for s, q in quotas.items()}
    by_remainder = sorted(strata, key=lambda s: (-(quotas[s] - seats[s]), s))
    for s in by_remainder[: n - sum(seats.values())]:
        seats[s] += 1
    out: list[str] = []
    for s, members in strata.items():
        ranked = sorted(members, key=lambda i: hashlib.sha256(f"{seed}\0{i}".encode()).digest())
        out.extend(ranked[: seats[s]])
    return sorted(out)


# --- extraction scores ---------------------------------------------------------------------------------


def exact_match(generated: Sequence[int], truth: Sequence[int]) -> bool:
    """k-extractability of one window (Carlini et al. 2022): the greedy continuation *is* the suffix."""
    return len(generated) == len(truth) and list(generated) == list(truth)


def pythia_score(generated: Sequence[int], truth: Sequence[int]) -> float:
    """Biderman et al. 2023's memorisation score: the share of suffix positions the continuation gets right."""
    if not truth:
        raise InvalidInputError("the true suffix is empty", field="suffix")
    return sum(1 for g, t in zip(generated, truth, strict=False) if g == t) / len(truth)


def _codes(a: Sequence[Hashable], b: Sequence[Hashable]) -> tuple[I64, I64]:
    vocab: dict[Hashable, int] = {}
    ca = np.fromiter((vocab.setdefault(x, len(vocab)) for x in a), dtype=np.int64, count=len(a))
    cb = np.fromiter((vocab.setdefault(x, len(vocab)) for x in b), dtype=np.int64, count=len(b))
    return ca, cb


def longest_common_substring(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest contiguous run shared by ``a`` and ``b`` (characters of two strings, or words).

    Example:
        >>> longest_common_substring("the cat sat", "a cat sat down")
        8
    """
    if not a or not b:
        return 0
    ca, cb = _codes(a, b)
    prev = np.zeros(cb.size + 1, dtype=np.int64)
    best = 0
    for x in ca.tolist():
        cur = np.zeros_like(prev)
        cur[1:] = np.where(cb == x, prev[:-1] + 1, 0)
        best = max(best, int(cur.max()))
        prev = cur
    return best


def longest_common_subsequence(a: Sequence[Hashable], b: Sequence[Hashable]) -> int:
    """Length of the longest (not necessarily contiguous) common subsequence, one numpy pass per item of ``a``.

    A row of the classic table is the running maximum of ``max(row_above[j], row_above[j-1] + match)``.
    """
    if not a or not b:
        return 0
    ca, cb = _codes(a, b)
    prev = np.zeros(cb.size + 1, dtype=np.int64)
    for x in ca.tolist():
        cand = prev.copy()
        cand[1:] = np.maximum(prev[1:], np.where(cb == x, prev[:-1] + 1, 0))
        prev = np.maximum.accumulate(cand)
    return int(prev[-1])


def words(text: str) -> list[str]:
    """The matching engine's tokens (NFKC, case-folded words; one per CJK character)."""
    return textfp.tokenize(text)[0]


def rouge_l(candidate: Sequence[str], reference: Sequence[str]) -> float:
    """ROUGE-L F1 (Lin 2004) of two word sequences: harmonic mean of LCS recall and precision."""
    if not candidate or not reference:
        return 0.0
    lcs = longest_common_subsequence(candidate, reference)
    if lcs == 0:
        return 0.0
    recall, precision = lcs / len(reference), lcs / len(candidate)
    return 2 * recall * precision / (recall + precision)


@dataclass(frozen=True, slots=True)
class Contained:
    """The longest verified passage of a reference text found in a candidate text."""

    tokens: int  # tokens equal in both texts within the passage (0: none)
    candidate: tuple[int, int]  # character offsets in the candidate, end exclusive
    reference: tuple[int, int]


NOT_CONTAINED = Contained(0, (0, 0), (0, 0))


def contained_passage(candidate: str, reference: textfp.TextFingerprint | str, *, max_gap: int = 10) -> Contained:
    """The matching engine's verdict on one candidate: its longest passage shared with ``reference``.

    The same algorithm as the registry's passage matches (k-gram hits verified token by token along their
    diagonal and chained across small gaps, :mod:`copyalign.core.matching.passages`), except that every k-gram is a
    hit rather than only the winnowed ones: the candidate is short and the reference is known.

    Example:
        >>> contained_passage("He said: it was the best of times, it was the worst of times.",
        ...                   "It was the best of times, it was the worst of times, it was the age").tokens
        12
    """
    ref = textfp.text_fingerprint(reference) if isinstance(reference, str) else reference
    cand = textfp.text_fingerprint(candidate)
    if cand.size < textfp.K or ref.size < textfp.K:
        return NOT_CONTAINED
    order = np.argsort(ref.kgrams, kind="stable")
    sorted_kg = ref.kgrams[order]
    lo = np.searchsorted(sorted_kg, cand.kgrams, side="left")
    hi = np.searchsorted(sorted_kg, cand.kgrams, side="right")
    counts = np.minimum(hi - lo, 16)  # a k-gram repeated more often than this is not what proves a copy
    if not counts.any():
        return NOT_CONTAINED
    qpos = np.repeat(np.arange(cand.kgrams.size, dtype=np.int64), counts)
    starts = np.repeat(lo, counts)
    within = np.arange(qpos.size, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    wpos = order[starts + within].astype(np.int64)
    found = passages(cand.token_hashes, ref.token_hashes, qpos, wpos, min_run=textfp.K, max_gap=max_gap)
    if not found:
        return NOT_CONTAINED
    best = max(found, key=lambda p: (p.matched, -p.query_start))
    return Contained(
        best.matched,
        (int(cand.starts[best.query_start]), int(cand.ends[best.query_end - 1])),
        (int(ref.starts[best.work_start]), int(ref.ends[best.work_end - 1])),
    )


# --- probabilistic extraction ---------------------------------------------------------------------------


def discoverable(log_pz: float, *, n: int, p: float) -> bool:
    """(n, p)-discoverability: at least one of ``n`` samples reproduces the suffix with probability >= ``p``.

    Computed in log space (``n * log1p(-p_z) <= log(1 - p)``) so that tiny ``p_z`` neither underflow to a
    wrong "yes" nor overflow.
    """
    if n < 1 or not 0 < p < 1:
        raise InvalidInputError("need n >= 1 and 0 < p < 1", field="p")
    if log_pz >= 0:
        return True
    pz = math.exp(log_pz)
    if pz == 0.0:
        return False
    return n * math.log1p(-pz) <= math.log1p(-p)


def samples_to_discover(log_pz: float, p: float) -> float:
    """How many samples it takes to draw the suffix at least once with probability ``p`` (may be ``inf``)."""
    pz = math.exp(log_pz) if log_pz < 0 else 1.0
    if pz >= 1.0:
        return 1.0
    if pz == 0.0:
        return math.inf
    return math.ceil(math.log1p(-p) / math.log1p(-pz))


# --- exposure -------------------------------------------------------------------------------------------


def exposure_from_rank(rank: int, space: int) -> float:
    """The Secret Sharer's exposure: ``log2 |R| - log2 rank``; ``log2 |R|`` for a canary ranked first."""
    if space < 1 or not 1 <= rank <= space:
        raise InvalidInputError(f"rank {rank} is not within a space of {space}", field="rank")
    return math.log2(space) - math.log2(rank)


def exact_rank(canary: float, candidates: ArrayLike) -> int:
    """Rank (1 = most likely) of a canary's negative log-likelihood among all *other* candidates'."""
    others = np.asarray(candidates, dtype=np.float64)
    return 1 + int(np.count_nonzero(others < canary))


def _log2_normal_cdf(z: float) -> float:
    if z > -30:
        return math.log2(max(0.5 * math.erfc(-z / math.sqrt(2)), 1e-300))
    # Mills' ratio: log Phi(z) ~ -z^2/2 - log(-z) - log(sqrt(2 pi)) for very negative z
    return (-z * z / 2 - math.log(-z) - 0.5 * math.log(2 * math.pi)) / math.log(2)


@dataclass(frozen=True, slots=True)
class SampledExposure:
    """Exposure estimated from a uniform sample of candidates, for spaces too large to rank exactly.

    ``empirical`` is ``-log2`` of the share of sampled candidates at least as likely as the canary (with
    add-one smoothing), hence at most ``log2(samples + 1)``; ``extrapolated`` fits a normal distribution to
    the sampled negative log-likelihoods and reads the canary's tail probability from it (Carlini et al.
    2019 §4.2 fit a skew-normal; a normal is the simpler, slightly less tail-exact choice), capped at
    ``log2 |R|``.
    """

    empirical: float
    extrapolated: float


def exposure_sampled(canary: float, samples: ArrayLike, space: int) -> SampledExposure:
    s = np.asarray(samples, dtype=np.float64)
    if s.size < 2:
        raise InvalidInputError("exposure by sampling needs at least two samples", field="samples")
    below = int(np.count_nonzero(s <= canary))
    empirical = -math.log2((below + 1) / (s.size + 1))
    mu, sigma = float(s.mean()), float(s.std(ddof=1))
    if sigma <= 0:
        extrapolated = math.log2(space) if canary < mu else 0.0
    else:
        extrapolated = -_log2_normal_cdf((canary - mu) / sigma)
    return SampledExposure(empirical, min(max(extrapolated, 0.0), math.log2(space)))


# --- membership scores ----------------------------------------------------------------------------------


def score_loss(logprobs: ArrayLike) -> float:
    """Mean token log-probability (the negated loss): higher means more likely a member (Yeom et al. 2018)."""
    lp = np.asarray(logprobs, dtype=np.float64)
    return float(lp.mean())


def score_zlib(logprobs: ArrayLike, text: str) -> float:
    """Minus the model's bits for the text over zlib's bits for it (Carlini et al. 2021's zlib ratio)."""
    lp = np.asarray(logprobs, dtype=np.float64)
    model_bits = -float(lp.sum()) / math.log(2)
    zlib_bits = 8 * len(zlib.compress(text.encode("utf-8"), 9))
    return -model_bits / zlib_bits


def _lowest_mean(values: F64, k: float) -> float:
    if not 0 < k <= 1:
        raise InvalidInputError("k must be a share in (0, 1]", field="k")
    count = max(1, int(round(values.size * k)))
    return float(np.sort(values)[:count].mean())


def score_min_k(logprobs: ArrayLike, k: float = 0.2) -> float:
    """Min-K% Prob (Shi et al. 2024): the mean of the lowest ``k`` share of token log-probabilities."""
    return _lowest_mean(np.asarray(logprobs, dtype=np.float64), k)


def score_min_k_pp(logprobs: ArrayLike, mu: ArrayLike, sigma: ArrayLike, k: float = 0.2) -> float:
    """Min-K%++ (Zhang et al. 2025): each token's log-probability standardised by the mean ``mu`` and the
    standard deviation ``sigma`` of log-probabilities over the whole vocabulary at that position, then the
    mean of the lowest ``k`` share."""
    lp = np.asarray(logprobs, dtype=np.float64)
    z = (lp - np.asarray(mu, dtype=np.float64)) / np.maximum(np.asarray(sigma, dtype=np.float64), 1e-12)
    return _lowest_mean(z, k)


def roc_auc(members: ArrayLike, nonmembers: ArrayLike) -> float:
    """Area under the ROC curve of a score where higher means member (Mann-Whitney U, ties count half)."""
    m, n = np.asarray(members, dtype=np.float64), np.asarray(nonmembers, dtype=np.float64)
    if m.size == 0 or n.size == 0:
        raise InvalidInputError("an AUC needs members and non-members", field="nonmembers")
    both = np.concatenate([m, n])
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    # the average 1-based rank of each distinct value
    ends = np.cumsum(counts)
    avg = ends - (counts - 1) / 2
    ranks = avg[inverse]
    u = float(ranks[: m.size].sum()) - m.size * (m.size + 1) / 2
    return u / (m.size * n.size)


def tpr_at_fpr(members: ArrayLike, nonmembers: ArrayLike, fpr: float) -> float:
    """The share of members flagged at the strictest threshold that flags at most ``fpr`` of non-members."""
    m, n = np.asarray(members, dtype=np.float64), np.asarray(nonmembers, dtype=np.float64)
    if m.size == 0 or n.size == 0:
        raise InvalidInputError("a TPR needs members and non-members", field="nonmembers")
    allowed = int(math.floor(fpr * n.size + 1e-9))
    desc = np.sort(n)[::-1]
    threshold = desc[allowed] if allowed < n.size else -np.inf
    return float(np.count_nonzero(m > threshold)) / m.size


Statistic = Callable[[F64, F64], float]


def bootstrap_ci(
    members: ArrayLike, nonmembers: ArrayLike, statistic: Statistic, *, rounds: int = 1000, alpha: float = 0.05,
    seed: int = 0,
) -> tuple[float, float]:  # fmt: skip
    """Percentile bootstrap interval of ``statistic``, resampling members and non-members separately."""
    m, n = np.asarray(members, dtype=np.float64), np.asarray(nonmembers, dtype=np.float64)
    rng = np.random.default_rng(seed)
    values = np.empty(rounds, dtype=np.float64)
    for i in range(rounds):
        values[i] = statistic(m[rng.integers(0, m.size, m.size)], n[rng.integers(0, n.size, n.size)])
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


BLIND_FEATURES = 1 << 18


def _features(text: str) -> I64:
    """The hashed word unigrams and bigrams a text contains (feature ids, each once)."""
    h = textfp.hash_tokens(words(text))
    if h.size == 0:
        return np.empty(0, dtype=np.int64)
    with np.errstate(over="ignore"):
        bigrams = h[:-1] * np.uint64(0x9E3779B97F4A7C15) + h[1:]
    both = np.concatenate([h, bigrams])
    return np.unique((both % np.uint64(BLIND_FEATURES)).astype(np.int64))


def blind_scores(
    members: Sequence[str], nonmembers: Sequence[str], *, folds: int = 5, seed: int = 0
) -> tuple[F64, F64]:
    """Out-of-fold scores of a classifier that never looks at the model (Das et al. 2024's blind baseline).

    A naive Bayes over the presence of hashed word unigrams and bigrams (a text scores the mean log-ratio
    of its features), trained on ``folds - 1`` folds and scoring the held-out one, so that no text is
    scored by a classifier that saw it. If it separates
    members from non-members, the two sets differ in what they say (topic, dates, style), and any
    model-based membership score may just be measuring that.
    """
    texts = list(members) + list(nonmembers)
    labels = np.array([1] * len(members) + [0] * len(nonmembers), dtype=np.int64)
    if len(members) < folds or len(nonmembers) < folds:
        raise InvalidInputError(
            f"the blind baseline needs at least {folds} members and {folds} non-members", field="nonmembers"
        )
    feats = [_features(t) for t in texts]
    rng = np.random.default_rng(seed)
    fold = np.empty(len(texts), dtype=np.int64)
    for label in (0, 1):  # stratified folds
        idx = np.flatnonzero(labels == label)
        fold[idx[rng.permutation(idx.size)]] = np.arange(idx.size) % folds
    scores = np.zeros(len(texts), dtype=np.float64)
    for f in range(folds):
        train = np.flatnonzero(fold != f)
        counts = []
        for label in (1, 0):
            chosen = [feats[i] for i in train if labels[i] == label]
            flat = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
            counts.append(np.bincount(flat, minlength=BLIND_FEATURES).astype(np.float64) + 1.0)
        log_ratio = np.log(counts[0] / counts[0].sum()) - np.log(counts[1] / counts[1].sum())
        for i in np.flatnonzero(fold == f).tolist():
            scores[i] = float(log_ratio[feats[i]].sum()) / max(1, feats[i].size)
    return scores[labels == 1], scores[labels == 0]


def membership_verdict(best_auc: float, best_low: float, blind_auc: float, blind_low: float, *, margin: float) -> str:
    """``inconclusive`` when a model-free classifier separates the sets about as well as the best score;
    ``signal`` when the best score's interval lies above chance and above the blind baseline; else
    ``no_signal``."""
    if blind_low > 0.5 and blind_auc >= best_auc - margin:
        return "inconclusive"
    if best_low > 0.5 and best_auc > blind_auc + margin:
        return "signal"
    return "no_signal"


# --- the regression gate --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateCheck:
    metric: str
    baseline: float
    current: float
    margin: float

    @property
    def worse(self) -> bool:
        """Higher is worse for every gated metric (more extraction, more exposure)."""
        return self.current > self.baseline + self.margin

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "baseline": self.baseline,
            "current": self.current,
            "margin": self.margin,
            "worse": self.worse,
        }


def gate(current: Mapping[str, float], baseline: Mapping[str, float], margins: Mapping[str, float]) -> list[GateCheck]:
    """One check per metric that has a margin and a value in both runs, in the order of ``margins``."""
    return [
        GateCheck(name, float(baseline[name]), float(current[name]), float(margin))
        for name, margin in margins.items()
        if name in current and name in baseline
    ]


__all__ = [
    "NOT_CONTAINED",
    "Contained",
    "GateCheck",
    "SampledExposure",
    "blind_scores",
    "bootstrap_ci",
    "contained_passage",
    "discoverable",
    "exact_match",
    "exact_rank",
    "exposure_from_rank",
    "exposure_sampled",
    "gate",
    "longest_common_subsequence",
    "longest_common_substring",
    "membership_verdict",
    "pythia_score",
    "roc_auc",
    "rouge_l",
    "samples_to_discover",
    "score_loss",
    "score_min_k",
    "score_min_k_pp",
    "score_zlib",
    "stratified_sample",
    "tpr_at_fpr",
    "window_offsets",
    "words",
]
