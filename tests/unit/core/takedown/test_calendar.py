from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.takedown.calendar import BusinessCalendar, HolidayRule, Span, Unit, us_federal_holidays
from copyalign.errors import InvalidInputError

ZONES = ["America/New_York", "Europe/Berlin", "Asia/Shanghai", "UTC", "Australia/Lord_Howe", "America/Havana"]
# Instants near the 2026 DST changes of the zones above (Lord Howe moves 30 minutes; Havana at midnight).
TRANSITIONS = [
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York spring forward
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York fall back
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Berlin spring forward
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Berlin fall back
    datetime(2026, 4, 4, 15, tzinfo=UTC),  # Lord Howe
    datetime(2026, 3, 8, 5, tzinfo=UTC),  # Havana
]


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    if draw(st.booleans()):
        base = draw(st.sampled_from(TRANSITIONS))
        return base + timedelta(minutes=draw(st.integers(-5 * 24 * 60, 5 * 24 * 60)))
    return draw(st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31), timezones=st.just(UTC)))


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    zone = draw(st.sampled_from(ZONES))
    holidays = draw(st.frozensets(st.dates(date(2020, 1, 1), date(2031, 12, 31)), max_size=30))
    rule = draw(st.sampled_from(list(HolidayRule)))
    weekend = draw(st.sampled_from([frozenset({6, 7}), frozenset({5, 6}), frozenset({7}), frozenset()]))
    return BusinessCalendar(zone, weekend, holidays, frozenset(), rule)


def _gap_free(cal: BusinessCalendar, d: date, wall: time) -> bool:
    """Whether the wall time exists on ``d`` in the calendar's zone."""
    return cal.local(cal.at(d, wall)).time() == wall.replace(tzinfo=None, fold=0)


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=instants(), hours=st.integers(0, 24 * 40))
def test_hours_are_elapsed_time_across_dst(cal: BusinessCalendar, start: datetime, hours: int) -> None:
    end = cal.add_hours(start, hours)
    assert end - start == timedelta(hours=hours)
    assert end.utcoffset() == timedelta(0)  # instants come back in UTC


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=instants(), n=st.integers(1, 40))
def test_business_days_land_on_a_business_day_n_business_days_later(
    cal: BusinessCalendar, start: datetime, n: int
) -> None:
    loc = cal.local(start)
    end = cal.local(cal.add_business_days(start, n))
    assert cal.is_business_day(end.date())
    assert cal.business_days_between(loc.date(), end.date()) == n
    assert end > start
    if _gap_free(cal, end.date(), loc.time()):
        assert end.time() == loc.time()
    else:  # a skipped wall time moves forward by the gap, never back
        assert end.replace(tzinfo=None) > datetime.combine(end.date(), loc.time())


@settings(max_examples=200, deadline=None)
@given(
    cal=calendars(),
    start=instants(),
    n=st.integers(0, 30),
    unit=st.sampled_from([Unit.BUSINESS_DAYS, Unit.CALENDAR_DAYS]),
)
def test_day_periods_end_at_local_midnight_after_their_last_day(
    cal: BusinessCalendar, start: datetime, n: int, unit: Unit
) -> None:
    end = cal.period_end(start, Span(n, unit))
    last = cal.last_day(start, Span(n, unit))
    assert end > start
    assert end == cal.at(last + timedelta(days=1))
    if _gap_free(cal, last + timedelta(days=1), time(0)):
        assert cal.local(end).time() == time(0)
    begin = cal.local(start).date()
    if unit is Unit.BUSINESS_DAYS:
        assert cal.is_business_day(last)
        assert cal.business_days_between(begin, last) == max(n, 1 if not cal.is_business_day(begin) else 0)
    else:  # calendar days: the n-th day, carried past weekends and holidays (FRCP 6(a)(1)(C); Civil Code Art. 203)
        assert last >= begin + timedelta(days=n)
        assert cal.is_business_day(last)
        assert all(not cal.is_business_day(begin + timedelta(days=k)) for k in range(n, (last - begin).days))


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), start=instants(), a=st.integers(0, 25), b=st.integers(0, 25), unit=st.sampled_from(list(Unit)))
def test_longer_periods_never_end_sooner(cal: BusinessCalendar, start: datetime, a: int, b: int, unit: Unit) -> None:
    lo, hi = sorted((a, b))
    assert cal.period_end(start, Span(lo, unit)) <= cal.period_end(start, Span(hi, unit))


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), start=instants(), lo=st.integers(1, 12), extra=st.integers(0, 6))
def test_a_restoration_window_is_lawful_under_either_reading(
    cal: BusinessCalendar, start: datetime, lo: int, extra: int
) -> None:
    """'No sooner than lo business days following receipt': at the window's opening lo whole business days have
    passed after the day of receipt; at its close no more than lo + extra have begun."""
    opens, closes = cal.window(start, Span(lo, Unit.BUSINESS_DAYS), Span(lo + extra, Unit.BUSINESS_DAYS))
    assert start < opens <= closes
    begin = cal.local(start).date()
    assert cal.business_days_between(begin, cal.local(opens).date() - timedelta(days=1)) >= lo
    assert cal.business_days_between(begin, cal.local(closes).date() - timedelta(days=1)) == lo + extra


def test_spring_forward_and_fall_back_in_new_york() -> None:
    ny = BusinessCalendar("America/New_York")
    sat = datetime(2026, 3, 7, 12, tzinfo=ZoneInfo("America/New_York"))  # EST, the day before spring forward
    sun = ny.add_calendar_days(sat, 1)
    assert (ny.local(sun).hour, sun - sat) == (12, timedelta(hours=23))
    assert ny.local(ny.add_hours(sat, 24)).hour == 13
    gap = ny.local(ny.at(date(2026, 3, 8), time(2, 30)))  # 02:30 does not exist that day
    assert (gap.hour, gap.minute, gap.utcoffset()) == (3, 30, timedelta(hours=-4))
    twice = ny.local(ny.at(date(2026, 11, 1), time(1, 30)))  # 01:30 happens twice; the first is meant
    assert twice.utcoffset() == timedelta(hours=-4)
    # Aware datetimes sharing a zone compare by wall time; the calendar's UTC instants do not fall into that trap.
    first, second = ny.at(date(2026, 11, 1), time(1, 30)), ny.add_hours(ny.at(date(2026, 11, 1), time(1, 10)), 1)
    assert second > first and ny.local(second).time() < ny.local(first).time()


def test_berlin_fall_back_day_has_25_hours() -> None:
    be = BusinessCalendar("Europe/Berlin")
    start = datetime(2026, 10, 24, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert be.add_calendar_days(start, 1) - start == timedelta(hours=25)
    # Friday 23 October 09:00 + 1 business day is Monday 26 October 09:00 local, 73 hours later.
    fri = datetime(2026, 10, 23, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert be.add_business_days(fri, 1) - fri == timedelta(hours=73)


def test_shanghai_make_up_workday_and_holiday_roll() -> None:
    cn = BusinessCalendar(
        "Asia/Shanghai",
        holidays=frozenset(date(2026, 10, d) for d in range(1, 8)),
        workdays=frozenset({date(2026, 9, 27)}),
    )
    assert cn.is_business_day(date(2026, 9, 27))  # a Sunday made a working day
    # 15 days after 20 September is 5 October, inside the National Day holiday: the period runs to 8 October.
    start = datetime(2026, 9, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    end = cn.period_end(start, Span(15, Unit.CALENDAR_DAYS))
    assert end == datetime(2026, 10, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert BusinessCalendar("Asia/Shanghai", roll_last_day=False).period_end(start, Span(15, Unit.CALENDAR_DAYS)) == (
        datetime(2026, 10, 6, tzinfo=ZoneInfo("Asia/Shanghai"))
    )


def test_us_federal_holidays_follow_5_usc_6103() -> None:
    assert sorted(us_federal_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),
        date(2026, 9, 7),
        date(2026, 10, 12),
        date(2026, 11, 11),
        date(2026, 11, 26),
        date(2026, 12, 25),
    ]
    assert date(2021, 12, 31) in us_federal_holidays(2021)  # New Year's Day 2022 fell on a Saturday
    assert date(2020, 6, 19) not in us_federal_holidays(2020)  # Juneteenth became a holiday in 2021
    for year in range(2021, 2031):
        days = us_federal_holidays(year)
        assert len(days) in (10, 11, 12) and all(d.weekday() < 5 for d in days)


def test_months_clamp_and_roll() -> None:
    eu = BusinessCalendar("Europe/Brussels")
    decided = datetime(2026, 8, 31, 15, tzinfo=UTC)
    # 28 February 2027 is a Sunday: the six months run to the end of Monday 1 March.
    assert eu.add_months(decided, 6) == datetime(2027, 3, 2, tzinfo=ZoneInfo("Europe/Brussels"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"weekend": frozenset(range(1, 8))}, "weekend"),
        ({"weekend": frozenset({0})}, "weekend"),
        ({"holidays": frozenset({date(2026, 1, 3)}), "workdays": frozenset({date(2026, 1, 3)})}, "workdays"),
    ],
)
def test_bad_calendars_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as e:
        BusinessCalendar(**kwargs)  # type: ignore[arg-type]
    assert e.value.field == field


def test_spans_parse_and_refuse() -> None:
    assert Span.parse("10bd") == Span(10, Unit.BUSINESS_DAYS) and str(Span.parse(" 24h ")) == "24h"
    for bad in ("10", "ten days", "-1d", "1.5h", "10BD"):
        with pytest.raises(InvalidInputError):
            Span.parse(bad)
    with pytest.raises(InvalidInputError):
        BusinessCalendar().period_end(datetime(2026, 1, 1), Span(1, Unit.HOURS))  # naive
    with pytest.raises(InvalidInputError) as e:
        BusinessCalendar().window(datetime(2026, 1, 1, tzinfo=UTC), Span(5, Unit.CALENDAR_DAYS), Span(2, Unit.HOURS))
    assert e.value.field == "earliest"


def test_a_calendar_without_business_days_says_so() -> None:
    cal = BusinessCalendar(
        weekend=frozenset({1, 2, 3, 4, 5, 6}),
        holidays=frozenset(date(2026, 1, 4) + timedelta(days=7 * k) for k in range(200)),
    )
    with pytest.raises(InvalidInputError, match="no business day"):
        cal.add_business_days(datetime(2026, 1, 1, tzinfo=UTC), 1)
