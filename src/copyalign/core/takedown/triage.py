"""The measure triage recommends from the evidence, before a person decides.

Triage reads what the system found — the matching engine's verdict for the named work against the material,
what the guard did when the output was generated, and whether the holder had licensed the use — and
recommends one of four courses, with the reasons a reviewer and a statement of reasons can quote:

* **no action** when the holder licensed the use (a finalised training notice covering it, or ``allow``;
  seed 001 §3.2-3.3): the complaint concerns a use already paid for or permitted;
* **act** for a copy (exact, normalised or near-duplicate match), a perceptual image match within the PDQ
  threshold, or a passage or paraphrase that covers more of the output than the protected-feature share
  (seed 003 §4.3: outputs with "over 15 % protected data features" are restricted; paraphrases count when
  their similarity reaches the alert threshold, "no lower than 85 %");
* the **simplified procedure** (seed 003 §4.4 ③, a 48-hour decision) when the match covers less of the output
  than the de-minimis share (below 5 %);
* **human review** otherwise — nothing matched, or a match between the two thresholds — because a notice
  must be decided diligently and objectively (DSA Art. 16(6)), never dismissed by a threshold alone.

A recommendation to act on an output the guard saw and allowed is marked ``guard_missed``: a false negative
of the automated means, which the transparency report counts (DSA Art. 15(1)(e)).

Example:
    >>> r = recommend(Evidence(MatchKind.PASSAGE, coverage=0.4), TriageThresholds())
    >>> r.action.value, [m.value for m in r.measures]
    ('act', ['disable_output', 'block_regeneration', 'notify_user', 'strike'])
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from copyalign.core.takedown._validate import fraction, parse_enum, text
from copyalign.core.takedown.states import MeasureKind
from copyalign.errors import InvalidInputError


class MatchKind(enum.StrEnum):
    EXACT = "exact"
    NORMALIZED = "normalized"
    NEAR_DUPLICATE = "near_duplicate"
    PASSAGE = "passage"
    PERCEPTUAL = "perceptual"
    SEMANTIC = "semantic"


COPY_KINDS = frozenset({MatchKind.EXACT, MatchKind.NORMALIZED, MatchKind.NEAR_DUPLICATE})


class Action(enum.StrEnum):
    ACT = "act"
    SIMPLIFIED = "simplified"
    HUMAN_REVIEW = "human_review"
    NO_ACTION = "no_action"


@dataclass(frozen=True)
class Evidence:
    """What the system knows about the material and the named work.

    Args:
        kind: the best match the engine found, or None when nothing matched.
        coverage: share of the output the work covers (0..1), where the engine measures one.
        pdq_distance: PDQ Hamming distance (0..256) for an image match.
        semantic_score: cosine similarity (-1..1) for a paraphrase match.
        guard_saw: the output passed through the guard; ``guard_allowed``: and the guard let it through,
            ``guard_reason`` saying why.
        licensed: the holder licensed this use; ``licence_ref`` names the licence (a finalised notice id).
        prompt_named_work: the prompt named the work or its characters (its terms go to the term base).
        memorised: the model itself reproduces the work (an audit or repeated generations show it).
        user_model: the output came from a user-trained model (a LoRA or fine-tune the provider hosts).
    """

    kind: MatchKind | None
    coverage: float | None = None
    pdq_distance: int | None = None
    semantic_score: float | None = None
    guard_saw: bool = False
    guard_allowed: bool = False
    guard_reason: str | None = None
    licensed: bool = False
    licence_ref: str | None = None
    prompt_named_work: bool = False
    memorised: bool = False
    user_model: bool = False

    def __post_init__(self) -> None:
        if self.kind is not None:
            object.__setattr__(self, "kind", parse_enum(MatchKind, self.kind, "kind"))
        fraction(self.coverage, "coverage")
        fraction(self.semantic_score, "semantic_score", lo=-1.0)
        if self.pdq_distance is not None and (
            isinstance(self.pdq_distance, bool)
            or not isinstance(self.pdq_distance, int)
            or not 0 <= self.pdq_distance <= 256
        ):
            raise InvalidInputError("pdq_distance is a whole number from 0 to 256", field="pdq_distance")
        if self.guard_allowed and not self.guard_saw:
            raise InvalidInputError("the guard cannot have allowed an output it did not see", field="guard_allowed")
        text(self.guard_reason, "guard_reason", limit=500)
        text(self.licence_ref, "licence_ref", limit=200)


@dataclass(frozen=True)
class TriageThresholds:
    """The profile's thresholds (``[takedown]`` in the policy profile)."""

    protected_feature_share: float = 0.15
    similarity: float = 0.85
    de_minimis_share: float = 0.05
    pdq_max_distance: int = 31

    def __post_init__(self) -> None:
        fraction(self.protected_feature_share, "protected_feature_share", optional=False)
        fraction(self.similarity, "similarity", optional=False)
        fraction(self.de_minimis_share, "de_minimis_share", optional=False)
        if self.de_minimis_share > self.protected_feature_share:
            raise InvalidInputError(
                "the de-minimis share cannot exceed the protected-feature share", field="de_minimis_share"
            )
        if isinstance(self.pdq_max_distance, bool) or not 0 <= self.pdq_max_distance <= 256:
            raise InvalidInputError("pdq_max_distance is 0..256", field="pdq_max_distance")


@dataclass(frozen=True)
class Recommendation:
    action: Action
    reasons: tuple[str, ...]
    measures: tuple[MeasureKind, ...] = ()
    guard_missed: bool = False

    @property
    def simplified(self) -> bool:
        return self.action is Action.SIMPLIFIED


def recommend(evidence: Evidence, thresholds: TriageThresholds) -> Recommendation:
    """The recommended course for one notice item, with its reasons (see the module docstring)."""
    t = thresholds
    if evidence.licensed:
        ref = f" ({evidence.licence_ref})" if evidence.licence_ref else ""
        return Recommendation(
            Action.NO_ACTION,
            (f"the rights holder licensed this use{ref}: no infringement to remedy (seed 001 §3.2-3.3)",),
        )
    action, reason = _classify(evidence, t)
    reasons = [reason]
    measures: tuple[MeasureKind, ...] = ()
    missed = False
    if action is Action.ACT:
        m = [MeasureKind.DISABLE_OUTPUT, MeasureKind.BLOCK_REGENERATION, MeasureKind.NOTIFY_USER, MeasureKind.STRIKE]
        if evidence.prompt_named_work:
            m.insert(2, MeasureKind.BLOCK_PROMPT_TERMS)
            reasons.append("the prompt named the work: its terms go to the provider's term base (seed 004 ¶87)")
        if evidence.memorised:
            m[2:2] = [MeasureKind.MODEL_BLOCKLIST, MeasureKind.MODEL_REAUDIT]
            reasons.append(
                "the model reproduces the work itself: block it at the model level and re-audit (seed 004 ¶89)"
            )
        if evidence.user_model:
            m.insert(1, MeasureKind.REMOVE_MODEL)
            reasons.append(
                "the output came from a user-trained model: remove it and stop its publication and application "
                "services (seed 004 ¶26, the Ultraman LoRA case)"
            )
        measures = tuple(m)
        if evidence.guard_allowed:
            missed = True
            why = f" ({evidence.guard_reason})" if evidence.guard_reason else ""
            reasons.append(
                f"the guard saw this output and allowed it{why}: a miss of the automated means (DSA Art. 15(1)(e))"
            )
    if not evidence.guard_saw:
        reasons.append("the output did not pass the guard (generated before it ran, or outside it)")
    return Recommendation(action, tuple(reasons), measures, missed)


def _classify(e: Evidence, t: TriageThresholds) -> tuple[Action, str]:
    pct = _pct
    if e.kind is None:
        return Action.HUMAN_REVIEW, "nothing matched the named work: a person compares the material with it"
    if e.kind in COPY_KINDS:
        return Action.ACT, f"the material is a copy of the work ({e.kind.value} match)"
    if e.kind is MatchKind.PERCEPTUAL:
        if e.pdq_distance is None:
            return Action.HUMAN_REVIEW, "a perceptual match without its PDQ distance: a person compares the images"
        if e.pdq_distance <= t.pdq_max_distance:
            return Action.ACT, (
                f"the image matches the work perceptually (PDQ distance {e.pdq_distance} ≤ {t.pdq_max_distance})"
            )
        return Action.HUMAN_REVIEW, (
            f"PDQ distance {e.pdq_distance} is above {t.pdq_max_distance}: a person compares the images"
        )
    if e.coverage is None:
        return Action.HUMAN_REVIEW, f"a {e.kind.value} match without its coverage: a person weighs it"
    if e.coverage < t.de_minimis_share:
        return Action.SIMPLIFIED, (
            f"the match covers {pct(e.coverage)} of the output, below the de-minimis "
            f"{pct(t.de_minimis_share)}: simplified procedure (seed 003 §4.4 ③)"
        )
    if e.kind is MatchKind.SEMANTIC:
        if e.semantic_score is None or e.semantic_score < t.similarity:
            score = "unknown" if e.semantic_score is None else pct(e.semantic_score)
            return Action.HUMAN_REVIEW, (
                f"a paraphrase with similarity {score}, below the alert threshold "
                f"{pct(t.similarity)} (seed 003 §4.3): a person weighs it"
            )
        if e.coverage > t.protected_feature_share:
            return Action.ACT, (
                f"a paraphrase with similarity {pct(e.semantic_score)} ≥ {pct(t.similarity)} covering "
                f"{pct(e.coverage)} of the output, over {pct(t.protected_feature_share)} "
                "(seed 003 §4.3)"
            )
        return Action.HUMAN_REVIEW, (
            f"a paraphrase at the alert threshold covering {pct(e.coverage)}: a person weighs it (seed 003 §4.3)"
        )
    if e.coverage > t.protected_feature_share:
        return Action.ACT, (
            f"a passage of the work covers {pct(e.coverage)} of the output, over "
            f"{pct(t.protected_feature_share)} protected features (seed 003 §4.3)"
        )
    return Action.HUMAN_REVIEW, (
        f"a passage covers {pct(e.coverage)} of the output, between the de-minimis "
        f"{pct(t.de_minimis_share)} and {pct(t.protected_feature_share)}: a person weighs it"
    )


def _pct(x: float) -> str:
    return f"{x * 100:.1f} %".replace(".0 %", " %")
