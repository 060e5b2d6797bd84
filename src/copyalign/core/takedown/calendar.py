"""Business-day calendars per jurisdiction, and the arithmetic of legal periods on them.

The takedown desk runs on clocks that the law counts in three units: hours (CN: remove within 24 hours of a
valid notice), calendar days (CN: measures kept 15 days after the counter-notice arrives) and business days
(US: restore no sooner than 10 and no later than 14 business days after a counter-notice, 17 U.S.C.
§512(g)(2)(C)). Hours are elapsed time, so they are added in UTC and a daylight-saving change neither adds
nor loses one. Days are counted the way courts count them, and the rules agree across the regimes we serve:

* the day of the event is not counted; counting starts with the next day (FRCP 6(a)(1)(A); PRC Civil Code
  Art. 201; Regulation (EEC, Euratom) No 1182/71 Art. 3(1); Japanese Civil Code Art. 140);
* a period ends when its last day ends, at local midnight (Civil Code Art. 203; Reg. 1182/71 Art. 3(2));
* a period whose last day is a weekend day or a holiday runs on to the end of the next business day (FRCP
  6(a)(1)(C); Civil Code Art. 203; Reg. 1182/71 Art. 3(4); Japanese Civil Code Art. 142).

"Local" is the calendar's IANA time zone (``zoneinfo``). A wall time that a spring-forward skips moves forward
by the gap; a wall time that a fall-back repeats means its first occurrence. Instants come back in UTC (Python
compares aware datetimes that share a zone by wall time, which is wrong across a fall-back hour); show them with
:meth:`BusinessCalendar.local`. :meth:`BusinessCalendar.window`
reads "no sooner than X days" as "after the X-day period has run", which is the conservative reading: a
restoration inside the window it returns is lawful whichever way a court counts the first day.

Holidays are configurable per profile. China's are announced each year by the State Council together with
make-up working days on weekends, so a calendar also takes ``workdays`` that override the weekend. US federal
holidays follow a fixed rule (5 U.S.C. §6103) and are computed.

Example:
    >>> from datetime import datetime, UTC
    >>> us = BusinessCalendar("America/New_York", rule=HolidayRule.US_FEDERAL)
    >>> start = datetime(2026, 6, 30, 15, 0, tzinfo=UTC)   # a Tuesday; 4 July 2026 is a Saturday
    >>> us.add_business_days(start, 3).date().isoformat()   # Friday 3 July is the observed holiday
    '2026-07-06'
    >>> lo, hi = us.window(start, Span(10, Unit.BUSINESS_DAYS), Span(14, Unit.BUSINESS_DAYS))
    >>> us.local(lo).isoformat(), us.local(hi).isoformat()
    ('2026-07-16T00:00:00-04:00', '2026-07-22T00:00:00-04:00')
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from copyalign.core.takedown._validate import aware, utc
from copyalign.errors import InvalidInputError

# No calendar in use has a gap of business days this long; a longer search means a calendar with none at all.
_MAX_SEARCH_DAYS = 3 * 366


class Unit(enum.StrEnum):
    HOURS = "hours"
    CALENDAR_DAYS = "calendar_days"
    BUSINESS_DAYS = "business_days"


_SUFFIX = {Unit.HOURS: "h", Unit.CALENDAR_DAYS: "d", Unit.BUSINESS_DAYS: "bd"}
_SPAN = re.compile(r"^\s*(\d{1,5})\s*(h|d|bd)\s*$")


@dataclass(frozen=True)
class Span:
    """An amount of hours, calendar days or business days; written ``24h``, ``15d``, ``10bd`` in profiles."""

    amount: int
    unit: Unit

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or not 0 <= self.amount <= 99_999:
            raise InvalidInputError(
                f"a span's amount must be a whole number 0..99999, not {self.amount!r}", field="amount"
            )
        if not isinstance(self.unit, Unit):
            raise InvalidInputError(f"unknown span unit {self.unit!r}", field="unit")

    @classmethod
    def parse(cls, text: str, *, field: str = "span") -> Span:
        m = _SPAN.match(text) if isinstance(text, str) else None
        if m is None:
            raise InvalidInputError(
                f"{text!r} is not a span: write a whole number and h (hours), d (calendar days) or bd (business "
                "days), e.g. 24h, 15d, 10bd",
                field=field,
            )
        unit = next(u for u, s in _SUFFIX.items() if s == m.group(2))
        return cls(int(m.group(1)), unit)

    def __str__(self) -> str:
        return f"{self.amount}{_SUFFIX[self.unit]}"


class HolidayRule(enum.StrEnum):
    """Holidays a calendar computes by itself, besides the dates listed in ``holidays``."""

    NONE = "none"
    US_FEDERAL = "us-federal"


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (0 = Monday) of a month; n = -1 for the last."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    # 5 U.S.C. §6103(b) and Executive Order 11582: Saturday holidays are observed on Friday, Sunday ones on Monday.
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


@functools.lru_cache(maxsize=64)
def us_federal_holidays(year: int) -> frozenset[date]:
    """The legal public holidays of 5 U.S.C. §6103(a) as observed in ``year`` (Inauguration Day excluded)."""

    def fixed_and_floating(y: int) -> list[date]:
        days = [
            _observed(date(y, 1, 1)),  # New Year's Day
            _nth_weekday(y, 1, 0, 3),  # Birthday of Martin Luther King, Jr.
            _nth_weekday(y, 2, 0, 3),  # Washington's Birthday
            _nth_weekday(y, 5, 0, -1),  # Memorial Day
            _observed(date(y, 7, 4)),  # Independence Day
            _nth_weekday(y, 9, 0, 1),  # Labor Day
            _nth_weekday(y, 10, 0, 2),  # Columbus Day
            _observed(date(y, 11, 11)),  # Veterans Day
            _nth_weekday(y, 11, 3, 4),  # Thanksgiving Day
            _observed(date(y, 12, 25)),  # Christmas Day
        ]
        if y >= 2021:  # Juneteenth National Independence Day, added on 17 June 2021
            days.append(_observed(date(y, 6, 19)))
        return days

    days = [d for y in (year - 1, year, year + 1) for d in fixed_and_floating(y)]
    return frozenset(d for d in days if d.year == year)


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days are business days in one jurisdiction, in its local time zone.

    Args:
        time_zone: IANA zone name (``Asia/Shanghai``, ``Europe/Berlin``, ``America/New_York``).
        weekend: ISO weekdays that are not business days (6 = Saturday, 7 = Sunday).
        holidays: dates that are not business days.
        workdays: dates that are business days even on a weekend (China's make-up working days).
        rule: holidays computed by rule (``us-federal``).
        roll_last_day: a period whose last day is not a business day runs to the end of the next one.
    """

    time_zone: str = "UTC"
    weekend: frozenset[int] = frozenset({6, 7})
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    rule: HolidayRule = HolidayRule.NONE
    roll_last_day: bool = True

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise InvalidInputError(f"unknown time zone {self.time_zone!r}", field="time_zone") from exc
        object.__setattr__(self, "weekend", frozenset(self.weekend))
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "workdays", frozenset(self.workdays))
        if not all(isinstance(d, int) and 1 <= d <= 7 for d in self.weekend) or len(self.weekend) > 6:
            raise InvalidInputError("weekend lists ISO weekdays 1..7 and leaves at least one", field="weekend")
        if self.holidays & self.workdays:
            both = sorted(self.holidays & self.workdays)[0]
            raise InvalidInputError(f"{both} is both a holiday and a make-up workday", field="workdays")
        object.__setattr__(self, "rule", HolidayRule(self.rule))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    # -- days -------------------------------------------------------------------------------------------------

    def is_business_day(self, d: date) -> bool:
        if d in self.workdays:
            return True
        if d in self.holidays or (self.rule is HolidayRule.US_FEDERAL and d in us_federal_holidays(d.year)):
            return False
        return d.isoweekday() not in self.weekend

    def next_business_day(self, d: date) -> date:
        """The first business day strictly after ``d``."""
        for i in range(1, _MAX_SEARCH_DAYS):
            nxt = d + timedelta(days=i)
            if self.is_business_day(nxt):
                return nxt
        raise InvalidInputError(f"no business day within three years after {d}", field="holidays")

    def on_or_after(self, d: date) -> date:
        return d if self.is_business_day(d) else self.next_business_day(d)

    def nth_business_day_after(self, d: date, n: int) -> date:
        """The n-th business day after ``d``, not counting ``d`` itself (n ≥ 1)."""
        _count(n)
        for _ in range(n):
            d = self.next_business_day(d)
        return d

    def business_days_between(self, a: date, b: date) -> int:
        """How many business days fall in (a, b]; 0 when b ≤ a."""
        return sum(1 for i in range(1, (b - a).days + 1) if self.is_business_day(a + timedelta(days=i)))

    # -- instants ---------------------------------------------------------------------------------------------

    def local(self, instant: datetime) -> datetime:
        return aware(instant).astimezone(self.tz)

    def at(self, d: date, wall: time = time(0)) -> datetime:
        """The instant (UTC) at which the local clock shows ``wall`` on ``d``; gaps move forward, repeats mean the
        first occurrence."""
        naive = datetime.combine(d, wall.replace(tzinfo=None, fold=0))
        # fold=0 maps a skipped wall time with the offset in force before the change, which lands after the gap.
        return naive.replace(tzinfo=self.tz).astimezone(UTC)

    def add_hours(self, start: datetime, hours: int | float) -> datetime:
        """``hours`` of elapsed time later: a 24-hour clock is 24 real hours across a DST change."""
        return utc(start) + timedelta(hours=hours)

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """The same local wall time ``days`` later (23 or 25 hours for a day that changes the clock)."""
        _count(days, minimum=0)
        loc = self.local(start)
        return self.at(loc.date() + timedelta(days=days), loc.timetz())

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The same local wall time on the ``days``-th business day after the start's local date."""
        _count(days, minimum=0)
        if days == 0:
            return utc(start)
        loc = self.local(start)
        return self.at(self.nth_business_day_after(loc.date(), days), loc.timetz())

    # -- legal periods ----------------------------------------------------------------------------------------

    def last_day(self, start: datetime, span: Span) -> date:
        """The last day of a period of whole days that starts the day after ``start`` (local)."""
        begin = self.local(start).date()
        if span.unit is Unit.BUSINESS_DAYS:
            return self.on_or_after(begin) if span.amount == 0 else self.nth_business_day_after(begin, span.amount)
        if span.unit is Unit.CALENDAR_DAYS:
            last = begin + timedelta(days=span.amount)
            return self.on_or_after(last) if self.roll_last_day else last
        raise InvalidInputError("an hours span has no last day", field="unit")

    def period_end(self, start: datetime, span: Span) -> datetime:
        """When a period of ``span`` that runs from ``start`` has run: "no later than" deadlines.

        Hours end ``span`` hours later; days end at local midnight after the period's last day.
        """
        if span.unit is Unit.HOURS:
            return self.add_hours(start, span.amount)
        return self.at(self.last_day(start, span) + timedelta(days=1))

    def window(self, start: datetime, earliest: Span, latest: Span) -> tuple[datetime, datetime]:
        """(no sooner than, no later than), both counted from ``start``; the first must not pass the second."""
        lo, hi = self.period_end(start, earliest), self.period_end(start, latest)
        if lo > hi:
            raise InvalidInputError(f"the window opens ({earliest}) after it closes ({latest})", field="earliest")
        return lo, hi

    def add_months(self, start: datetime, months: int) -> datetime:
        """End of the day ``months`` months after the start's local date (clamped to the month's last day;
        Reg. 1182/71 Art. 3(2)(c)), rolled to a business day as other periods are."""
        _count(months, minimum=0)
        d = self.local(start).date()
        y, m = divmod(d.month - 1 + months, 12)
        year, month = d.year + y, m + 1
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        last = min(d.day, (nxt - timedelta(days=1)).day)
        end = date(year, month, last)
        if self.roll_last_day:
            end = self.on_or_after(end)
        return self.at(end + timedelta(days=1))


def _count(n: int, *, minimum: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
        raise InvalidInputError(f"a count of days must be a whole number ≥ {minimum}, not {n!r}", field="days")
