"""The quantities of the EU harmonised transparency report, from plain records of the desk's work.

Commission Implementing Regulation (EU) 2024/2835 lays down the templates for the reports of DSA Arts. 15,
24 and 42 (Annex I, quantitative template) and the reporting periods (Art. 2: the calendar year, or for very
large platforms the half-years 1 January-30 June and 1 July-31 December). The sheets computed here are the
ones a takedown desk feeds, named for the template's sections:

* ``notices`` — §1.3, DSA Art. 15(1)(b): notices received, by type of alleged illegal content; those from
  trusted flaggers; the items they name; actions taken, by ground (law or terms) and restriction; notices
  processed by automated means; the **median time to action**.
* ``own_initiative`` — §1.4, Art. 15(1)(c): measures taken on the provider's initiative, by ground and
  restriction, how many detected by automated means and how many decided *solely* by them.
* ``complaints_suspensions`` — §1.5, Arts. 15(1)(d) and 24(1)(b): complaints received, decided, by outcome
  (upheld, partially reversed, reversed), the median time to decide; suspensions imposed under Art. 23, by
  reason (manifestly illegal content, manifestly unfounded notices, manifestly unfounded complaints).
* ``automated_means`` — §1.6, Art. 15(1)(e): indicators of accuracy of the automated means. Here, the
  guard's precision and recall measured against upheld decisions: a guard flag (block or warn) on an item
  later found infringing is a true positive; an item found infringing that the guard let through a false
  negative; a flag on an item found not infringing a false positive.

Each function returns :class:`Row` tuples (sheet, indicator, breakdown, value, unit), ready for CSV or JSON.
Times are medians in hours; a median or a ratio with no data is ``None`` (reported empty, never zero). The
template's exact cell labels are the service's to map; the quantities are these.

Example:
    >>> from datetime import datetime, timedelta, UTC
    >>> p = reporting_period("annual", 2026)
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> recs = [NoticeRecord("a", t, acted_at=t + timedelta(hours=h), ground=Ground.LAW) for h in (2, 4, 30)]
    >>> [(r.breakdown, r.value) for r in notices_sheet(recs, p) if r.indicator == "median_time_to_action"]
    [('total', 4.0), ('trusted_flaggers', None)]
"""

from __future__ import annotations

import enum
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from copyalign.core.takedown._validate import aware, parse_enum, to_utc_fields, utc
from copyalign.core.takedown.sor_vocab import (
    AutomatedDecision,
    Category,
    DecisionAccount,
    DecisionMonetary,
    DecisionProvision,
    DecisionVisibility,
)
from copyalign.core.takedown.states import COMPLAINT_OUTCOMES, ComplaintState
from copyalign.errors import InvalidInputError

RESTRICTIONS = frozenset(
    m.value for e in (DecisionVisibility, DecisionMonetary, DecisionProvision, DecisionAccount) for m in e
)
_IP = Category.INTELLECTUAL_PROPERTY_INFRINGEMENTS.value


class Ground(enum.StrEnum):
    LAW = "illegal_content"
    TERMS = "incompatible_content"


class SuspensionReason(enum.StrEnum):
    MANIFESTLY_ILLEGAL_CONTENT = "manifestly_illegal_content"
    UNFOUNDED_NOTICES = "manifestly_unfounded_notices"
    UNFOUNDED_COMPLAINTS = "manifestly_unfounded_complaints"


def _restrictions(values: Iterable[str]) -> tuple[str, ...]:
    out = tuple(values)
    for v in out:
        if v not in RESTRICTIONS:
            raise InvalidInputError(
                f"unknown restriction {v!r}; use the statement of reasons' decision values", field="restrictions"
            )
    return out


@dataclass(frozen=True)
class NoticeRecord:
    notice_id: str
    received_at: datetime
    items: int = 1
    trusted_flagger: bool = False
    category: str = _IP
    acted_at: datetime | None = None
    ground: Ground | None = None
    restrictions: tuple[str, ...] = ()
    automated_processing: bool = False

    def __post_init__(self) -> None:
        to_utc_fields(self, "received_at", "acted_at")
        if self.acted_at is not None and self.acted_at < self.received_at:
            raise InvalidInputError("acted_at is before received_at", field="acted_at")
        if isinstance(self.items, bool) or not isinstance(self.items, int) or self.items < 1:
            raise InvalidInputError("a notice names at least one item", field="items")
        parse_enum(Category, self.category, "category")
        if self.ground is not None:
            object.__setattr__(self, "ground", parse_enum(Ground, self.ground, "ground"))
        if self.acted_at is not None and self.ground is None:
            raise InvalidInputError("an action has a ground (law or terms)", field="ground")
        object.__setattr__(self, "restrictions", _restrictions(self.restrictions))


@dataclass(frozen=True)
class OwnInitiativeRecord:
    decided_at: datetime
    ground: Ground
    restrictions: tuple[str, ...]
    automated_detection: bool
    automated_decision: AutomatedDecision
    category: str = _IP

    def __post_init__(self) -> None:
        to_utc_fields(self, "decided_at")
        object.__setattr__(self, "ground", parse_enum(Ground, self.ground, "ground"))
        object.__setattr__(
            self, "automated_decision", parse_enum(AutomatedDecision, self.automated_decision, "automated_decision")
        )
        parse_enum(Category, self.category, "category")
        object.__setattr__(self, "restrictions", _restrictions(self.restrictions))


@dataclass(frozen=True)
class ComplaintRecord:
    filed_at: datetime
    decided_at: datetime | None = None
    outcome: ComplaintState | None = None

    def __post_init__(self) -> None:
        to_utc_fields(self, "filed_at", "decided_at")
        if (self.decided_at is None) != (self.outcome is None):
            raise InvalidInputError("a decided complaint has both a decision time and an outcome", field="outcome")
        if self.decided_at is not None and self.decided_at < self.filed_at:
            raise InvalidInputError("decided_at is before filed_at", field="decided_at")
        if self.outcome is not None:
            outcome = parse_enum(ComplaintState, self.outcome, "outcome")
            if outcome not in COMPLAINT_OUTCOMES:
                raise InvalidInputError("the outcome is upheld, partially_reversed or reversed", field="outcome")
            object.__setattr__(self, "outcome", outcome)


@dataclass(frozen=True)
class SuspensionRecord:
    imposed_at: datetime
    reason: SuspensionReason

    def __post_init__(self) -> None:
        to_utc_fields(self, "imposed_at")
        object.__setattr__(self, "reason", parse_enum(SuspensionReason, self.reason, "reason"))


@dataclass(frozen=True)
class AccuracySample:
    """One item whose truth is known: did the guard flag it, and was it found infringing?"""

    decided_at: datetime
    flagged: bool
    infringing: bool

    def __post_init__(self) -> None:
        to_utc_fields(self, "decided_at")


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC
    end: datetime  # UTC, exclusive
    label: str

    def __contains__(self, instant: datetime) -> bool:
        return self.start <= utc(instant) < self.end


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(f"unknown time zone {time_zone!r}", field="time_zone") from exc


def reporting_period(kind: str, year: int, half: int | None = None, *, time_zone: str = "UTC") -> Period:
    """A reporting period of Implementing Regulation 2024/2835 Art. 2: ``annual`` or ``six-monthly`` (half 1 or 2)."""
    tz = _zone(time_zone)
    if isinstance(year, bool) or not isinstance(year, int) or not 2020 <= year <= 9998:
        raise InvalidInputError("year is 2020..9998", field="year")
    if kind == "annual":
        if half is not None:
            raise InvalidInputError("an annual period has no half", field="half")
        return Period(_utc(year, 1, tz), _utc(year + 1, 1, tz), str(year))
    if kind == "six-monthly":
        if half == 1:
            return Period(_utc(year, 1, tz), _utc(year, 7, tz), f"{year}-H1")
        if half == 2:
            return Period(_utc(year, 7, tz), _utc(year + 1, 1, tz), f"{year}-H2")
        raise InvalidInputError("a six-monthly period is half 1 or 2", field="half")
    raise InvalidInputError(f"a reporting period is annual or six-monthly, not {kind!r}", field="kind")


def _utc(year: int, month: int, tz: ZoneInfo) -> datetime:
    return datetime(year, month, 1, tzinfo=tz).astimezone(UTC)


_PERIOD_TEXT = re.compile(r"^(\d{4})(?:-?[Hh]([12]))?$")


def parse_period(text: str, *, time_zone: str = "UTC") -> Period:
    """A period named as people write it: ``2026`` (annual), ``2026H1`` or ``2026-H2`` (six-monthly).

    Example:
        >>> parse_period("2026H1").label
        '2026-H1'
    """
    m = _PERIOD_TEXT.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise InvalidInputError(
            f"a reporting period is a year (2026) or a half-year (2026H1, 2026-H2), not {text!r}", field="period"
        )
    year, half = int(m.group(1)), m.group(2)
    if half is None:
        return reporting_period("annual", year, time_zone=time_zone)
    return reporting_period("six-monthly", year, int(half), time_zone=time_zone)


def previous_period(kind: str, instant: datetime, *, time_zone: str = "UTC") -> Period:
    """The last whole period of ``kind`` before the one that contains ``instant`` (the one a report is due for)."""
    current = period_of(kind, instant, time_zone=time_zone)
    return period_of(kind, current.start - timedelta(seconds=1), time_zone=time_zone)


def period_of(kind: str, instant: datetime, *, time_zone: str = "UTC") -> Period:
    """The reporting period of ``kind`` that contains ``instant``."""
    local = aware(instant, "instant").astimezone(_zone(time_zone))
    half = None if kind == "annual" else (1 if local.month <= 6 else 2)
    return reporting_period(kind, local.year, half, time_zone=time_zone)


@dataclass(frozen=True)
class Row:
    sheet: str
    indicator: str
    breakdown: str
    value: int | float | None
    unit: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def median_hours(durations_h: Sequence[float]) -> float | None:
    return float(statistics.median(durations_h)) if durations_h else None


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def notices_sheet(records: Iterable[NoticeRecord], period: Period) -> tuple[Row, ...]:
    sheet = "notices"
    rs = [r for r in records if r.received_at in period]
    acted = [r for r in rs if r.acted_at is not None]
    rows = [Row(sheet, "notices_received", "total", len(rs), "count")]
    rows += [
        Row(sheet, "notices_received", f"category:{c}", n, "count")
        for c, n in sorted(Counter(r.category for r in rs).items())
    ]
    rows.append(Row(sheet, "notices_received", "trusted_flaggers", sum(r.trusted_flagger for r in rs), "count"))
    rows.append(Row(sheet, "items_in_notices", "total", sum(r.items for r in rs), "count"))
    rows.append(Row(sheet, "notices_with_action", "total", len(acted), "count"))
    rows += _by_ground_and_restriction(sheet, "actions", ((r.ground, r.restrictions) for r in acted))
    rows.append(
        Row(sheet, "notices_processed_by_automated_means", "total", sum(r.automated_processing for r in rs), "count")
    )
    hours = [(r.acted_at - r.received_at).total_seconds() / 3600 for r in acted if r.acted_at is not None]
    rows.append(Row(sheet, "median_time_to_action", "total", median_hours(hours), "hours"))
    trusted = [h for h, r in zip(hours, acted, strict=True) if r.trusted_flagger]
    rows.append(Row(sheet, "median_time_to_action", "trusted_flaggers", median_hours(trusted), "hours"))
    return tuple(rows)


def own_initiative_sheet(records: Iterable[OwnInitiativeRecord], period: Period) -> tuple[Row, ...]:
    sheet = "own_initiative"
    rs = [r for r in records if r.decided_at in period]
    rows = [Row(sheet, "measures", "total", len(rs), "count")]
    rows += _by_ground_and_restriction(sheet, "measures", ((r.ground, r.restrictions) for r in rs))
    rows.append(Row(sheet, "detected_by_automated_means", "total", sum(r.automated_detection for r in rs), "count"))
    for d in AutomatedDecision:
        rows.append(
            Row(sheet, "decisions", f"automation:{d.value}", sum(r.automated_decision is d for r in rs), "count")
        )
    return tuple(rows)


def complaints_sheet(
    complaints: Iterable[ComplaintRecord], suspensions: Iterable[SuspensionRecord], period: Period
) -> tuple[Row, ...]:
    sheet = "complaints_suspensions"
    filed = [c for c in complaints if c.filed_at in period]
    decided = [c for c in filed if c.decided_at is not None]
    rows = [
        Row(sheet, "complaints_received", "total", len(filed), "count"),
        Row(sheet, "complaints_decided", "total", len(decided), "count"),
    ]
    for outcome in (ComplaintState.UPHELD, ComplaintState.PARTIALLY_REVERSED, ComplaintState.REVERSED):
        rows.append(
            Row(
                sheet,
                "complaints_decided",
                f"outcome:{outcome.value}",
                sum(c.outcome is outcome for c in decided),
                "count",
            )
        )
    hours = [(c.decided_at - c.filed_at).total_seconds() / 3600 for c in decided if c.decided_at is not None]
    rows.append(Row(sheet, "median_time_to_decision", "total", median_hours(hours), "hours"))
    sus = [s for s in suspensions if s.imposed_at in period]
    rows.append(Row(sheet, "suspensions", "total", len(sus), "count"))
    for reason in SuspensionReason:
        rows.append(Row(sheet, "suspensions", f"reason:{reason.value}", sum(s.reason is reason for s in sus), "count"))
    return tuple(rows)


def automated_means_sheet(samples: Iterable[AccuracySample], period: Period) -> tuple[Row, ...]:
    sheet = "automated_means"
    ss = [s for s in samples if s.decided_at in period]
    tp = sum(s.flagged and s.infringing for s in ss)
    fp = sum(s.flagged and not s.infringing for s in ss)
    fn = sum(not s.flagged and s.infringing for s in ss)
    tn = len(ss) - tp - fp - fn
    return (
        Row(sheet, "guard_samples", "total", len(ss), "count"),
        Row(sheet, "guard_outcomes", "true_positive", tp, "count"),
        Row(sheet, "guard_outcomes", "false_positive", fp, "count"),
        Row(sheet, "guard_outcomes", "false_negative", fn, "count"),
        Row(sheet, "guard_outcomes", "true_negative", tn, "count"),
        Row(sheet, "guard_precision", "total", ratio(tp, tp + fp), "ratio"),
        Row(sheet, "guard_recall", "total", ratio(tp, tp + fn), "ratio"),
    )


def transparency_report(
    period: Period,
    *,
    notices: Iterable[NoticeRecord] = (),
    own_initiative: Iterable[OwnInitiativeRecord] = (),
    complaints: Iterable[ComplaintRecord] = (),
    suspensions: Iterable[SuspensionRecord] = (),
    samples: Iterable[AccuracySample] = (),
) -> dict[str, tuple[Row, ...]]:
    """Every sheet for ``period``, keyed by sheet name."""
    return {
        "notices": notices_sheet(notices, period),
        "own_initiative": own_initiative_sheet(own_initiative, period),
        "complaints_suspensions": complaints_sheet(complaints, suspensions, period),
        "automated_means": automated_means_sheet(samples, period),
    }


def _by_ground_and_restriction(
    sheet: str, indicator: str, pairs: Iterable[tuple[Ground | None, tuple[str, ...]]]
) -> list[Row]:
    counts: Counter[tuple[str, str]] = Counter()
    for ground, restrictions in pairs:
        g = ground.value if ground is not None else "none"
        for r in restrictions or ("unspecified",):
            counts[(g, r)] += 1
    return [Row(sheet, indicator, f"ground:{g}|restriction:{r}", n, "count") for (g, r), n in sorted(counts.items())]
