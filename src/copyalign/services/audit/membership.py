"""Membership scores: does the model treat the registered works as texts it was trained on?

Four scores per text, each oriented so that higher means "more likely a member": the negated loss (Yeom et
al. 2018), the zlib ratio (Carlini et al. 2021), Min-K% Prob (Shi et al. 2024) and Min-K%++ (Zhang et al.
2025), with ``k = 20 %``. Each is summarised by ROC AUC and TPR at 1 % and 5 % FPR between the registered
works (members, as far as the audit is concerned) and texts of the same kind the model never saw, with
bootstrap intervals.

Published membership benchmarks were "solved" by classifiers that never looked at the model: the member and
non-member texts differed in dates and topics (Das et al. 2024; Duan et al. 2024). So every result stands
beside such a *blind* baseline (:func:`copyalign.core.audit.memorisation.blind_scores`), and is reported as
``inconclusive`` when the blind baseline separates the two sets about as well.

Every text is scored on its first ``tokens`` tokens (the same length for all), so longer texts do not
score differently for being long.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from copyalign.core.audit import memorisation as mem
from copyalign.errors import InvalidInputError
from copyalign.services.audit.model import LanguageModel

ATTACKS = ("loss", "zlib", "min_k", "min_k_pp")
MIN_TOKENS = 16


def score_texts(
    lm: LanguageModel, texts: Sequence[str], *, tokens: int = 128, k: float = 0.2, field: str = "texts"
) -> list[dict[str, float]]:
    """The four scores of each text's first ``tokens`` tokens (texts shorter than ``MIN_TOKENS`` are refused)."""
    limit = min(tokens, lm.context)
    ids = [t[:limit] for t in lm.encode_many(list(texts))]
    short = [i for i, t in enumerate(ids) if len(t) < MIN_TOKENS]
    if short:
        raise InvalidInputError(
            f"{len(short)} text(s) have fewer than {MIN_TOKENS} tokens to score (the first is number {short[0] + 1})",
            field=field,
        )
    scored = lm.token_logprobs(ids, stats=True, batch=4)  # the vocabulary statistics hold batch x T x V floats
    out = []
    for t, s in zip(ids, scored, strict=True):
        if s.mu is None or s.sigma is None:  # pragma: no cover - token_logprobs(stats=True) always fills them
            raise AssertionError("vocabulary statistics missing")
        out.append(
            {
                "loss": mem.score_loss(s.logprobs),
                "zlib": mem.score_zlib(s.logprobs, lm.decode(t)),
                "min_k": mem.score_min_k(s.logprobs, k),
                "min_k_pp": mem.score_min_k_pp(s.logprobs, s.mu, s.sigma, k),
            }
        )
    return out


def _summary(members: np.ndarray, nonmembers: np.ndarray, *, rounds: int, seed: int) -> dict[str, Any]:
    def tpr1(m: np.ndarray, n: np.ndarray) -> float:
        return mem.tpr_at_fpr(m, n, 0.01)

    def tpr5(m: np.ndarray, n: np.ndarray) -> float:
        return mem.tpr_at_fpr(m, n, 0.05)

    out: dict[str, Any] = {}
    for name, stat in (("auc", mem.roc_auc), ("tpr_at_1pct_fpr", tpr1), ("tpr_at_5pct_fpr", tpr5)):
        lo, hi = mem.bootstrap_ci(members, nonmembers, stat, rounds=rounds, seed=seed)
        out[name] = round(stat(members, nonmembers), 4)
        out[f"{name}_ci"] = [round(lo, 4), round(hi, 4)]
    return out


def membership(
    lm: LanguageModel,
    members: Sequence[str],
    nonmembers: Sequence[str],
    *,
    tokens: int = 128,
    k: float = 0.2,
    rounds: int = 1000,
    margin: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """AUC and TPR@FPR of each score and of the blind baseline, the best score and the verdict."""
    if len(members) < 5 or len(nonmembers) < 5:
        raise InvalidInputError("membership scores need at least 5 works and 5 non-member texts", field="nonmembers")
    m_scores = score_texts(lm, members, tokens=tokens, k=k, field="works")
    n_scores = score_texts(lm, nonmembers, tokens=tokens, k=k, field="nonmembers")
    results: dict[str, Any] = {}
    for attack in ATTACKS:
        m = np.array([s[attack] for s in m_scores])
        n = np.array([s[attack] for s in n_scores])
        results[attack] = _summary(m, n, rounds=rounds, seed=seed)
    bm, bn = mem.blind_scores(members, nonmembers, seed=seed)
    blind = _summary(bm, bn, rounds=rounds, seed=seed)
    best = max(ATTACKS, key=lambda a: (results[a]["auc"], a))
    verdict = mem.membership_verdict(
        results[best]["auc"], results[best]["auc_ci"][0], blind["auc"], blind["auc_ci"][0], margin=margin
    )
    return {
        "members": len(members),
        "nonmembers": len(nonmembers),
        "tokens": tokens,
        "k": k,
        "bootstrap_rounds": rounds,
        "scores": results,
        "blind": blind,
        "best": best,
        "verdict": verdict,
        "explanation": _EXPLAIN[verdict],
    }


_EXPLAIN = {
    "signal": "the model scores the registered works as training members, beyond what the texts alone reveal",
    "no_signal": "the model does not tell the registered works from texts it never saw",
    "inconclusive": (
        "a classifier that never looks at the model separates the two sets about as well: the non-member texts "
        "differ from the works in kind, so the scores cannot say whether the model saw the works"
    ),
}


__all__ = ["ATTACKS", "membership", "score_texts"]
