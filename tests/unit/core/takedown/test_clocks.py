from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from copyalign.clock import FakeClock
from copyalign.core.takedown.calendar import BusinessCalendar, Span, Unit
from copyalign.core.takedown.clocks import (
    ClockProfile,
    ClockRule,
    DeadlineKind,
    DeadlineStatus,
    NoticeTimes,
    complaint_open,
    complaint_window,
    compute_deadlines,
    overdue,
    preset_clocks,
)
from copyalign.errors import InvalidInputError

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")


def _kinds(ds: object) -> list[str]:
    return [d.kind.value for d in ds]  # type: ignore[attr-defined]


def test_incomplete_notice_starts_only_the_acknowledgement() -> None:
    """§512(c)(3)(B)(i): a notice that does not substantially comply does not start the provider's clock."""
    t = NoticeTimes(received_at=datetime(2026, 3, 2, 9, tzinfo=UTC))
    for j in ("CN", "EU", "US", "JP"):
        assert _kinds(compute_deadlines(t, preset_clocks(j))) == ["acknowledge"]


def test_cn_act_within_24_hours_of_the_complete_notice_on_a_fake_clock() -> None:
    clock = FakeClock(datetime(2026, 3, 7, 20, tzinfo=SH))  # a Saturday evening: hours run on weekends
    t = NoticeTimes(received_at=clock.now() - timedelta(hours=5), completed_at=clock.now(), acknowledged_at=clock.now())
    ds = {d.kind: d for d in compute_deadlines(t, preset_clocks("CN"))}
    assert ds[DeadlineKind.ACT].due == clock.now() + timedelta(hours=24)
    assert ds[DeadlineKind.DECIDE].due == clock.now() + timedelta(hours=48)
    assert ds[DeadlineKind.ACT].binding and not ds[DeadlineKind.DECIDE].binding
    assert "NCAC" in ds[DeadlineKind.ACT].source
    clock.advance(hours=23, minutes=59)
    assert overdue(ds.values(), clock.now()) == ()
    clock.advance(minutes=2)
    assert _kinds(overdue(ds.values(), clock.now())) == ["act"]
    done = compute_deadlines(NoticeTimes(**{**t.__dict__, "acted_at": clock.now()}), preset_clocks("CN"))
    assert {d.kind: d.status(clock.now()) for d in done}[DeadlineKind.ACT] is DeadlineStatus.MET_LATE


def test_rejected_notice_has_no_act_deadline_and_simplified_uses_48_hours() -> None:
    base = datetime(2026, 3, 2, 9, tzinfo=UTC)
    rejected = NoticeTimes(received_at=base, completed_at=base, decided_at=base + timedelta(hours=3), upheld=False)
    assert "act" not in _kinds(compute_deadlines(rejected, preset_clocks("US")))
    simple = NoticeTimes(received_at=base, completed_at=base, simplified=True)
    decide = next(d for d in compute_deadlines(simple, preset_clocks("EU")) if d.kind is DeadlineKind.DECIDE)
    assert decide.due == base + timedelta(hours=48) and "seed 003 §4.4" in decide.source


def test_us_restoration_window_is_10_to_14_business_days_after_the_counter_notice() -> None:
    received = datetime(2026, 6, 25, 16, tzinfo=NY)  # Thursday; Friday 3 July 2026 is the observed holiday
    t = NoticeTimes(
        received_at=datetime(2026, 6, 1, tzinfo=UTC),
        completed_at=datetime(2026, 6, 1, tzinfo=UTC),
        upheld=True,
        acted_at=datetime(2026, 6, 2, tzinfo=UTC),
        counter_notice_at=received,
    )
    restore = next(d for d in compute_deadlines(t, preset_clocks("US")) if d.kind is DeadlineKind.RESTORE)
    # business days after 25 June: 26, 29, 30 June, 1, 2, 6, 7, 8, 9, 10 (10th), 13, 14, 15, 16 July (14th)
    assert restore.earliest == datetime(2026, 7, 11, tzinfo=NY)
    assert restore.due == datetime(2026, 7, 17, tzinfo=NY)
    assert restore.binding and "512(g)(2)(C)" in restore.source
    early = NoticeTimes(**{**t.__dict__, "restored_at": datetime(2026, 7, 9, 12, tzinfo=NY)})
    got = next(d for d in compute_deadlines(early, preset_clocks("US")) if d.kind is DeadlineKind.RESTORE)
    assert got.status(datetime(2026, 7, 20, tzinfo=UTC)) is DeadlineStatus.PREMATURE


def test_court_action_keeps_the_measures() -> None:
    t = NoticeTimes(
        received_at=datetime(2026, 6, 1, tzinfo=UTC),
        completed_at=datetime(2026, 6, 1, tzinfo=UTC),
        upheld=True,
        acted_at=datetime(2026, 6, 2, tzinfo=UTC),
        counter_notice_at=datetime(2026, 6, 25, 16, tzinfo=NY),
        court_action_at=datetime(2026, 7, 8, tzinfo=NY),
    )
    assert "restore" not in _kinds(compute_deadlines(t, preset_clocks("US")))


def test_cn_counts_15_days_from_the_forwarded_statement_and_rolls_past_holidays() -> None:
    cn = preset_clocks("CN")
    golden_week = BusinessCalendar("Asia/Shanghai", holidays=frozenset(date(2026, 10, d) for d in range(1, 8)))
    profile = ClockProfile(**{**cn.__dict__, "calendar": golden_week})
    t = NoticeTimes(
        received_at=datetime(2026, 9, 1, tzinfo=SH),
        completed_at=datetime(2026, 9, 1, tzinfo=SH),
        upheld=True,
        acted_at=datetime(2026, 9, 1, 12, tzinfo=SH),
        counter_notice_at=datetime(2026, 9, 19, tzinfo=SH),
        counter_forwarded_at=datetime(2026, 9, 20, 10, tzinfo=SH),
    )
    restore = next(d for d in compute_deadlines(t, profile) if d.kind is DeadlineKind.RESTORE)
    # Day 15 is 5 October, a holiday; the period runs to the end of Thursday 8 October (Civil Code Art. 203),
    # and "promptly" is read as by the end of the next business day, Monday 12 October.
    assert restore.earliest == datetime(2026, 10, 9, tzinfo=SH)
    assert restore.due == datetime(2026, 10, 13, tzinfo=SH)
    waiting = NoticeTimes(**{**t.__dict__, "counter_forwarded_at": None})
    assert "restore" not in _kinds(compute_deadlines(waiting, profile))  # counts from the forwarding


def test_eu_has_no_restoration_window_and_jp_has_the_7_day_inquiry() -> None:
    t = NoticeTimes(
        received_at=datetime(2026, 6, 1, tzinfo=UTC),
        completed_at=datetime(2026, 6, 1, tzinfo=UTC),
        upheld=True,
        acted_at=datetime(2026, 6, 2, tzinfo=UTC),
        counter_notice_at=datetime(2026, 6, 5, tzinfo=UTC),
        user_inquired_at=datetime(2026, 6, 1, tzinfo=UTC),
    )
    assert _kinds(compute_deadlines(t, preset_clocks("EU"))) == [
        "acknowledge",
        "decide",
        "act",
        "forward_counter_notice",
    ]
    jp = {d.kind: d for d in compute_deadlines(t, preset_clocks("JP"))}
    assert jp[DeadlineKind.USER_OBJECTION].due == datetime(2026, 6, 9, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert "Art. 3(2)(ii)" in jp[DeadlineKind.USER_OBJECTION].source
    # The poster's window is not the desk's duty: it never shows as overdue.
    assert DeadlineKind.USER_OBJECTION not in {d.kind for d in overdue(jp.values(), datetime(2027, 1, 1, tzinfo=UTC))}


def test_complaint_window_is_six_months_in_the_eu() -> None:
    eu = preset_clocks("EU")
    decided = datetime(2026, 8, 31, 15, tzinfo=UTC)
    closes = complaint_window(decided, eu)
    assert closes == datetime(2027, 3, 2, tzinfo=ZoneInfo("Europe/Brussels"))  # 28 Feb 2027 is a Sunday
    assert complaint_open(decided, closes - timedelta(seconds=1), eu)
    assert not complaint_open(decided, closes, eu) and not complaint_open(decided, decided - timedelta(days=1), eu)
    filed = NoticeTimes(received_at=decided, complaint_filed_at=decided + timedelta(days=3))
    d = next(x for x in compute_deadlines(filed, eu) if x.kind is DeadlineKind.COMPLAINT_DECIDE)
    assert d.due == datetime(2026, 9, 18, tzinfo=ZoneInfo("Europe/Brussels"))


@st.composite
def notice_times(draw: st.DrawFn) -> NoticeTimes:
    zone = ZoneInfo(draw(st.sampled_from(["America/New_York", "Europe/Berlin", "Asia/Shanghai", "UTC"])))
    t0 = draw(st.datetimes(datetime(2025, 1, 1), datetime(2028, 12, 31), timezones=st.just(zone)))

    def later(base: datetime | None) -> datetime | None:
        if base is None or draw(st.booleans()):
            return None
        # on the timeline, not the wall clock: ``base + delta`` in the zone keeps the wall time and drops the fold,
        # so 0 minutes after the second 01:30 of a DST change would be the first 01:30, an hour *before* it
        return (base.astimezone(UTC) + timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))).astimezone(zone)

    completed = later(t0)
    decided = later(completed)
    counter = later(decided)
    filed = later(decided)
    return NoticeTimes(
        received_at=t0,
        completed_at=completed,
        acknowledged_at=later(t0),
        decided_at=decided,
        upheld=None if decided is None else draw(st.booleans()),
        simplified=draw(st.booleans()),
        acted_at=later(decided),
        counter_notice_at=counter,
        counter_forwarded_at=later(counter),
        court_action_at=later(counter),
        restored_at=later(counter),
        user_inquired_at=later(t0),
        complaint_filed_at=filed,
        complaint_decided_at=later(filed),
    )


#: 02:00 in Berlin on 29 October 2028, the second time (fold=1: 01:00 UTC, after the clocks went back at 03:00
#: CEST). Its wall time read again without the fold is an hour earlier: times from local clocks must keep it.
_SECOND_TWO_AM = datetime(2028, 10, 29, 2, 0, fold=1, tzinfo=ZoneInfo("Europe/Berlin"))


@settings(max_examples=200, deadline=None)
@given(t=notice_times(), j=st.sampled_from(["CN", "EU", "US", "JP"]), step=st.integers(0, 60 * 24 * 60))
@example(
    t=NoticeTimes(received_at=_SECOND_TWO_AM, completed_at=_SECOND_TWO_AM, decided_at=_SECOND_TWO_AM, upheld=True),
    j="EU",
    step=0,
)
def test_deadlines_follow_their_starts_and_overdue_means_unmet_and_past(t: NoticeTimes, j: str, step: int) -> None:
    ds = compute_deadlines(t, preset_clocks(j))
    now = t.received_at + timedelta(minutes=step)
    assert ds[0].kind is DeadlineKind.ACKNOWLEDGE and ds[0].due > t.received_at
    if t.completed_at is None:
        assert {d.kind for d in ds} <= {DeadlineKind.ACKNOWLEDGE, DeadlineKind.USER_OBJECTION}
    for d in ds:
        assert d.due.utcoffset() == timedelta(0) and d.source
        if d.earliest is not None:
            assert d.earliest <= d.due
    late = overdue(ds, now)
    assert all(d.met_at is None and d.due < now and d.duty for d in late)
    assert [d.due for d in late] == sorted(d.due for d in late)
    assert len(late) == sum(1 for d in ds if d.met_at is None and d.due < now and d.duty)


def test_notice_times_are_checked() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(InvalidInputError) as e:
        NoticeTimes(received_at=t0, completed_at=t0 - timedelta(hours=1))
    assert e.value.field == "completed_at"
    with pytest.raises(InvalidInputError) as e:
        NoticeTimes(received_at=t0, decided_at=t0)
    assert e.value.field == "decided_at"
    with pytest.raises(InvalidInputError) as e:
        NoticeTimes(received_at=datetime(2026, 1, 1))
    assert e.value.field == "received_at"
    with pytest.raises(InvalidInputError) as e:
        preset_clocks("FR")
    assert e.value.field == "jurisdiction"
    with pytest.raises(InvalidInputError) as e:
        ClockProfile(**{**preset_clocks("US").__dict__, "restore_latest": None})
    assert e.value.field == "restore_latest"


def test_every_preset_cites_a_source_and_marks_targets() -> None:
    for j in ("CN", "EU", "US", "JP"):
        p = preset_clocks(j)
        rules = [v for v in p.__dict__.values() if isinstance(v, ClockRule)]
        assert rules and all(r.source for r in rules) and p.complaint_window_source
        assert p.simplified_decide.span == Span(48, Unit.HOURS)
    assert preset_clocks("US").restore_earliest == ClockRule(
        Span(10, Unit.BUSINESS_DAYS), preset_clocks("US").restore_earliest.source
    )  # type: ignore[union-attr]
    assert not preset_clocks("EU").act.binding  # "timely" is a standard, the number a target
