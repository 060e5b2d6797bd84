"""The ``[takedown]`` section of a policy profile: the desk's clocks, thresholds and strike settings.

Like every section of :mod:`copyalign.core.policy` it is a frozen Pydantic model that rejects unknown keys
and carries each setting's legal source, which ``docs/policy.md`` prints. Spans are written as text —
``24h`` (hours), ``15d`` (calendar days), ``10bd`` (business days), or ``none`` where a clock does not apply —
so each clock is one documented key. The section turns itself into the pure objects the takedown modules
take: :meth:`TakedownSection.clocks`, :meth:`~TakedownSection.triage_thresholds`,
:meth:`~TakedownSection.strike_policy`, :meth:`~TakedownSection.unfounded_policy`.

Example:
    >>> s = TakedownSection(act="24h", restore_earliest="10bd", restore_latest="14bd")
    >>> str(s.clocks("US").restore_latest.span), s.clocks("US").restore_latest.binding
    ('14bd', True)
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from copyalign.core.takedown.calendar import BusinessCalendar, HolidayRule, Span, Unit
from copyalign.core.takedown.clocks import ClockProfile, ClockRule, RestoreFrom, preset_clocks
from copyalign.core.takedown.strikes import ComplainantStatus, Sanction, StrikePolicy, UnfoundedPolicy
from copyalign.core.takedown.triage import TriageThresholds
from copyalign.errors import InvalidInputError

_SPANS = ("acknowledge", "act", "decide", "simplified_decide", "forward_counter_notice", "complaint_decide")
_OPTIONAL_SPANS = ("restore_earliest", "restore_latest", "restore_grace", "user_objection")


def _src(source: str) -> dict[str, Any]:
    return {"source": source}


class TakedownSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = Field(
        default="UTC",
        description="IANA time zone in which the desk counts days (local midnight ends a day's period).",
        json_schema_extra=_src("FRCP 6(a); PRC Civil Code Arts. 201-203; Reg. (EEC) 1182/71 Art. 3"),
    )
    weekend: list[int] = Field(
        default_factory=lambda: [6, 7],
        description="ISO weekdays (1 = Monday ... 7 = Sunday) that are not business days.",
        json_schema_extra=_src("17 U.S.C. §512(g)(2)(C) (business days); FRCP 6(a)(6)"),
    )
    holidays: list[date] = Field(
        default_factory=list,
        description=(
            "Dates that are not business days (China: the State Council's annual holiday schedule). A period whose "
            "last day is a holiday or weekend day runs to the end of the next business day."
        ),
        json_schema_extra=_src("PRC Civil Code Art. 203; FRCP 6(a)(1)(C); Reg. (EEC) 1182/71 Art. 3(4)"),
    )
    workdays: list[date] = Field(
        default_factory=list,
        description="Weekend dates that are business days (China's make-up working days, 调休).",
        json_schema_extra=_src("State Council holiday schedules (国务院办公厅关于节假日安排的通知)"),
    )
    holiday_rule: str = Field(
        default="none",
        pattern="^(none|us-federal)$",
        description="Holidays computed by rule besides the listed ones: us-federal (the legal public holidays).",
        json_schema_extra=_src("5 U.S.C. §6103"),
    )
    acknowledge: str = Field(
        default="24h",
        description="Confirm receipt of a notice within this span of its receipt (runs even while incomplete).",
        json_schema_extra=_src("DSA Art. 16(4) (without undue delay); Interim Measures for GenAI Art. 15"),
    )
    act: str = Field(
        default="48h",
        description=(
            "Apply the measures of an upheld notice within this span of the notice becoming complete (an incomplete "
            "notice starts no clock)."
        ),
        json_schema_extra=_src("seed 003 §4.3 (blocking and source tracing within 48 h); 17 U.S.C. §512(c)(3)(B)"),
    )
    decide: str = Field(
        default="48h",
        description="Decide a complete notice, and tell the complainant, within this span.",
        json_schema_extra=_src("Interim Measures for GenAI Art. 15 (published feedback limit); DSA Art. 16(5)-(6)"),
    )
    simplified_decide: str = Field(
        default="48h",
        description="Decide a notice in the simplified procedure (de-minimis use) within this span.",
        json_schema_extra=_src("seed 003 §4.4 ③ (simplified arbitration of de-minimis use within 48 hours)"),
    )
    forward_counter_notice: str = Field(
        default="24h",
        description="Forward a complete counter-notice to the complainant within this span of receiving it.",
        json_schema_extra=_src("17 U.S.C. §512(g)(2)(B) (promptly); PRC Civil Code Art. 1196 (in time)"),
    )
    restore_earliest: str = Field(
        default="none",
        description=(
            "After a counter-notice, restore no sooner than this span has run (none: no restoration window; a "
            "measure is undone only when a complaint reverses the decision). US: 10bd; CN: 15d."
        ),
        json_schema_extra=_src("17 U.S.C. §512(g)(2)(C); PRC E-Commerce Law Art. 43"),
    )
    restore_latest: str = Field(
        default="none",
        description=(
            "... and no later than this span from the same start, unless the complainant reports a court action. "
            "US: 14bd."
        ),
        json_schema_extra=_src("17 U.S.C. §512(g)(2)(C) (nor more than 14 business days)"),
    )
    restore_grace: str = Field(
        default="none",
        description=(
            "Instead of restore_latest: restore within this span after the window opens, where the law says "
            '"promptly" once the period has run. CN: 1bd.'
        ),
        json_schema_extra=_src("PRC E-Commerce Law Art. 43 (end the measures promptly after the 15 days)"),
    )
    restore_from: str = Field(
        default="received",
        pattern="^(received|forwarded)$",
        description=(
            "Whether the restoration window counts from the counter-notice's receipt (US) or from the arrival of the "
            "forwarded counter-notice at the complainant (CN)."
        ),
        json_schema_extra=_src("17 U.S.C. §512(g)(2)(C) (following receipt); E-Commerce Law Art. 43 (after arrival)"),
    )
    user_objection: str = Field(
        default="none",
        description="Span a user has to object after the provider asks whether it consents to a removal (JP: 7d).",
        json_schema_extra=_src("JP Provider Liability Limitation Act Art. 3(2)(ii)"),
    )
    complaint_window_months: int = Field(
        default=6,
        ge=1,
        le=120,
        description="Months after a decision during which the internal complaint system accepts complaints.",
        json_schema_extra=_src("DSA Art. 20(1) (at least six months following the decision)"),
    )
    complaint_decide: str = Field(
        default="14d",
        description="Decide an internal complaint (or a counter-notice review) within this span of its filing.",
        json_schema_extra=_src("DSA Art. 20(4) (timely, diligent, non-arbitrary); seed 004 ¶88"),
    )
    de_minimis_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="A match covering less of the output than this share goes to the simplified procedure.",
        json_schema_extra=_src("seed 003 §4.4 ③ (de minimis: below 5 % of data features)"),
    )
    protected_feature_share: float = Field(
        default=0.15,
        ge=0,
        le=1,
        description="A passage or paraphrase covering more of the output than this share is acted on.",
        json_schema_extra=_src("seed 003 §4.3 (outputs with over 15 % protected data features are restricted)"),
    )
    similarity_threshold: float = Field(
        default=0.85,
        ge=0.85,
        le=1,
        description="Semantic similarity at or above which a paraphrase counts (never below 85 %).",
        json_schema_extra=_src("seed 003 §4.3 (alert thresholds no lower than 85 % similarity)"),
    )
    pdq_max_distance: int = Field(
        default=31,
        ge=0,
        le=31,
        description="Largest PDQ distance at which an image match is acted on; larger distances go to a person.",
        json_schema_extra=_src("Meta PDQ hashing paper (2019) §4; seed 004 ¶74-75"),
    )
    strike_expiry_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days after which a strike expires.",
        json_schema_extra=_src("seed 004 ¶85 (graduated response); YouTube copyright strikes (expire after 90 days)"),
    )
    strike_ladder: list[str] = Field(
        default_factory=lambda: ["warn", "restrict", "terminate"],
        min_length=1,
        description=(
            "Sanction for 1, 2, 3, ... active strikes (warn, restrict, suspend, terminate; never milder than the "
            "step before; the last applies beyond). Three active strikes terminate, as on YouTube."
        ),
        json_schema_extra=_src("seed 004 ¶84-85; 17 U.S.C. §512(i)(1)(A) (repeat-infringer termination)"),
    )
    suspend_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Length of a suspension the ladder imposes.",
        json_schema_extra=_src("seed 004 ¶84 (temporary suspension of services); DSA Art. 23(1)"),
    )
    unfounded_threshold: int = Field(
        default=3,
        ge=1,
        le=10_000,
        description="Manifestly unfounded notices within the window after which a complainant is warned, then limited.",
        json_schema_extra=_src("DSA Art. 23(2)-(3)(a) (absolute numbers in a given time frame)"),
    )
    unfounded_window_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        description="The time frame in which manifestly unfounded notices are counted.",
        json_schema_extra=_src("DSA Art. 23(3)(a)"),
    )
    unfounded_min_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="... and the least share of the complainant's decided notices they must also make up.",
        json_schema_extra=_src("DSA Art. 23(3)(b) (relative proportion)"),
    )
    unfounded_action: str = Field(
        default="deprioritise",
        pattern="^(deprioritise|refuse)$",
        description="What happens to such a complainant's notices, after a prior warning: deprioritised or refused.",
        json_schema_extra=_src("DSA Art. 23(2) (suspend the processing of notices, after a prior warning)"),
    )
    unfounded_period_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="For how long (a reasonable period of time).",
        json_schema_extra=_src("DSA Art. 23(2)"),
    )
    report_period: str = Field(
        default="annual",
        pattern="^(annual|six-monthly)$",
        description="Transparency report period: annual, or six-monthly for very large online platforms.",
        json_schema_extra=_src("Implementing Regulation (EU) 2024/2835 Art. 2; DSA Arts. 15(1), 42(1)"),
    )

    @field_validator(*_SPANS)
    @classmethod
    def _span(cls, v: str) -> str:
        try:
            return str(Span.parse(v))
        except InvalidInputError as exc:  # pydantic names the key when a ValueError is raised
            raise ValueError(exc.message) from exc

    @field_validator(*_OPTIONAL_SPANS)
    @classmethod
    def _optional_span(cls, v: str) -> str:
        return v if v == "none" else cls._span(v)

    @field_validator("strike_ladder")
    @classmethod
    def _ladder(cls, v: list[str]) -> list[str]:
        known = {m.value for m in Sanction}
        unknown = [s for s in v if s not in known]
        if unknown:
            raise ValueError(f"unknown sanction {unknown[0]!r}; use warn, restrict, suspend or terminate")
        try:
            StrikePolicy(ladder=tuple(Sanction(s) for s in v))
        except InvalidInputError as exc:
            raise ValueError(exc.message) from exc
        return v

    @model_validator(mode="after")
    def _consistent(self) -> TakedownSection:
        closes = (self.restore_latest != "none") + (self.restore_grace != "none")
        if (self.restore_earliest == "none" and closes) or (self.restore_earliest != "none" and closes != 1):
            raise ValueError("restore_earliest comes with one of restore_latest or restore_grace (or all are none)")
        if self.de_minimis_share > self.protected_feature_share:
            raise ValueError("de_minimis_share exceeds protected_feature_share")
        try:
            cal = self.calendar()
            if self.restore_latest != "none":
                now = cal.at(date(2026, 1, 5))  # any start: a window that opens after it closes does so everywhere
                cal.window(now, Span.parse(self.restore_earliest), Span.parse(self.restore_latest))
        except InvalidInputError as exc:
            raise ValueError(exc.message) from exc
        return self

    # -- the pure objects --------------------------------------------------------------------------------------

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            self.time_zone,
            frozenset(self.weekend),
            frozenset(self.holidays),
            frozenset(self.workdays),
            HolidayRule(self.holiday_rule),
        )

    def clocks(self, jurisdiction: str) -> ClockProfile:
        """The clocks of this section; where a span equals the jurisdiction's preset it keeps the preset's source
        and bindingness, otherwise it is the operator's setting."""
        try:
            preset: ClockProfile | None = preset_clocks(jurisdiction)
        except InvalidInputError:
            preset = None

        def rule(name: str) -> ClockRule | None:
            value = getattr(self, name)
            if value == "none":
                return None
            base = getattr(preset, name) if preset is not None else None
            if isinstance(base, ClockRule) and str(base.span) == value:
                return base
            follows = f"; the preset follows {base.source}" if isinstance(base, ClockRule) else ""
            return ClockRule(Span.parse(value), f"policy profile (operator's setting{follows})", binding=False)

        def required(name: str) -> ClockRule:
            r = rule(name)
            if r is None:  # the field validators refuse "none" here; kept for the type checker
                raise InvalidInputError(f"takedown.{name} cannot be none", field=name)
            return r

        return ClockProfile(
            jurisdiction=jurisdiction,
            calendar=self.calendar(),
            acknowledge=required("acknowledge"),
            act=required("act"),
            decide=required("decide"),
            simplified_decide=required("simplified_decide"),
            forward_counter_notice=required("forward_counter_notice"),
            complaint_decide=required("complaint_decide"),
            complaint_window_months=self.complaint_window_months,
            complaint_window_source=preset.complaint_window_source if preset else "policy profile",
            restore_earliest=rule("restore_earliest"),
            restore_latest=rule("restore_latest"),
            restore_grace=rule("restore_grace"),
            restore_from=RestoreFrom(self.restore_from),
            user_objection=rule("user_objection"),
        )

    def triage_thresholds(self) -> TriageThresholds:
        return TriageThresholds(
            self.protected_feature_share, self.similarity_threshold, self.de_minimis_share, self.pdq_max_distance
        )

    def strike_policy(self) -> StrikePolicy:
        return StrikePolicy(self.strike_expiry_days, tuple(Sanction(s) for s in self.strike_ladder), self.suspend_days)

    def unfounded_policy(self) -> UnfoundedPolicy:
        return UnfoundedPolicy(
            self.unfounded_threshold,
            self.unfounded_window_days,
            self.unfounded_min_share,
            ComplainantStatus(self.unfounded_action),
            self.unfounded_period_days,
        )


def check_jurisdiction(section: TakedownSection, jurisdiction: str) -> None:
    """The limits a jurisdiction's law puts on the section (a ValueError, for the profile's validator)."""
    if jurisdiction == "US":
        if "terminate" not in section.strike_ladder:
            raise ValueError("takedown.strike_ladder must include terminate for a US profile (17 U.S.C. §512(i)(1)(A))")
        if section.restore_earliest != "none":
            if section.restore_latest == "none":
                raise ValueError("a US profile restores within restore_earliest..restore_latest (§512(g)(2)(C))")
            lo, hi = Span.parse(section.restore_earliest), Span.parse(section.restore_latest)
            if (
                lo.unit is not Unit.BUSINESS_DAYS
                or hi.unit is not Unit.BUSINESS_DAYS
                or lo.amount < 10
                or hi.amount > 14
            ):
                raise ValueError("a US restoration window lies within 10bd..14bd (17 U.S.C. §512(g)(2)(C))")
    if jurisdiction == "EU" and section.complaint_window_months < 6:
        raise ValueError("takedown.complaint_window_months is at least 6 for an EU profile (DSA Art. 20(1))")
    if jurisdiction == "CN" and section.restore_earliest != "none":
        lo = Span.parse(section.restore_earliest)
        if lo.amount < (360 if lo.unit is Unit.HOURS else 15):
            raise ValueError("a CN restoration window opens no sooner than 15 days (E-Commerce Law Art. 43)")
