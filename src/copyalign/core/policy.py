"""Policy profiles: every threshold, window, rate and default the system applies, in one validated object.

The seeds give numbers (a 30-day objection window, 48-hour complaint handling, 85 % similarity alerts, 3–8 %
tariffs); those are *defaults of a jurisdiction's rule*, never constants in code. A profile is a TOML file
parsed here into frozen Pydantic models that reject unknown keys, so a typo in an operator's file is an
error naming the key, not a silently ignored setting. Every field's description carries the legal source it
follows (``source``), which is what ``copyalign policy show`` and ``docs/policy.md`` print.

Presets ship for the regimes the seeds compare: ``cn`` (quasi-statutory licence), ``eu`` (Art. 4 TDM
opt-out), ``jp`` (Art. 30-4), ``us`` (fair use). Later capabilities add their own sections here. Each preset
declares its jurisdiction's legal floors; an operator's file is read over its jurisdiction's preset and may go
below a floor only with an explicit override (:mod:`copyalign.core.floors`).

Example:
    >>> p = parse_policy('[profile]\\nname = "x"\\njurisdiction = "EU"\\nrule = "r"\\nsource = "s"')
    >>> p.preferences.defaults["train-ai"]
    <Value.ALLOW: 'allow'>
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python

from copyalign.core.floors import FLOOR_ERROR, Departure, Floor, Override, check, layer_over_preset
from copyalign.core.journey.profile import JourneySection
from copyalign.core.licensing.research import ResearchSection
from copyalign.core.licensing.tariffs import Tariff, Tier
from copyalign.core.registry.preferences import Purpose, Value, parse_jurisdiction
from copyalign.core.takedown.profile import TakedownSection, check_jurisdiction
from copyalign.errors import ConfigurationError, InvalidInputError


def _src(source: str) -> dict[str, Any]:
    return {"source": source}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProfileInfo(_Section):
    name: str = Field(description="Short name of the profile, shown in receipts and reports.")
    jurisdiction: str = Field(
        description="Jurisdiction whose rule the profile follows: CN, EU, JP, US or * for none.",
        json_schema_extra=_src("DESIGN.md, jurisdiction profiles"),
    )
    rule: str = Field(description="The legal rule the defaults implement, in one sentence.")
    source: str = Field(description="Where the rule comes from (statute, article, seed paper section).")

    @field_validator("jurisdiction")
    @classmethod
    def _known(cls, v: str) -> str:
        return parse_jurisdiction(v)


class PreferenceSection(_Section):
    defaults: dict[Purpose, Value] = Field(
        default_factory=lambda: dict.fromkeys(Purpose, Value.ALLOW),
        description=(
            "The value a purpose resolves to when neither the work nor its holder said anything. Under a "
            "default licence (CN) training is allowed with remuneration; under an opt-out regime (EU) it is "
            "allowed unless reserved; where no reservation binds (JP, US) it is allowed."
        ),
        json_schema_extra=_src("seed 001 §3.3 (default licence); DSM Directive Art. 4(3); JP Art. 30-4"),
    )
    opt_out_binding: bool = Field(
        default=True,
        description=(
            "Whether a recorded `deny` is a legally binding reservation in this jurisdiction (EU Art. 4(3): "
            "yes) or a request the developer honours voluntarily (JP Art. 30-4, US fair use). Reported with "
            "every lookup; the registry honours a deny either way."
        ),
        json_schema_extra=_src("DSM Directive Art. 4(3); JP Copyright Act Art. 30-4; 17 U.S.C. §107"),
    )

    @field_validator("defaults")
    @classmethod
    def _complete(cls, v: dict[Purpose, Value]) -> dict[Purpose, Value]:
        return {p: v.get(p, Value.ALLOW) for p in Purpose}


class LookupSection(_Section):
    iscc_max_distance: int = Field(
        default=5,
        ge=0,
        le=7,
        description=(
            "Largest Hamming distance between the 64-bit ISCC Content-Codes of a query and a registered work "
            "for a lookup to report the work as ISCC-similar. The index (4 bands of 16 bits, each probed "
            "with every 1-bit variant) finds every work within distance 7 exactly, hence the upper bound."
        ),
        json_schema_extra=_src("ISO 24138 (ISCC) similarity; seed 000 §4.2.1 (accurate identification)"),
    )


class RegistrySection(_Section):
    conflict_action: str = Field(
        default="flag",
        pattern="^(allow|flag|refuse)$",
        description=(
            "What registration does with a work that is a copy or near-duplicate (the matching engine's exact, "
            "normalized, near_duplicate or perceptual match) of a work another holder registered: allow it with "
            "a warning naming the other work and holder; flag it (registered, with the warning, and put on the "
            "operator's queue of conflicts to resolve: `copyalign works conflicts`, /conflicts); or refuse it "
            "(409 registration_conflict). Two holders claiming one work is the conflict a CMO must resolve "
            "before it licenses or pays for the work."
        ),
        json_schema_extra=_src(
            "seed 000 §4.2.1 (accurate registration of works and rights); CISAC / Content ID practice: "
            "ownership conflicts go to review, not first come first served"
        ),
    )
    conflict_min_share: float = Field(
        default=0.8,
        ge=0.5,
        le=1.0,
        description=(
            "A text whose shared passages with another holder's work cover at least this share of both texts "
            "counts as a near-duplicate too (a few words edited, which the MinHash estimate may miss); a text "
            "that merely quotes another, or is quoted whole inside a longer one, does not."
        ),
        json_schema_extra=_src("Broder 1997 (resemblance and containment); seed 000 §4.2.1"),
    )


class MatchingSection(_Section):
    min_passage_tokens: int = Field(
        default=20,
        ge=12,
        le=10_000,
        description=(
            "Shortest shared passage, in tokens (words; characters in Chinese and Japanese), that the matching "
            "engine reports as contained; shorter shared runs are stock phrases. At least 12, the winnowing "
            "guarantee length: every shared run that long is found."
        ),
        json_schema_extra=_src("seed 000 §4.2.1 (accurate identification); Azure protected material: 110 chars"),
    )
    near_duplicate_jaccard: float = Field(
        default=0.5,
        ge=0.1,
        le=1.0,
        description="MinHash Jaccard estimate at or above which a whole text is reported as a near duplicate.",
        json_schema_extra=_src("Broder 1997; datatrove / text-dedup defaults"),
    )
    pdq_max_distance: int = Field(
        default=31,
        ge=0,
        le=31,
        description=(
            "Largest PDQ Hamming distance (of 256 bits) at which an image matches a registered image or one of "
            "its crops; Meta's recommended threshold is 31, and the multi-index search answers up to 31."
        ),
        json_schema_extra=_src("Meta PDQ hashing paper (2019) §4; seed 003 §4.4 (filtering)"),
    )
    semantic_min_similarity: float = Field(
        default=0.85,
        ge=0.5,
        le=1.0,
        description=(
            "Cosine similarity of passage embeddings at or above which a text is reported as a semantic match "
            "(a paraphrase); used only when a text embedding model is configured (COPYALIGN_TEXT_EMBEDDER). "
            "Calibrate it for the model (benchmarks/matching_semantic.py measures the trade-off); the seed's "
            "85 % floor is for images (image_semantic_min_similarity), not text."
        ),
        json_schema_extra=_src("seed 004 ¶75 (semantic analysis for substantial similarity)"),
    )
    image_semantic_min_similarity: float = Field(
        default=0.85,
        ge=0.85,
        le=1.0,
        description=(
            "Cosine similarity of image embeddings at or above which an image is reported as a semantic match; "
            "used only when an image embedding model is configured (COPYALIGN_IMAGE_EMBEDDER). Never below "
            "85 %: the seed sets that floor for visual style-transfer outputs compared with the works database. "
            "(The perceptual match, pdq_max_distance at most 31 of 256 bits, is at least 87.9 % alike.)"
        ),
        json_schema_extra=_src("seed 003 §4.3 (visual outputs: alert threshold no lower than 85 % similarity)"),
    )


class LogSection(_Section):
    checkpoint_interval_seconds: int = Field(
        default=10,
        ge=1,
        le=86_400,
        description=(
            "How often a running server signs a new checkpoint when the log has grown. Receipts carry an "
            "inclusion proof once a checkpoint covers them."
        ),
        json_schema_extra=_src("seed 000 §4.2.2 (immutable, auditable records); RFC 9162 §4.10"),
    )


def _default_tariffs() -> list[Tariff]:
    return [
        Tariff(
            name="default",
            currency="CNY",
            description="Seed 003 §4.4's example: 3 % / 5 % / 8 % of commercial revenue by tier, 0.5 % non-profit.",
            tiers=[
                Tier(up_to=Decimal(1_000_000), rate=Decimal("0.03")),
                Tier(up_to=Decimal(10_000_000), rate=Decimal("0.05")),
                Tier(rate=Decimal("0.08")),
            ],
        )
    ]


class LicensingSection(_Section):
    notice_window_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description=(
            "Objection window a training notice gets when its developer asks for none; a developer may ask for "
            "a longer one, never for one shorter than minimum_window_days."
        ),
        json_schema_extra=_src("seed 001 §3.2 (notice, then at least 30 days to object)"),
    )
    minimum_window_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Shortest objection window any training notice may have.",
        json_schema_extra=_src("seed 001 §3.2; seed 002 §3.2"),
    )
    admin_share: Decimal = Field(
        default=Decimal("0.10"),
        ge=0,
        lt=1,
        description=(
            "Share of collected fees the CMO keeps for administration before distributing the rest to rights "
            "holders by measured use."
        ),
        json_schema_extra=_src("seed 001 §3.3 (collective management); CISAC: CMO costs typically 10-20 %"),
    )
    tariffs: list[Tariff] = Field(
        default_factory=_default_tariffs,
        min_length=1,
        description=(
            "Tariff schedules a training notice may name: commercial revenue tiers (marginal), non-profit rate, "
            "x feature_step per feature_increment of data features used, de-minimis flag (the simplified "
            "procedure's queue), per-work minimum, cap; work_weights (a weight per type of work, averaged over the "
            "measured use) and substitution (a market-substitution factor per purpose), 1 where the CMO set none."
        ),
        json_schema_extra=_src(
            "seed 003 §4.4 (3-8 % commercial, 0.5 % non-profit, x1.2 per 10 %, de minimis < 5 %); seed 000 §4.2.1 "
            "(type of work, market substitution)"
        ),
    )
    report_every_days: int = Field(
        default=90,
        ge=1,
        le=366,
        description=(
            "Reporting period of a notice's licence: after finalisation the developer reports its use for every "
            "period of this many days (a notice carries the value it was created under)."
        ),
        json_schema_extra=_src("seed 002 §3.2 (developers submit training-data use reports periodically)"),
    )
    report_grace_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description=(
            "Days after a period ends by which its usage report is due; later, the report is overdue: it is listed "
            "for the operator and the developer, and the outbox reminds the developer."
        ),
        json_schema_extra=_src("seed 002 §3.2 (periodic reports, compliance review); seed 000 §4.2.1 (supervision)"),
    )

    @model_validator(mode="after")
    def _consistent(self) -> LicensingSection:
        if self.notice_window_days < self.minimum_window_days:
            raise ValueError(
                f"notice_window_days ({self.notice_window_days}) is below minimum_window_days "
                f"({self.minimum_window_days})"
            )
        names = [t.name for t in self.tariffs]
        if len(set(names)) != len(names):
            raise ValueError(f"tariff names must be unique: {names}")
        return self

    def tariff(self, name: str) -> Tariff:
        for t in self.tariffs:
            if t.name == name:
                return t
        raise InvalidInputError(
            f"no tariff {name!r} in this profile; known: {', '.join(t.name for t in self.tariffs)}", field="tariff"
        )


class ScanSection(_Section):
    purpose: Purpose = Field(
        default=Purpose.TRAIN_GENAI,
        description=(
            "The use a corpus scan checks preferences and opt-out signals for (train-genai also honours a "
            "train-ai reservation)."
        ),
        json_schema_extra=_src("draft-ietf-aipref-vocab; seed 004 ¶56 (lawful sourcing for training)"),
    )
    unlicensed_action: str = Field(
        default="hold",
        pattern="^(hold|drop|keep)$",
        description=(
            "What a scan does with an item containing a registered work whose use needs remuneration "
            "(allow-with-remuneration) when no finalised notice of the developer licenses it: hold it until a "
            "notice does, drop it, or keep it (and count it as unlicensed use in the report)."
        ),
        json_schema_extra=_src("seed 001 §3.2-3.3 (use under the default licence follows a notice)"),
    )
    dedup_jaccard: float = Field(
        default=0.8,
        ge=0.5,
        le=1.0,
        description="MinHash Jaccard estimate at or above which two corpus texts are near duplicates (--dedup).",
        json_schema_extra=_src("seed 004 ¶56 (deduplication); datatrove / NeMo Curator use about 0.8"),
    )
    dedup_pdq_distance: int = Field(
        default=12,
        ge=0,
        le=15,
        description=(
            "Largest PDQ distance at which two corpus images are near duplicates (--dedup). At most 15: the "
            "16 chunks of 16 bits then guarantee a shared chunk, so no pair within it is missed."
        ),
        json_schema_extra=_src("seed 004 ¶56 (deduplication); Meta PDQ (31 is its cross-copy match threshold)"),
    )
    uncaptured_action: str = Field(
        default="hold",
        pattern="^(hold|drop|keep)$",
        description=(
            "What a scan does with a web item (an http(s) URL) whose site's files (robots.txt, TDMRep, ai.txt, RSL) "
            "were never captured: its reservations cannot have been checked, so it is held (reason "
            "signals:not-captured) until `signals fetch` or `scan --fetch-signals` captures them, or dropped. "
            "keep records the reason and counts the item, never silently."
        ),
        json_schema_extra=_src(
            "DSM Directive Art. 4(3) (machine-readable reservations); AI Act Art. 53(1)(c); seed 004 ¶56"
        ),
    )
    agents: list[str] = Field(
        default_factory=list,
        description=(
            "Crawler tokens checked in robots.txt, X-Robots-Tag and meta robots besides the developer's own "
            "(--agent) and the known AI training crawlers (GPTBot, CCBot, Google-Extended, ClaudeBot, ...)."
        ),
        json_schema_extra=_src("RFC 9309; seed 004 ¶56 (honour reservations of rights)"),
    )

    @field_validator("purpose")
    @classmethod
    def _training(cls, v: Purpose) -> Purpose:
        if v not in (Purpose.TRAIN_AI, Purpose.TRAIN_GENAI):
            raise ValueError(f"a scan checks a training purpose (train-ai or train-genai), not {v}")
        return v


class GuardSection(_Section):
    prompt_reference: str = Field(
        default="allow",
        pattern="^(allow|warn|block)$",
        description=(
            "What the prompt filter does with a prompt that only mentions a protected work, character or creator "
            "(a question, summary, review, news, citation: asking about a book is not asking for it). The "
            "mention is recorded as a prompt.reference reason with this action either way."
        ),
        json_schema_extra=_src("seed 004 ¶72-73 (intent decides; no overly broad restrictions)"),
    )
    prompt_imitate: str = Field(
        default="block",
        pattern="^(allow|warn|block)$",
        description='A prompt asking to imitate a protected work or character ("in the style of", "模仿").',
        json_schema_extra=_src("seed 004 ¶72 (contextual inference of infringing intent)"),
    )
    prompt_reproduce: str = Field(
        default="block",
        pattern="^(allow|warn|block)$",
        description='A prompt asking to reproduce a protected work ("the lyrics of", "full text of", "原文").',
        json_schema_extra=_src("seed 004 ¶72 (contextual inference of infringing intent)"),
    )
    prompt_creator_style: str = Field(
        default="block",
        pattern="^(allow|warn|block)$",
        description="A prompt asking for the style of a creator who asked for protection.",
        json_schema_extra=_src("seed 004 ¶72 (infringing intent); issue 7 (creators who asked for protection)"),
    )
    prompt_depict: str = Field(
        default="warn",
        pattern="^(allow|warn|block)$",
        description=(
            'A prompt asking to depict a character that its rights holder curated ("draw X with long hair", '
            '"画一个X", a new story starring X); a character the operator lists without a holder is only '
            "mentioned. The cn preset blocks: a Chinese court required the service to become unable to generate "
            "the character for such prompts."
        ),
        json_schema_extra=_src("seed 004 ¶12, ¶89 (Guangzhou Ultraman: technical measures against generation)"),
    )
    prompt_continuation: str = Field(
        default="block",
        pattern="^(allow|warn|block)$",
        description=(
            'A prompt asking to continue a protected work: its next chapter or a sequel by name ("续写X"), or a '
            "passage of a registered text (at least matching.min_passage_tokens long, found by the matching "
            'engine in the prompt) with a continue/complete/next request ("continue this text: ...").'
        ),
        json_schema_extra=_src("seed 004 ¶72 (infringing intent), ¶59 (models reproduce verbatim passages)"),
    )
    prompt_circumvent: str = Field(
        default="warn",
        pattern="^(allow|warn|block)$",
        description='A prompt that tries to get around the filter ("ignore previous instructions", "绕过").',
        json_schema_extra=_src("seed 004 ¶72 (pattern recognition of circumvention attempts)"),
    )
    min_term_chars: int = Field(
        default=4,
        ge=2,
        le=100,
        description=(
            "Shortest name (after normalisation; a Chinese character counts as two) that enters the prompt "
            'filter\'s term base: shorter titles such as "It" would flag ordinary prompts.'
        ),
        json_schema_extra=_src("seed 004 ¶73 (avoid overly broad restrictions)"),
    )
    title_min_words: int = Field(
        default=2,
        ge=1,
        le=20,
        description=(
            "Fewest words a registered work's title needs to enter the term base by itself (a Chinese title "
            'counts as words once it has min_term_chars); one-word titles such as "Home" enter only as terms '
            "that the holder or operator curates."
        ),
        json_schema_extra=_src("seed 004 ¶73 (avoid overly broad restrictions)"),
    )
    min_passage_chars: int = Field(
        default=150,
        ge=20,
        le=100_000,
        description=(
            "Shortest passage of a registered text, in characters of the output, that blocks an output; shorter "
            "passages the engine finds only warn. GitHub Copilot's duplicate filter uses about 150 characters."
        ),
        json_schema_extra=_src("seed 004 ¶74-75 (output filtering); GitHub Copilot duplicate detection"),
    )
    max_copied_share: float = Field(
        default=0.15,
        gt=0.0,
        le=1.0,
        description=(
            "Share of an output's characters copied from registered texts (the union of the passages found) "
            "above which the output blocks, however short the passages: a 135-character output copied whole is "
            "a copy. Counted only from min_copied_chars, so that a quoted title is not a copy."
        ),
        json_schema_extra=_src("seed 003 §4.3 (outputs with over 15 % protected features are restricted)"),
    )
    min_copied_chars: int = Field(
        default=40,
        ge=1,
        le=100_000,
        description="Fewest copied characters for max_copied_share to apply (a title or a stock phrase is not).",
        json_schema_extra=_src("seed 004 ¶73 (avoid overly broad restrictions)"),
    )
    semantic_action: str = Field(
        default="warn",
        pattern="^(allow|warn|block)$",
        description="What a semantic (paraphrase) match of an output does, when an embedding model is configured.",
        json_schema_extra=_src("seed 004 ¶75 (semantic analysis for substantial similarity)"),
    )
    perceptual_action: str = Field(
        default="block",
        pattern="^(allow|warn|block)$",
        description="What a perceptual (PDQ) image match of an output does; exact copies always block.",
        json_schema_extra=_src("seed 004 ¶74-75 (output filtering)"),
    )
    disclosure: str = Field(
        default="[AI生成内容 · AI-generated content]",
        min_length=1,
        max_length=200,
        description="The visible label added to text outputs (GB 45438-2025 explicit label).",
        json_schema_extra=_src("seed 004 ¶80(a), (c), ¶82; GB 45438-2025 (explicit labels)"),
    )
    image_label: str = Field(
        default="AI生成 · AI-generated",
        min_length=1,
        max_length=60,
        description="The visible mark drawn on image outputs (at least 5 % of the shorter side high).",
        json_schema_extra=_src("seed 004 ¶80(a), ¶82; GB 45438-2025 (explicit labels on images)"),
    )
    keep_content: bool = Field(
        default=False,
        description=(
            "Keep the raw prompt and output in the generation trace (otherwise only their digests); kept content "
            "is erased after retention_days."
        ),
        json_schema_extra=_src("seed 004 ¶80(b) (traceability to the session); GDPR Art. 5(1)(c) (data minimisation)"),
    )
    retention_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        description="How long kept prompts and outputs stay in a trace before they are erased (digests stay).",
        json_schema_extra=_src("seed 004 ¶80(b); GDPR Art. 5(1)(e) (storage limitation)"),
    )
    watermark_128_min_side: int = Field(
        default=1024,
        ge=512,
        description=(
            "Images whose shorter side is at least this many pixels carry the 128-bit watermark (trace id, time and "
            "a 32-bit tag); smaller ones the 64-bit mark (trace id and a 24-bit tag). The 128-bit mode reads on "
            "photographs from 512 px, but not on strong textures below about 1,024 px (benchmarks/"
            "watermark_robustness.py)."
        ),
        json_schema_extra=_src("seed 003 §4.4 (128-bit watermarks carrying a hash and a timestamp)"),
    )


class AuditSection(_Section):
    prefix_tokens: int = Field(
        default=50,
        ge=1,
        le=8192,
        description="Tokens of a work given to the model as an extraction window's prefix (32 compares with Pythia).",
        json_schema_extra=_src("seed 004 ¶58-59 (regurgitation tests); Carlini et al. 2022 (50-token prefixes)"),
    )
    suffix_tokens: int = Field(
        default=50,
        ge=1,
        le=8192,
        description="Tokens of the true continuation the model's greedy output is compared with.",
        json_schema_extra=_src("Carlini et al. 2022 (k-extractability, 50-token suffixes); Biderman et al. 2023"),
    )
    stride_tokens: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Tokens between the starts of two windows of a work.",
        json_schema_extra=_src("Cooper et al. 2025 (sliding windows over whole books)"),
    )
    max_windows_per_work: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Most windows probed per work; a longer work's windows are spread evenly over its length.",
        json_schema_extra=_src("seed 004 ¶59 (proportionate testing)"),
    )
    discover_n: int = Field(
        default=1000,
        ge=1,
        le=10**12,
        description="Samples n of (n, p)-discoverability: the suffix is drawn at least once in n samples ...",
        json_schema_extra=_src("Hayes et al. 2024; Cooper et al. 2025 (probabilistic extraction)"),
    )
    discover_p: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="... with probability at least p.",
        json_schema_extra=_src("Hayes et al. 2024; Cooper et al. 2025 (probabilistic extraction)"),
    )
    min_passage_words: int = Field(
        default=12,
        ge=5,
        le=10_000,
        description=(
            "Words of a work a continuation must contain, by the matching engine's passage rules, to count as a "
            "contained passage (12: the engine's guaranteed-detection length)."
        ),
        json_schema_extra=_src("seed 004 ¶58 (verbatim regurgitation); copyalign matching engine"),
    )
    min_k: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="Share k of a text's least likely tokens that Min-K% and Min-K%++ average.",
        json_schema_extra=_src("Shi et al. 2024 (Min-K% Prob); Zhang et al. 2025 (Min-K%++)"),
    )
    membership_tokens: int = Field(
        default=128,
        ge=16,
        le=8192,
        description="Tokens of each text (from its start) that membership scores read; the same for every text.",
        json_schema_extra=_src("Shi et al. 2024 (fixed-length WikiMIA texts)"),
    )
    blind_margin: float = Field(
        default=0.05,
        ge=0,
        le=0.5,
        description=(
            "A membership result is inconclusive when a model-free classifier's AUC comes within this margin of the "
            "best score's (and is itself above chance)."
        ),
        json_schema_extra=_src("Das et al. 2024 (blind baselines beat membership attacks)"),
    )
    bootstrap_rounds: int = Field(
        default=1000,
        ge=100,
        le=100_000,
        description="Bootstrap resamples for the intervals of AUC and TPR at 1 % and 5 % FPR.",
        json_schema_extra=_src("Efron and Tibshirani 1993 (percentile bootstrap)"),
    )
    canary_min_bits: float = Field(
        default=10.0,
        ge=1,
        le=64,
        description=(
            "Exposure (bits) at which a canary counts as memorised; a canary never seen exceeds b bits with "
            "probability 2^-b. In spaces smaller than 2^bits, ranking first counts."
        ),
        json_schema_extra=_src("seed 004 ¶58 (canaries); Carlini et al. 2019 (The Secret Sharer, exposure)"),
    )
    block_purpose: Purpose = Field(
        default=Purpose.TRAIN_GENAI,
        description="Purpose whose deny makes a work's n-grams blocked at decoding time (audit run --block).",
        json_schema_extra=_src("seed 004 ¶59 (post-training measures); draft-ietf-aipref-vocab"),
    )
    blocker_ngram: int = Field(
        default=8,
        ge=2,
        le=256,
        description=(
            "n of the word n-grams of protected works the decoding-time blocker refuses to complete (words as"
            " the matching engine counts them: a change of spacing or case does not escape it)."
        ),
        json_schema_extra=_src("Ippolito et al. 2023 (MemFree decoding); Wei et al. 2024 (CoTaEval)"),
    )
    takedown_margin: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description=(
            "A measure is evaded when a probe's near-verbatim scores (ROUGE-L, contained share) exceed those of "
            "non-member controls by more than this."
        ),
        json_schema_extra=_src("Wei et al. 2024 (CoTaEval: near-verbatim, controls)"),
    )
    gate_rate_margin: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description=(
            "Regression gate: largest allowed rise of the extracted, contained and discoverable window shares over "
            "the baseline."
        ),
        json_schema_extra=_src("seed 004 ¶58 (regression tests for memorisation)"),
    )
    gate_score_margin: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Regression gate: largest allowed rise of the mean Pythia score over the baseline.",
        json_schema_extra=_src("seed 004 ¶58 (regression tests for memorisation); Biderman et al. 2023"),
    )
    gate_exposure_margin_bits: float = Field(
        default=1.0,
        ge=0,
        le=64,
        description="Regression gate: largest allowed rise of the mean exposure of inserted canaries (bits).",
        json_schema_extra=_src("seed 004 ¶58 (canaries, regression tests)"),
    )

    def gate_margins(self) -> dict[str, float]:
        """The regression gate's metrics and their margins, in report order."""
        return {
            "extraction_rate": self.gate_rate_margin,
            "contained_rate": self.gate_rate_margin,
            "discoverable_rate": self.gate_rate_margin,
            "pythia_mean": self.gate_score_margin,
            "canary_exposure_mean": self.gate_exposure_margin_bits,
        }


class PolicyProfile(_Section):
    """A whole profile. ``floors`` come from the jurisdiction's preset; ``overrides`` are an operator's explicit,
    reasoned departures from them (:mod:`copyalign.core.floors`)."""

    profile: ProfileInfo
    preferences: PreferenceSection = Field(default_factory=PreferenceSection)
    lookup: LookupSection = Field(default_factory=LookupSection)
    registry: RegistrySection = Field(default_factory=RegistrySection)
    matching: MatchingSection = Field(default_factory=MatchingSection)
    log: LogSection = Field(default_factory=LogSection)
    licensing: LicensingSection = Field(default_factory=LicensingSection)
    scan: ScanSection = Field(default_factory=ScanSection)
    guard: GuardSection = Field(default_factory=GuardSection)
    audit: AuditSection = Field(default_factory=AuditSection)
    takedown: TakedownSection = Field(default_factory=TakedownSection)
    journey: JourneySection = Field(default_factory=JourneySection)
    research: ResearchSection = Field(default_factory=ResearchSection)
    floors: dict[str, Floor] = Field(
        default_factory=dict,
        description=(
            "Legal floors of the jurisdiction, declared by its preset: the setting, its bound (at_least, at_most, "
            "one_of, equals) and the source. A profile below a floor is refused unless overridden; an operator's "
            "file may add floors, never lower the preset's."
        ),
        json_schema_extra=_src("seed 001 §3.2 (CN: at least 30 days); DSM Directive Art. 4(3); see the presets"),
    )
    overrides: list[Override] = Field(
        default_factory=list,
        description=(
            "Explicit departures from floors: setting and reason (20 characters or more). Shown by policy show, on "
            "the portal and on every notice issued under the profile, whose log entry carries them."
        ),
        json_schema_extra=_src("seed 000 §4.2.2 (transparent, auditable rules); seed 001 §3.2 (compliance review)"),
    )

    _over_preset: str | None = PrivateAttr(default=None)

    @property
    def over_preset(self) -> str | None:
        """The preset an operator's file was read over (what it omits is that preset's), or None."""
        return self._over_preset

    @model_validator(mode="after")
    def _floors_kept(self) -> PolicyProfile:
        check(self.model_dump(mode="json", exclude={"floors", "overrides"}), self.floors, list(self.overrides))
        return self

    def departures(self) -> list[Departure]:
        """The overrides in force, each with its value, the floor it departs from and the floor's source."""
        return check(self.model_dump(mode="json", exclude={"floors", "overrides"}), self.floors, list(self.overrides))

    @field_validator("takedown")
    @classmethod
    def _takedown_fits_jurisdiction(cls, v: TakedownSection, info: ValidationInfo) -> TakedownSection:
        profile = info.data.get("profile")
        if isinstance(profile, ProfileInfo):
            check_jurisdiction(v, profile.jurisdiction)
        return v


def _toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{origin}: not valid TOML: {exc}") from exc


def parse_policy(text: str, *, origin: str = "policy", presets: Mapping[str, str] | None = None) -> PolicyProfile:
    """Parse and validate a profile; errors name the file and the dotted key at fault.

    ``presets`` maps jurisdictions to their preset's text: a file whose ``profile.jurisdiction`` has one is read
    over it (:func:`copyalign.core.floors.layer_over_preset`), so that what the file omits keeps the preset's
    value and the preset's floors bind it.
    """
    data = _toml(text, origin)
    profile = data.get("profile")
    jurisdiction = profile.get("jurisdiction") if isinstance(profile, dict) else None
    base = presets.get(str(jurisdiction).upper()) if presets and isinstance(jurisdiction, str) else None
    if base is not None:
        data = layer_over_preset(_toml(base, f"preset {str(jurisdiction).lower()}"), data, origin=origin)
    try:
        prof = PolicyProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == FLOOR_ERROR:
            ctx = first.get("ctx", {})
            raise ConfigurationError(f"{origin}: {ctx['message']}", field=str(ctx["setting"])) from exc
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"{origin}: {where}: {first['msg']}", field=where) from exc
    if base is not None:
        prof._over_preset = str(jurisdiction).lower()
    return prof


def settings_table() -> list[tuple[str, str, str, str]]:
    """(dotted key, default, description, source) for every setting: feeds the docs and their test."""
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            ann = info.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            default = (
                ""
                if info.is_required()
                else json.dumps(to_jsonable_python(info.get_default(call_default_factory=True)), ensure_ascii=False)
            )
            rows.append((prefix + name, default, info.description or "", str(extra.get("source", ""))))

    walk(PolicyProfile, "")
    return rows
