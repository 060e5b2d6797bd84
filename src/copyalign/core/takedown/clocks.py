"""The deadlines of a takedown notice, per jurisdiction, each with the legal source it follows.

Where the law fixes a number the preset uses it and marks it ``binding``; where the law sets a standard
("expeditiously", "timely", "promptly") the preset holds the provider's published *target* (``binding`` is
false), which an operator may tighten or loosen in the policy profile. The numbers:

* **CN** — act within 24 hours of a valid notice (National Copyright Administration, 关于规范网盘服务版权秩序的
  通知, 2015); tell the complainant the outcome within the feedback limit the provider publishes (Interim
  Measures for the Management of Generative AI Services, 2023, Art. 15 requires one to be published; 48 hours
  as seed 003 §4.3 proposes for "content blocking and source tracing"); after a counter-notice (a statement
  of non-infringement) is forwarded, keep the measures 15 days from its arrival unless the complainant shows
  a complaint or suit, then end them promptly (E-Commerce Law Art. 43, the closest statutory figure for the
  "reasonable period" of Civil Code Art. 1196).
* **EU** — process notices and decide "in a timely, diligent, non-arbitrary and objective manner" (DSA Art.
  16(6)): a target; confirm receipt without undue delay (Art. 16(4)); internal complaints open for at least
  six months after a decision (Art. 20(1)) and decided in a timely manner (Art. 20(4)). The DSA has no
  restoration window: a measure is undone when a complaint reverses the decision.
* **US** — remove or disable access "expeditiously" (17 U.S.C. §512(c)(1)(C)): a target; forward a
  counter-notice promptly (§512(g)(2)(B)) and restore the material no sooner than 10 and no later than 14
  business days after receiving it, unless the complainant first reports a court action (§512(g)(2)(C)).
* **JP** — before removing, a provider may ask the poster whether it consents; with no objection within 7
  days of the inquiry the removal is safe from the poster's claim (Act on the Limitation of Liability of
  Specified Telecommunications Service Providers, now the Information Distribution Platform Act, Art. 3(2)(ii)).
  Decision targets are the provider's.
* **Simplified procedure** — de-minimis uses (below 5 % of protected features) are decided within 48 hours
  (seed 003 §4.4 ③), in every jurisdiction.

Every clock of the notice itself starts when the notice is *complete*: a notification that fails to comply
substantially does not count (17 U.S.C. §512(c)(3)(B)(i)), and Art. 16(3) DSA gives actual knowledge only
to a notice with the Art. 16(2) elements. Acknowledging receipt is the exception: it runs from receipt.

Example:
    >>> from datetime import datetime, UTC
    >>> t = NoticeTimes(received_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
    ...                 completed_at=datetime(2026, 3, 2, 10, tzinfo=UTC))
    >>> now = datetime(2026, 3, 3, 11, tzinfo=UTC)
    >>> [d.kind.value for d in overdue(compute_deadlines(t, preset_clocks("CN")), now)]
    ['acknowledge', 'act']
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

from copyalign.core.takedown._validate import to_utc_fields, utc
from copyalign.core.takedown.calendar import BusinessCalendar, HolidayRule, Span, Unit
from copyalign.errors import InvalidInputError


@dataclass(frozen=True)
class ClockRule:
    """One clock: how long, which law says so, and whether the number is the law's (binding) or a target."""

    span: Span
    source: str
    binding: bool = True


class RestoreFrom(enum.StrEnum):
    """The event a restoration window counts from: the counter-notice's receipt (US) or the arrival of the
    forwarded counter-notice at the complainant (CN)."""

    RECEIVED = "received"
    FORWARDED = "forwarded"


@dataclass(frozen=True)
class ClockProfile:
    jurisdiction: str
    calendar: BusinessCalendar
    acknowledge: ClockRule
    act: ClockRule
    decide: ClockRule
    simplified_decide: ClockRule
    forward_counter_notice: ClockRule
    complaint_decide: ClockRule
    complaint_window_months: int
    complaint_window_source: str
    restore_earliest: ClockRule | None = None
    restore_latest: ClockRule | None = None
    restore_from: RestoreFrom = RestoreFrom.RECEIVED
    restore_grace: ClockRule | None = None
    user_objection: ClockRule | None = None

    def __post_init__(self) -> None:
        closes = (self.restore_latest is not None) + (self.restore_grace is not None)
        if (self.restore_earliest is None and closes) or (self.restore_earliest is not None and closes != 1):
            raise InvalidInputError(
                "a restoration window has an earliest end and either a latest end or a grace after the earliest",
                field="restore_latest",
            )
        if self.complaint_window_months < 1:
            raise InvalidInputError("complaints stay open at least one month", field="complaint_window_months")


class DeadlineKind(enum.StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DECIDE = "decide"
    ACT = "act"
    FORWARD_COUNTER_NOTICE = "forward_counter_notice"
    RESTORE = "restore"
    USER_OBJECTION = "user_objection"
    COMPLAINT_DECIDE = "complaint_decide"


class DeadlineStatus(enum.StrEnum):
    PENDING = "pending"
    MET = "met"
    MET_LATE = "met_late"
    OVERDUE = "overdue"
    PREMATURE = "premature"  # done before the window opened (a restoration before the 10th US business day)


@dataclass(frozen=True)
class Deadline:
    kind: DeadlineKind
    due: datetime
    source: str
    binding: bool
    earliest: datetime | None = None
    met_at: datetime | None = None
    duty: bool = True  # False for a window that runs for the user (JP's objection), never overdue for the desk

    def __post_init__(self) -> None:
        to_utc_fields(self, "due", "earliest", "met_at")

    def status(self, now: datetime) -> DeadlineStatus:
        if self.met_at is not None:
            if self.earliest is not None and self.met_at < self.earliest:
                return DeadlineStatus.PREMATURE
            return DeadlineStatus.MET if self.met_at <= self.due else DeadlineStatus.MET_LATE
        return DeadlineStatus.OVERDUE if utc(now, "now") > self.due else DeadlineStatus.PENDING


@dataclass(frozen=True)
class NoticeTimes:
    """What happened to one notice, and when; ``None`` for what has not happened yet.

    ``upheld`` is None until the decision, then whether measures are due. ``simplified`` puts the decision on
    the de-minimis clock. ``court_action_at`` is when the complainant reported a court action or a complaint
    to the authorities, which keeps the measures in place.
    """

    received_at: datetime
    completed_at: datetime | None = None
    acknowledged_at: datetime | None = None
    decided_at: datetime | None = None
    upheld: bool | None = None
    simplified: bool = False
    acted_at: datetime | None = None
    user_inquired_at: datetime | None = None
    counter_notice_at: datetime | None = None
    counter_forwarded_at: datetime | None = None
    court_action_at: datetime | None = None
    restored_at: datetime | None = None
    complaint_filed_at: datetime | None = None
    complaint_decided_at: datetime | None = None

    def __post_init__(self) -> None:
        to_utc_fields(self, *(f.name for f in fields(self) if f.name.endswith("_at")))
        if self.received_at is None:
            raise InvalidInputError("received_at is required", field="received_at")
        order = [
            ("completed_at", "received_at"),
            ("decided_at", "completed_at"),
            ("counter_forwarded_at", "counter_notice_at"),
            ("complaint_decided_at", "complaint_filed_at"),
        ]
        for later, earlier in order:
            a, b = getattr(self, later), getattr(self, earlier)
            if a is not None and (b is None or a < b):
                raise InvalidInputError(f"{later} must come after {earlier}", field=later)


def compute_deadlines(times: NoticeTimes, profile: ClockProfile) -> tuple[Deadline, ...]:
    """Every deadline the notice has so far.

    A notice that is not complete has only the acknowledgement (and a complaint's); a rejected one has no act
    deadline; a restoration window opens with a counter-notice (from its forwarding, where the profile counts
    from there) and disappears once the complainant reports a court action before it closes.
    """
    cal = profile.calendar
    out = [_deadline(DeadlineKind.ACKNOWLEDGE, profile.acknowledge, cal, times.received_at, times.acknowledged_at)]
    if times.user_inquired_at is not None and profile.user_objection is not None:
        # Not a duty of the provider: the date after which removing is safe from the poster's claim.
        rule = profile.user_objection
        due = cal.period_end(times.user_inquired_at, rule.span)
        out.append(
            Deadline(
                DeadlineKind.USER_OBJECTION, due, rule.source, rule.binding, None, times.counter_notice_at, duty=False
            )
        )
    if times.completed_at is not None:
        decide = profile.simplified_decide if times.simplified else profile.decide
        out.append(_deadline(DeadlineKind.DECIDE, decide, cal, times.completed_at, times.decided_at))
        if times.upheld is not False:
            out.append(_deadline(DeadlineKind.ACT, profile.act, cal, times.completed_at, times.acted_at))
    if times.completed_at is not None and times.counter_notice_at is not None and times.acted_at is not None:
        out.append(
            _deadline(
                DeadlineKind.FORWARD_COUNTER_NOTICE,
                profile.forward_counter_notice,
                cal,
                times.counter_notice_at,
                times.counter_forwarded_at,
            )
        )
        restore = _restore(times, profile)
        if restore is not None:
            out.append(restore)
    if times.complaint_filed_at is not None:
        out.append(
            _deadline(
                DeadlineKind.COMPLAINT_DECIDE,
                profile.complaint_decide,
                cal,
                times.complaint_filed_at,
                times.complaint_decided_at,
            )
        )
    return tuple(out)


def _restore(times: NoticeTimes, profile: ClockProfile) -> Deadline | None:
    lo_rule, hi_rule = profile.restore_earliest, profile.restore_latest or profile.restore_grace
    if lo_rule is None or hi_rule is None:
        return None
    start = times.counter_notice_at if profile.restore_from is RestoreFrom.RECEIVED else times.counter_forwarded_at
    if start is None:
        return None
    if profile.restore_latest is not None:
        lo, hi = profile.calendar.window(start, lo_rule.span, hi_rule.span)
    else:  # "end the measures promptly" once the period has run: the grace counts from the window's opening
        lo = profile.calendar.period_end(start, lo_rule.span)
        hi = profile.calendar.period_end(lo, hi_rule.span)
    if times.court_action_at is not None and times.court_action_at <= hi and times.restored_at is None:
        return None  # §512(g)(2)(C) / E-Commerce Law Art. 43: the measures stay while the court decides
    source = hi_rule.source if lo_rule.source == hi_rule.source else f"{lo_rule.source}; {hi_rule.source}"
    return Deadline(DeadlineKind.RESTORE, hi, source, hi_rule.binding, earliest=lo, met_at=times.restored_at)


def _deadline(
    kind: DeadlineKind, rule: ClockRule, cal: BusinessCalendar, start: datetime, met_at: datetime | None
) -> Deadline:
    return Deadline(kind, cal.period_end(start, rule.span), rule.source, rule.binding, met_at=met_at)


def overdue(deadlines: Iterable[Deadline], now: datetime) -> tuple[Deadline, ...]:
    """The deadlines that passed unmet at ``now``, the most overdue first (what the desk queue shows in red)."""
    late = [d for d in deadlines if d.duty and d.status(now) is DeadlineStatus.OVERDUE]
    return tuple(sorted(late, key=lambda d: d.due))


def complaint_window(decided_at: datetime, profile: ClockProfile) -> datetime:
    """When an internal complaint against a decision made at ``decided_at`` can no longer be filed."""
    return profile.calendar.add_months(decided_at, profile.complaint_window_months)


def complaint_open(decided_at: datetime, filed_at: datetime, profile: ClockProfile) -> bool:
    """Whether a complaint filed at ``filed_at`` is within the window (DSA Art. 20(1): at least six months)."""
    return utc(decided_at, "decided_at") <= utc(filed_at, "filed_at") < complaint_window(decided_at, profile)


# -- presets ----------------------------------------------------------------------------------------------------

_SIMPLIFIED = ClockRule(Span(48, Unit.HOURS), "seed 003 §4.4 ③ (simplified procedure for de-minimis use, 48 hours)")
_GENAI_15 = "Interim Measures for the Management of Generative AI Services (2023) Art. 15"


def _cn() -> ClockProfile:
    return ClockProfile(
        jurisdiction="CN",
        calendar=BusinessCalendar("Asia/Shanghai"),
        acknowledge=ClockRule(Span(24, Unit.HOURS), f"{_GENAI_15} (timely acceptance of complaints)", binding=False),
        act=ClockRule(
            Span(24, Unit.HOURS),
            "NCAC 关于规范网盘服务版权秩序的通知 (2015): removal within 24 hours of a "
            "rights holder's notice; Civil Code Art. 1195 (necessary measures in time)",
        ),
        decide=ClockRule(
            Span(48, Unit.HOURS), f"{_GENAI_15} (published feedback time limit); seed 003 §4.3 (48 h)", binding=False
        ),
        simplified_decide=_SIMPLIFIED,
        forward_counter_notice=ClockRule(
            Span(24, Unit.HOURS), "Civil Code Art. 1196 (forward the statement in time)", binding=False
        ),
        restore_earliest=ClockRule(
            Span(15, Unit.CALENDAR_DAYS),
            "E-Commerce Law Art. 43 (15 days after the forwarded "
            "statement arrives); Civil Code Art. 1196 (reasonable period)",
        ),
        restore_grace=ClockRule(
            Span(1, Unit.BUSINESS_DAYS),
            "E-Commerce Law Art. 43 (then end the measures promptly: by the next business day is this profile's "
            "reading)",
            binding=False,
        ),
        restore_from=RestoreFrom.FORWARDED,
        complaint_decide=ClockRule(
            Span(15, Unit.CALENDAR_DAYS), f"{_GENAI_15}; seed 004 ¶88 (counter-notice and review)", binding=False
        ),
        complaint_window_months=6,
        complaint_window_source="seed 004 ¶88 (review open to users); six months as DSA Art. 20(1)",
    )


def _eu() -> ClockProfile:
    return ClockProfile(
        jurisdiction="EU",
        calendar=BusinessCalendar("Europe/Brussels"),
        acknowledge=ClockRule(
            Span(24, Unit.HOURS), "DSA Art. 16(4) (confirmation of receipt without undue delay)", binding=False
        ),
        act=ClockRule(
            Span(72, Unit.HOURS),
            "DSA Art. 16(6) (timely, diligent, non-arbitrary, objective); Art. 6(1)(b) (act expeditiously)",
            binding=False,
        ),
        decide=ClockRule(
            Span(72, Unit.HOURS),
            "DSA Art. 16(5)-(6) (decide in a timely manner, notify without undue delay)",
            binding=False,
        ),
        simplified_decide=_SIMPLIFIED,
        forward_counter_notice=ClockRule(
            Span(24, Unit.HOURS),
            "DSA Art. 20(4)-(5) (handle complaints timely, inform the complainant without undue delay)",
            binding=False,
        ),
        complaint_decide=ClockRule(
            Span(14, Unit.CALENDAR_DAYS), "DSA Art. 20(4) (timely, diligent, non-arbitrary)", binding=False
        ),
        complaint_window_months=6,
        complaint_window_source="DSA Art. 20(1) (at least six months following the decision)",
    )


def _us() -> ClockProfile:
    return ClockProfile(
        jurisdiction="US",
        calendar=BusinessCalendar("America/New_York", rule=HolidayRule.US_FEDERAL),
        acknowledge=ClockRule(
            Span(24, Unit.HOURS), "17 U.S.C. §512(c)(3)(B)(ii) (promptly contact a complainant)", binding=False
        ),
        act=ClockRule(Span(48, Unit.HOURS), "17 U.S.C. §512(c)(1)(C) (respond expeditiously)", binding=False),
        decide=ClockRule(Span(48, Unit.HOURS), "17 U.S.C. §512(c)(1)(C) (respond expeditiously)", binding=False),
        simplified_decide=_SIMPLIFIED,
        forward_counter_notice=ClockRule(
            Span(1, Unit.BUSINESS_DAYS),
            "17 U.S.C. §512(g)(2)(B) (promptly provide a copy of the counter notification)",
            binding=False,
        ),
        restore_earliest=ClockRule(
            Span(10, Unit.BUSINESS_DAYS), "17 U.S.C. §512(g)(2)(C) (not less than 10 business days)"
        ),
        restore_latest=ClockRule(
            Span(14, Unit.BUSINESS_DAYS), "17 U.S.C. §512(g)(2)(C) (nor more than 14 business days)"
        ),
        restore_from=RestoreFrom.RECEIVED,
        complaint_decide=ClockRule(
            Span(14, Unit.CALENDAR_DAYS), "provider's target (no US statutory appeal)", binding=False
        ),
        complaint_window_months=6,
        complaint_window_source="provider's policy; six months as DSA Art. 20(1)",
    )


def _jp() -> ClockProfile:
    return ClockProfile(
        jurisdiction="JP",
        calendar=BusinessCalendar("Asia/Tokyo"),
        acknowledge=ClockRule(Span(24, Unit.HOURS), "provider's target", binding=False),
        act=ClockRule(
            Span(7, Unit.CALENDAR_DAYS),
            "provider's target; Provider Liability Limitation Act Art. 3(2)(ii) (7-day inquiry to the poster)",
            binding=False,
        ),
        decide=ClockRule(Span(7, Unit.CALENDAR_DAYS), "provider's target", binding=False),
        simplified_decide=_SIMPLIFIED,
        forward_counter_notice=ClockRule(Span(24, Unit.HOURS), "provider's target", binding=False),
        user_objection=ClockRule(
            Span(7, Unit.CALENDAR_DAYS),
            "Provider Liability Limitation Act (Information "
            "Distribution Platform Act) Art. 3(2)(ii): 7 days from the inquiry",
        ),
        complaint_decide=ClockRule(Span(14, Unit.CALENDAR_DAYS), "provider's target", binding=False),
        complaint_window_months=6,
        complaint_window_source="provider's policy; six months as DSA Art. 20(1)",
    )


_PRESETS = {"CN": _cn, "EU": _eu, "US": _us, "JP": _jp}


def preset_clocks(jurisdiction: str) -> ClockProfile:
    """The preset clocks of ``CN``, ``EU``, ``US`` or ``JP``."""
    try:
        return _PRESETS[jurisdiction.upper()]()
    except (KeyError, AttributeError):
        raise InvalidInputError(
            f"no clock preset for {jurisdiction!r}; known: {', '.join(_PRESETS)}", field="jurisdiction"
        ) from None
