"""Policy profiles: every threshold, window, rate and default the system applies, in one validated object.

The seeds give numbers (a 30-day objection window, 48-hour complaint handling, 85 % similarity alerts, 3–8 %
tariffs); those are *defaults of a jurisdiction's rule*, never constants in code. A profile is a TOML file
parsed here into frozen Pydantic models that reject unknown keys, so a typo in an operator's file is an
error naming the key, not a silently ignored setting. Every field's description carries the legal source it
follows (``source``), which is what ``copyalign policy show`` and ``docs/policy.md`` print.

Presets ship for the regimes the seeds compare: ``cn`` (quasi-statutory licence), ``eu`` (Art. 4 TDM
opt-out), ``jp`` (Art. 30-4), ``us`` (fair use). Later capabilities add their own sections here.

Example:
    >>> p = parse_policy('[profile]\\nname = "x"\\njurisdiction = "EU"\\nrule = "r"\\nsource = "s"')
    >>> p.preferences.defaults["train-ai"]
    <Value.ALLOW: 'allow'>
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import to_jsonable_python

from copyalign.core.preferences import Purpose, Value, parse_jurisdiction
from copyalign.errors import ConfigurationError


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


class PolicyProfile(_Section):
    profile: ProfileInfo
    preferences: PreferenceSection = Field(default_factory=PreferenceSection)
    lookup: LookupSection = Field(default_factory=LookupSection)
    matching: MatchingSection = Field(default_factory=MatchingSection)
    log: LogSection = Field(default_factory=LogSection)


def parse_policy(text: str, *, origin: str = "policy") -> PolicyProfile:
    """Parse and validate a profile; errors name the file and the dotted key at fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return PolicyProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(f"{origin}: {where}: {first['msg']}", field=where) from exc


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
