from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.takedown.strikes import (
    ComplainantStatus,
    Decided,
    Sanction,
    Strike,
    StrikePolicy,
    UnfoundedPolicy,
    active_strikes,
    complainant_standing,
    repeat_infringer_policy,
    standing,
)
from copyalign.errors import InvalidInputError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
P = StrikePolicy()


def strike(day: float, removed: float | None = None, subject: str = "u1") -> Strike:
    return Strike(
        subject, f"n{day}", T0 + timedelta(days=day), None if removed is None else T0 + timedelta(days=removed)
    )


def test_ladder_warn_restrict_terminate_like_youtube() -> None:
    s = [strike(0), strike(10), strike(20)]
    assert standing("u1", s[:1], T0 + timedelta(days=1), P).sanction is Sanction.WARN
    two = standing("u1", s[:2], T0 + timedelta(days=11), P)
    assert (two.sanction, two.active, two.until) == (Sanction.RESTRICT, 2, T0 + timedelta(days=90))
    three = standing("u1", s, T0 + timedelta(days=21), P)
    assert (three.sanction, three.terminated_at) == (Sanction.TERMINATE, T0 + timedelta(days=20))
    # Termination outlives the strikes ...
    assert standing("u1", s, T0 + timedelta(days=400), P).sanction is Sanction.TERMINATE
    # ... unless a strike that caused it is removed (its notice was reversed).
    s[1] = strike(10, removed=30)
    assert standing("u1", s, T0 + timedelta(days=31), P).sanction is Sanction.RESTRICT


def test_strikes_of_others_and_from_the_future_do_not_count() -> None:
    s = [strike(0, subject="u2"), strike(5)]
    assert standing("u1", s, T0 + timedelta(days=1), P).sanction is Sanction.NONE
    assert standing("u1", s, T0 + timedelta(days=6), P).active == 1


def test_suspension_lasts_its_days_then_restricts() -> None:
    p = StrikePolicy(ladder=(Sanction.WARN, Sanction.RESTRICT, Sanction.SUSPEND, Sanction.TERMINATE), suspend_days=7)
    s = [strike(0), strike(1), strike(2)]
    during = standing("u1", s, T0 + timedelta(days=3), p)
    assert (during.sanction, during.until) == (Sanction.SUSPEND, T0 + timedelta(days=9))
    assert standing("u1", s, T0 + timedelta(days=10), p).sanction is Sanction.RESTRICT
    assert standing("u1", [*s, strike(11)], T0 + timedelta(days=12), p).sanction is Sanction.TERMINATE


issue_days = st.lists(st.floats(0, 400, allow_nan=False), max_size=8)


@settings(max_examples=200, deadline=None)
@given(days=issue_days, expiry=st.integers(1, 120), now=st.floats(0, 900))
def test_strikes_expire_after_the_profile_period(days: list[float], expiry: int, now: float) -> None:
    p = StrikePolicy(expiry_days=expiry, ladder=(Sanction.WARN, Sanction.RESTRICT))
    strikes = [strike(d) for d in days]
    at = T0 + timedelta(days=now)
    act = active_strikes(strikes, at, p)
    assert all(s.issued_at <= at < s.issued_at + timedelta(days=expiry) for s in act)
    st_ = standing("u1", strikes, at, p)
    assert st_.active == len(act) and st_.sanction is p.sanction_for(len(act))
    if all(T0 + timedelta(days=d + expiry) <= at for d in days):
        assert st_.sanction is Sanction.NONE and st_.until is None


@settings(max_examples=200, deadline=None)
@given(
    days=issue_days,
    extra=st.floats(0, 400),
    now=st.floats(0, 900),
    ladder=st.lists(
        st.sampled_from([Sanction.WARN, Sanction.RESTRICT, Sanction.SUSPEND, Sanction.TERMINATE]),
        min_size=1,
        max_size=5,
    ).map(lambda xs: tuple(sorted(xs, key=lambda s: s.severity))),
)
def test_another_strike_never_softens_the_sanction(
    days: list[float], extra: float, now: float, ladder: tuple[Sanction, ...]
) -> None:
    p = StrikePolicy(ladder=ladder)
    at = T0 + timedelta(days=now)
    before = standing("u1", [strike(d) for d in days], at, p).sanction
    after = standing("u1", [strike(d) for d in [*days, extra]], at, p).sanction
    assert after.severity >= before.severity


def test_policies_are_checked() -> None:
    with pytest.raises(InvalidInputError) as e:
        StrikePolicy(ladder=(Sanction.RESTRICT, Sanction.WARN))
    assert e.value.field == "ladder"
    with pytest.raises(InvalidInputError) as e:
        StrikePolicy(ladder=())
    assert e.value.field == "ladder"
    with pytest.raises(InvalidInputError) as e:
        StrikePolicy(expiry_days=0)
    assert e.value.field == "expiry_days"
    with pytest.raises(InvalidInputError) as e:
        Strike("u1", "n1", T0, removed_at=T0 - timedelta(days=1))
    assert e.value.field == "removed_at"
    with pytest.raises(InvalidInputError) as e:
        UnfoundedPolicy(action=ComplainantStatus.WARN)
    assert e.value.field == "action"


def test_repeat_infringer_policy_states_the_numbers() -> None:
    text = repeat_infringer_policy(P, provider="ExampleAI")
    assert "512(i)(1)(A)" in text and "90 days" in text and "3 active strikes: termination" in text
    assert text.count("ExampleAI") == 2


def test_manifestly_unfounded_notices_warn_then_deprioritise() -> None:
    p = UnfoundedPolicy(threshold=3, window_days=180, min_share=0.5, period_days=30)
    d = [Decided(T0 + timedelta(days=i), unfounded=i != 1) for i in range(4)]  # 3 unfounded of 4
    first = complainant_standing(d[:3], [], T0 + timedelta(days=2, hours=1), p)
    assert first.status is ComplainantStatus.OK  # 2 unfounded: below the threshold
    warn = complainant_standing(d, [], T0 + timedelta(days=3, hours=1), p)
    assert (warn.status, warn.warning_due, warn.unfounded, warn.total) == (ComplainantStatus.WARN, True, 3, 4)
    warned_at = T0 + timedelta(days=3, hours=2)
    assert not complainant_standing(d, [warned_at], warned_at, p).warning_due
    again = [*d, Decided(T0 + timedelta(days=5), unfounded=True)]
    limited = complainant_standing(again, [warned_at], T0 + timedelta(days=6), p)
    assert limited.status is ComplainantStatus.DEPRIORITISE and limited.until == T0 + timedelta(days=35)
    assert "Art. 23(2)" in limited.statement and "processed after others" in limited.statement
    assert complainant_standing(again, [warned_at], T0 + timedelta(days=36), p).status is ComplainantStatus.WARN
    assert complainant_standing(again, [warned_at], T0 + timedelta(days=400), p).status is ComplainantStatus.OK
    refuse = UnfoundedPolicy(action=ComplainantStatus.REFUSE)
    assert complainant_standing(again, [warned_at], T0 + timedelta(days=6), refuse).status is ComplainantStatus.REFUSE


def test_a_mostly_valid_complainant_is_not_limited_by_absolute_numbers_alone() -> None:
    """Art. 23(3)(b): the share of unfounded notices counts, not just their number."""
    d = [Decided(T0 + timedelta(hours=i), unfounded=i < 3) for i in range(20)]
    assert complainant_standing(d, [], T0 + timedelta(days=1), UnfoundedPolicy()).status is ComplainantStatus.OK
