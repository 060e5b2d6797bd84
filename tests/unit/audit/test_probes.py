"""Probes, canaries, membership and the blocker against the tiny model whose memorisation is known.

The model saw one docstring 64 times, ~100 KB of others once each (over ~3.5 epochs), and canaries at 0, 1,
4, 16 and 64 repetitions (:mod:`tests.unit.audit.tinymodel`). Every test here uses it (trained once per
process, about 20 seconds), hence ``slow``.
"""

from __future__ import annotations

import pytest

from copyalign.services.audit.blocker import MemFree, NgramBlocklist
from copyalign.services.audit.canaries import by_bucket, exposures
from copyalign.services.audit.membership import membership
from copyalign.services.audit.model import LanguageModel, deterministic, load
from copyalign.services.audit.probes import ProbeConfig, WorkText, aggregate, probe
from copyalign.services.audit.suppression import evaluate
from tests.unit.audit.tinymodel import Tiny, tiny_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny() -> Tiny:
    return tiny_model()


@pytest.fixture(scope="module")
def lm(tiny: Tiny) -> LanguageModel:
    return load(tiny.path)


def _works(tiny: Tiny) -> list[WorkText]:
    return [WorkText("repeated", "Repeated", tiny.corpus.repeated)] + [
        WorkText(f"held-{i}", f"Held out {i}", t) for i, t in enumerate(tiny.corpus.heldout[:6])
    ]


@pytest.mark.parametrize(("prefix", "suffix"), [(32, 32), (50, 50)])
def test_the_repeated_work_is_extracted_and_unseen_ones_are_not(
    tiny: Tiny, lm: LanguageModel, prefix: int, suffix: int
) -> None:
    cfg = ProbeConfig(prefix=prefix, suffix=suffix, stride=16, max_windows=16)
    results = {r.work: r for r in probe(lm, _works(tiny), cfg)}
    rep = results.pop("repeated").summary()
    assert rep["extracted"] >= 1 and rep["pythia_mean"] > 0.5 and rep["rouge_l_mean"] > 0.5
    assert rep["contained_rate"] > 0 and rep["lcs_words_max"] >= cfg.min_passage_words
    assert rep["discoverable_rate"] > 0.3 and rep["log_pz_max"] > -10
    assert sum(1 for r in results.values() if r.windows) >= 4
    for r in results.values():
        if not r.windows:  # shorter than one window
            assert r.tokens < prefix + suffix
            continue
        s = r.summary()
        assert s["extracted"] == 0 and s["contained_rate"] == 0 and s["discoverable_rate"] == 0
        assert s["pythia_mean"] < 0.2 and s["log_pz_max"] < -40
    agg = aggregate(list(results.values()), cfg)
    assert agg["works_extracted"] == 0 and agg["by_offset"][0]["offsets"] == "0"


def test_probing_is_bit_identical_and_independent_of_batching(tiny: Tiny, lm: LanguageModel) -> None:
    cfg = ProbeConfig(prefix=32, suffix=32, stride=16, max_windows=8)
    with deterministic():
        a = probe(lm, _works(tiny), cfg)
        b = probe(lm, _works(tiny)[::-1], ProbeConfig(prefix=32, suffix=32, stride=16, max_windows=8, batch=3))
    assert {r.work: r.windows for r in a} == {r.work: r.windows for r in b}


def test_the_blocker_stops_verbatim_reproduction(tiny: Tiny, lm: LanguageModel) -> None:
    cfg = ProbeConfig(prefix=32, suffix=32, stride=16, max_windows=16)
    work = _works(tiny)[:1]
    blocker = MemFree(NgramBlocklist.build([lm.encode(tiny.corpus.repeated)], n=8))
    before = probe(lm, work, cfg)[0].summary()
    after = probe(lm, work, cfg, processors=[blocker])[0].summary()
    assert before["extracted"] >= 1 and after["extracted"] == 0 and after["contained_rate"] == 0
    assert after["lcs_words_max"] < before["lcs_words_max"] and blocker.blocked > 0


def test_the_takedown_evaluation_compares_with_controls(tiny: Tiny, lm: LanguageModel) -> None:
    cfg = ProbeConfig(prefix=32, suffix=32, stride=32, max_windows=6)
    works = _works(tiny)
    blocklist = NgramBlocklist.build([lm.encode(tiny.corpus.repeated)], n=8)
    result = evaluate(lm, works[:1], works[1:], cfg, blocklist, margin=0.05)
    before, after = result["probes"]["before"], result["probes"]["after"]
    assert before["works"]["extracted"] >= 1 and after["works"]["extracted"] == 0
    assert before["works"]["rouge_l_mean"] > before["controls"]["rouge_l_mean"] + 0.3
    assert set(result["probes"]) == {"before", "after", "upper", "spacing", "paraphrase"}
    assert result["verdict"] in ("suppressed", "verbatim_only")  # verbatim copies are gone either way
    assert result["verbatim_after"] == []


def test_canaries_repeated_often_are_memorised_and_controls_are_not(tiny: Tiny, lm: LanguageModel) -> None:
    results = exposures(lm, tiny.canaries, min_bits=10.0)
    buckets = {b["repetitions"]: b for b in by_bucket(results)}
    assert buckets[64]["bucket_memorised"] and buckets[64]["exposure_median"] > 9
    assert not buckets[0]["bucket_memorised"] and not buckets[1]["bucket_memorised"]
    assert buckets[0]["exposure_max"] < 6
    assert buckets[16]["exposure_median"] > buckets[0]["exposure_median"]


def test_membership_finds_the_trained_texts_beside_a_blind_baseline(tiny: Tiny, lm: LanguageModel) -> None:
    members, nonmembers = tiny.corpus.background[:25], tiny.corpus.heldout[:25]
    fair = membership(lm, members, nonmembers, rounds=300)
    assert fair["verdict"] == "signal", fair
    assert fair["scores"][fair["best"]]["auc"] > 0.75 and fair["blind"]["auc_ci"][0] < 0.5
    # non-members that differ in kind (a changelog header): the texts alone tell them apart
    shifted = [f"Changed in version 3.14: deprecated.\n{t}" for t in nonmembers]
    unfair = membership(lm, members, shifted, rounds=300)
    assert unfair["blind"]["auc"] > 0.9 and unfair["verdict"] == "inconclusive"
