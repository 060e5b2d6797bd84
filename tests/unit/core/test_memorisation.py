"""The audit's arithmetic, without a model: extraction scores, exposure, membership statistics, the gate."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.audit import memorisation as mem
from copyalign.errors import InvalidInputError


def _lcs_substring_brute(a: str, b: str) -> int:
    return max((k for i in range(len(a)) for k in range(1, len(a) - i + 1) if a[i : i + k] in b), default=0)


def _lcs_subsequence_dp(a: list[str], b: list[str]) -> int:
    t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            t[i + 1][j + 1] = t[i][j] + 1 if x == y else max(t[i][j + 1], t[i + 1][j])
    return t[-1][-1]


small_text = st.text(alphabet="abc ", max_size=25)


@given(small_text, small_text)
def test_longest_common_substring_matches_brute_force(a: str, b: str) -> None:
    assert mem.longest_common_substring(a, b) == _lcs_substring_brute(a, b)


@given(st.lists(st.sampled_from("xyzw"), max_size=20), st.lists(st.sampled_from("xyzw"), max_size=20))
def test_longest_common_subsequence_matches_the_textbook_table(a: list[str], b: list[str]) -> None:
    assert mem.longest_common_subsequence(a, b) == _lcs_subsequence_dp(a, b)


def test_rouge_l_is_f1_of_the_lcs() -> None:
    ref = ["the", "cat", "sat", "on", "the", "mat"]
    assert mem.rouge_l(ref, ref) == 1.0
    cand = ["the", "cat", "lay", "on", "a", "mat"]  # LCS: the cat on mat (4 of 6 both ways)
    assert mem.rouge_l(cand, ref) == pytest.approx(4 / 6)
    assert mem.rouge_l([], ref) == 0.0
    assert mem.rouge_l(["dog"], ref) == 0.0


def test_exact_match_and_pythia_score() -> None:
    assert mem.exact_match([1, 2, 3], [1, 2, 3])
    assert not mem.exact_match([1, 2, 4], [1, 2, 3])
    assert not mem.exact_match([1, 2], [1, 2, 3])
    assert mem.pythia_score([1, 9, 3, 9], [1, 2, 3, 4]) == 0.5
    assert mem.pythia_score([1, 2], [1, 2, 3, 4]) == 0.5  # a short continuation misses the rest
    with pytest.raises(InvalidInputError):
        mem.pythia_score([1], [])


def test_contained_passage_finds_the_work_inside_a_continuation() -> None:
    work = (
        "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
        "want of a wife. However little known the feelings or views of such a man may be on his first entering"
    )
    continuation = "and so, as they say, A SINGLE MAN in possession of a good fortune must be in want of a wife!"
    hit = mem.contained_passage(continuation, work)
    assert hit.tokens >= 15
    assert continuation[hit.candidate[0] : hit.candidate[1]].lower().startswith("a single man")
    assert work[hit.reference[0] : hit.reference[1]].startswith("a single man")
    assert mem.contained_passage("nothing of the sort is written here at all, friend", work) == mem.NOT_CONTAINED
    assert mem.contained_passage("too short", work).tokens == 0


def test_window_offsets() -> None:
    assert mem.window_offsets(99, 50, 50, stride=50) == []
    assert mem.window_offsets(100, 50, 50, stride=50) == [0]
    assert mem.window_offsets(260, 50, 50, stride=50) == [0, 50, 100, 150]
    spread = mem.window_offsets(100_000, 50, 50, stride=50, limit=5)
    assert len(spread) == 5 and spread[0] == 0 and spread[-1] == 99_900
    with pytest.raises(InvalidInputError):
        mem.window_offsets(100, 0, 50, stride=50)


@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from("abcd")), min_size=1, max_size=60, unique_by=lambda t: t[0]
    ),
    st.integers(1, 70),
)
def test_stratified_sample_is_proportional_deterministic_and_order_free(items: list[tuple[int, str]], n: int) -> None:
    pairs = [(f"w{i}", s) for i, s in items]
    chosen = mem.stratified_sample(pairs, n, seed="s")
    assert len(chosen) == min(n, len(pairs))
    assert chosen == mem.stratified_sample(list(reversed(pairs)), n, seed="s")
    strata = {s for _, s in pairs}
    for s in strata:  # each stratum gets its share, rounded
        size = sum(1 for _, t in pairs if t == s)
        got = sum(1 for w, t in pairs if t == s and w in chosen)
        assert abs(got - size * len(chosen) / len(pairs)) < 1 + 1e-9


def test_discoverability_in_log_space() -> None:
    # 1 - (1 - 0.001) ** 1000 = 0.632 >= 0.5
    assert mem.discoverable(math.log(0.001), n=1000, p=0.5)
    assert not mem.discoverable(math.log(0.0001), n=1000, p=0.5)  # 0.095
    assert not mem.discoverable(-5000.0, n=10**12, p=0.5)  # p_z underflows: never discoverable
    assert mem.discoverable(0.0, n=1, p=0.99)
    assert mem.samples_to_discover(math.log(0.001), 0.5) == 693
    assert mem.samples_to_discover(-5000.0, 0.5) == math.inf
    with pytest.raises(InvalidInputError):
        mem.discoverable(-1.0, n=10, p=1.0)


def test_exposure_by_rank() -> None:
    assert mem.exposure_from_rank(1, 1024) == 10.0
    assert mem.exposure_from_rank(1024, 1024) == 0.0
    assert mem.exact_rank(2.0, [1.0, 2.0, 3.0, 0.5]) == 3  # two candidates are more likely
    with pytest.raises(InvalidInputError):
        mem.exposure_from_rank(0, 10)


def test_sampled_exposure_agrees_with_the_normal_tail() -> None:
    rng = np.random.default_rng(0)
    samples = rng.normal(30.0, 2.0, 5000)
    # a canary 4 standard deviations more likely: Phi(-4) = 3.17e-5, about 14.9 bits
    est = mem.exposure_sampled(22.0, samples, 10**9)
    assert est.extrapolated == pytest.approx(14.9, abs=0.4)
    assert est.empirical == pytest.approx(math.log2(5001), abs=0.01)  # none sampled was as likely: capped
    typical = mem.exposure_sampled(30.0, samples, 10**9)
    assert typical.extrapolated == pytest.approx(1.0, abs=0.1)  # the median: one bit
    assert mem.exposure_sampled(-1e6, samples, 1000).extrapolated == pytest.approx(math.log2(1000))  # capped


def test_membership_scores_point_the_same_way() -> None:
    seen, unseen = np.array([-0.5, -0.2, -0.4, -0.1]), np.array([-3.0, -2.5, -4.0, -2.0])
    assert mem.score_loss(seen) > mem.score_loss(unseen)
    assert mem.score_min_k(seen, 0.25) == -0.5 and mem.score_min_k(unseen, 0.5) == -3.5
    assert mem.score_zlib(seen, "some text") > mem.score_zlib(unseen, "some text")
    mu, sigma = np.full(4, -3.0), np.full(4, 1.0)
    assert mem.score_min_k_pp(seen, mu, sigma, 0.25) == pytest.approx(2.5)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=15), st.lists(st.integers(0, 5), min_size=1, max_size=15))
def test_auc_is_the_pairwise_win_rate(members: list[int], nonmembers: list[int]) -> None:
    wins = sum((m > n) + 0.5 * (m == n) for m in members for n in nonmembers)
    assert mem.roc_auc(members, nonmembers) == pytest.approx(wins / (len(members) * len(nonmembers)))


def test_tpr_at_low_fpr() -> None:
    members = list(range(100, 200))
    nonmembers = list(range(0, 99)) + [150]  # one non-member scores among the members
    assert mem.tpr_at_fpr(members, nonmembers, 0.005) == pytest.approx(0.49)  # no false positive: above 150 only
    assert mem.tpr_at_fpr(members, nonmembers, 0.01) == 1.0  # one false positive allowed in 100
    assert mem.tpr_at_fpr([1, 2], [5, 6], 0.05) == 0.0


def test_bootstrap_interval_brackets_the_estimate_and_is_reproducible() -> None:
    rng = np.random.default_rng(1)
    m, n = rng.normal(1.0, 1.0, 60), rng.normal(0.0, 1.0, 60)
    lo, hi = mem.bootstrap_ci(m, n, mem.roc_auc, rounds=300, seed=3)
    assert lo < mem.roc_auc(m, n) < hi and lo > 0.5
    assert (lo, hi) == mem.bootstrap_ci(m, n, mem.roc_auc, rounds=300, seed=3)


def _texts(words: list[str], n: int, seed: int) -> list[str]:
    r = random.Random(seed)
    return [" ".join(r.choice(words) for _ in range(40)) for _ in range(n)]


def test_blind_baseline_sees_a_shift_in_the_texts_and_nothing_without_one() -> None:
    vocab = [f"w{i}" for i in range(300)]
    same_a, same_b = _texts(vocab, 40, 1), _texts(vocab, 40, 2)
    m, n = mem.blind_scores(same_a, same_b)
    assert abs(mem.roc_auc(m, n) - 0.5) < 0.2
    shifted = [t + " released 2024" for t in _texts(vocab, 40, 3)]  # Das et al.: dates give non-members away
    m, n = mem.blind_scores(same_a, shifted)
    assert mem.roc_auc(m, n) < 0.1 or mem.roc_auc(m, n) > 0.9
    with pytest.raises(InvalidInputError):
        mem.blind_scores(same_a[:3], same_b)


def test_membership_verdict() -> None:
    assert mem.membership_verdict(0.9, 0.8, 0.5, 0.4, margin=0.05) == "signal"
    assert mem.membership_verdict(0.9, 0.8, 0.88, 0.8, margin=0.05) == "inconclusive"
    assert mem.membership_verdict(0.55, 0.45, 0.5, 0.4, margin=0.05) == "no_signal"
    # a blind baseline at chance never makes a result inconclusive, even when both are at chance
    assert mem.membership_verdict(0.5, 0.4, 0.52, 0.42, margin=0.05) == "no_signal"


def test_gate_flags_only_rises_beyond_the_margin() -> None:
    checks = mem.gate(
        {"extraction_rate": 0.05, "pythia_mean": 0.30, "only_now": 1.0},
        {"extraction_rate": 0.02, "pythia_mean": 0.29},
        {"extraction_rate": 0.01, "pythia_mean": 0.02, "only_now": 0.0},
    )
    assert [(c.metric, c.worse) for c in checks] == [("extraction_rate", True), ("pythia_mean", False)]
    assert checks[0].to_dict()["worse"] is True


@settings(max_examples=30)
@given(st.lists(st.integers(0, 4), min_size=5, max_size=40))
def test_window_offsets_stay_inside_the_text(lengths: list[int]) -> None:
    for n in lengths:
        total = 100 + 37 * n
        for o in mem.window_offsets(total, 32, 32, stride=16, limit=7):
            assert o >= 0 and o + 64 <= total
