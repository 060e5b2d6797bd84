from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.takedown.states import MeasureKind
from copyalign.core.takedown.triage import Action, Evidence, MatchKind, TriageThresholds, recommend
from copyalign.errors import InvalidInputError

T = TriageThresholds()


@pytest.mark.parametrize(
    ("evidence", "action", "phrase"),
    [
        (Evidence(MatchKind.EXACT, licensed=True, licence_ref="tn-3"), Action.NO_ACTION, "licensed this use (tn-3)"),
        (Evidence(None), Action.HUMAN_REVIEW, "nothing matched"),
        (Evidence(MatchKind.NORMALIZED), Action.ACT, "copy of the work"),
        (Evidence(MatchKind.NEAR_DUPLICATE, coverage=0.01), Action.ACT, "copy of the work"),
        (Evidence(MatchKind.PASSAGE, coverage=0.16), Action.ACT, "over 15 %"),
        (Evidence(MatchKind.PASSAGE, coverage=0.15), Action.HUMAN_REVIEW, "between the de-minimis"),
        (Evidence(MatchKind.PASSAGE, coverage=0.049), Action.SIMPLIFIED, "seed 003 §4.4"),
        (Evidence(MatchKind.PASSAGE, coverage=0.05), Action.HUMAN_REVIEW, "a person weighs it"),
        (Evidence(MatchKind.PASSAGE), Action.HUMAN_REVIEW, "without its coverage"),
        (Evidence(MatchKind.PERCEPTUAL, pdq_distance=31), Action.ACT, "PDQ distance 31"),
        (Evidence(MatchKind.PERCEPTUAL, pdq_distance=40), Action.HUMAN_REVIEW, "above 31"),
        (Evidence(MatchKind.PERCEPTUAL), Action.HUMAN_REVIEW, "without its PDQ distance"),
        (Evidence(MatchKind.SEMANTIC, coverage=0.5, semantic_score=0.9), Action.ACT, "similarity 90 %"),
        (Evidence(MatchKind.SEMANTIC, coverage=0.5, semantic_score=0.8), Action.HUMAN_REVIEW, "below the alert"),
        (Evidence(MatchKind.SEMANTIC, coverage=0.1, semantic_score=0.95), Action.HUMAN_REVIEW, "alert threshold"),
        (Evidence(MatchKind.SEMANTIC, coverage=0.02, semantic_score=0.95), Action.SIMPLIFIED, "de-minimis"),
    ],
)
def test_rules(evidence: Evidence, action: Action, phrase: str) -> None:
    r = recommend(evidence, T)
    assert r.action is action
    assert any(phrase in reason for reason in r.reasons), r.reasons
    assert bool(r.measures) == (action is Action.ACT)
    assert r.simplified == (action is Action.SIMPLIFIED)


def test_measures_follow_what_the_evidence_shows() -> None:
    r = recommend(Evidence(MatchKind.EXACT, prompt_named_work=True, memorised=True), T)
    assert r.measures == (
        MeasureKind.DISABLE_OUTPUT,
        MeasureKind.BLOCK_REGENERATION,
        MeasureKind.MODEL_BLOCKLIST,
        MeasureKind.MODEL_REAUDIT,
        MeasureKind.BLOCK_PROMPT_TERMS,
        MeasureKind.NOTIFY_USER,
        MeasureKind.STRIKE,
    )
    assert any("seed 004 ¶89" in x for x in r.reasons) and any("term base" in x for x in r.reasons)


def test_a_copy_from_a_user_model_recommends_removing_the_model() -> None:
    # seed 004 ¶26 (the Ultraman LoRA case): the infringing user model is removed, not only the output
    r = recommend(Evidence(MatchKind.EXACT, user_model=True), T)
    assert r.measures[:2] == (MeasureKind.DISABLE_OUTPUT, MeasureKind.REMOVE_MODEL)
    assert any("user-trained model" in x for x in r.reasons)
    assert MeasureKind.REMOVE_MODEL not in recommend(Evidence(MatchKind.EXACT), T).measures
    assert recommend(Evidence(None, user_model=True), T).measures == ()  # nothing matched: a person looks first


def test_a_guard_miss_is_marked_for_the_accuracy_report() -> None:
    missed = recommend(
        Evidence(
            MatchKind.PASSAGE,
            coverage=0.4,
            guard_saw=True,
            guard_allowed=True,
            guard_reason="passage shorter than 150 chars",
        ),
        T,
    )
    assert missed.guard_missed and any("150 chars" in x and "15(1)(e)" in x for x in missed.reasons)
    unseen = recommend(Evidence(MatchKind.PASSAGE, coverage=0.4), T)
    assert not unseen.guard_missed and any("did not pass the guard" in x for x in unseen.reasons)
    fine = recommend(Evidence(MatchKind.PASSAGE, coverage=0.1, guard_saw=True, guard_allowed=True), T)
    assert not fine.guard_missed


def test_thresholds_come_from_the_profile() -> None:
    strict = TriageThresholds(protected_feature_share=0.5, similarity=0.9, de_minimis_share=0.01, pdq_max_distance=10)
    assert recommend(Evidence(MatchKind.PASSAGE, coverage=0.3), strict).action is Action.HUMAN_REVIEW
    assert recommend(Evidence(MatchKind.PASSAGE, coverage=0.03), strict).action is Action.HUMAN_REVIEW
    assert recommend(Evidence(MatchKind.PERCEPTUAL, pdq_distance=12), strict).action is Action.HUMAN_REVIEW


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "fuzzy"}, "kind"),
        ({"kind": MatchKind.PASSAGE, "coverage": 1.5}, "coverage"),
        ({"kind": MatchKind.PASSAGE, "coverage": True}, "coverage"),
        ({"kind": MatchKind.SEMANTIC, "semantic_score": -2.0}, "semantic_score"),
        ({"kind": MatchKind.PERCEPTUAL, "pdq_distance": 300}, "pdq_distance"),
        ({"kind": None, "guard_allowed": True}, "guard_allowed"),
    ],
)
def test_bad_evidence_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        Evidence(**kwargs)
    assert e.value.field == field
    with pytest.raises(InvalidInputError) as e:
        TriageThresholds(protected_feature_share=0.04, de_minimis_share=0.05)
    assert e.value.field == "de_minimis_share"


evidence = st.builds(
    Evidence,
    kind=st.none() | st.sampled_from(list(MatchKind)),
    coverage=st.none() | st.floats(0, 1),
    pdq_distance=st.none() | st.integers(0, 256),
    semantic_score=st.none() | st.floats(-1, 1),
    licensed=st.booleans(),
    prompt_named_work=st.booleans(),
    memorised=st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(e=evidence)
def test_invariants(e: Evidence) -> None:
    r = recommend(e, T)
    assert r.reasons
    if e.licensed:
        assert r.action is Action.NO_ACTION
    elif e.kind in (MatchKind.EXACT, MatchKind.NORMALIZED, MatchKind.NEAR_DUPLICATE):
        assert r.action is Action.ACT
    assert (MeasureKind.STRIKE in r.measures) == (r.action is Action.ACT)
    assert not r.guard_missed


@settings(max_examples=200, deadline=None)
@given(a=st.floats(0, 1), b=st.floats(0, 1))
def test_more_coverage_of_a_passage_never_softens_the_course(a: float, b: float) -> None:
    order = [Action.SIMPLIFIED, Action.HUMAN_REVIEW, Action.ACT]
    lo, hi = sorted((a, b))
    ra = recommend(Evidence(MatchKind.PASSAGE, coverage=lo), T).action
    rb = recommend(Evidence(MatchKind.PASSAGE, coverage=hi), T).action
    assert order.index(ra) <= order.index(rb)
