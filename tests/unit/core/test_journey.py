"""The user journey's pure rules: the escalation level on the clock, a training set's screening and review,
terms versions and acceptance digests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copyalign.core.journey.adapters import AdapterStatus, Findings, listing, review, screen
from copyalign.core.journey.consent import batch_digest, check_texts, check_version, clean_users
from copyalign.core.journey.escalation import EscalationStep, level
from copyalign.errors import ConflictError, InvalidInputError

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
STEPS = [
    EscalationStep(flags=3, within_hours=24, response="warn"),
    EscalationStep(flags=5, within_hours=24, response="cool_off", cool_off_hours=24),
]


def _at(*hours: float) -> list[datetime]:
    return [T0 + timedelta(hours=h) for h in hours]


def test_the_level_rises_with_flags_in_the_window_and_falls_as_it_slides() -> None:
    assert level(_at(0, 1), T0 + timedelta(hours=2), STEPS).response == "none"
    warn = level(_at(0, 1, 2), T0 + timedelta(hours=2), STEPS)
    assert (warn.response, warn.step, warn.flags) == ("warn", 1, 3)
    # the first flag leaves the 24-hour window: back to none
    assert level(_at(0, 1, 2), T0 + timedelta(hours=24, minutes=1), STEPS).response == "none"
    # flags spread over more than a day never add up to a step
    assert level(_at(0, 20, 40, 60), T0 + timedelta(hours=61), STEPS).response == "none"


def test_a_cooling_off_period_runs_from_the_flag_that_completed_it() -> None:
    flags = _at(0, 1, 2, 3, 4)
    lv = level(flags, T0 + timedelta(hours=5), STEPS)
    assert lv.refusing and lv.until == T0 + timedelta(hours=28)
    assert level(flags, T0 + timedelta(hours=27, minutes=59), STEPS).refusing
    after = level(flags, T0 + timedelta(hours=28), STEPS)
    assert not after.refusing and after.response == "none"  # the window has slid past them too
    # future flags (a clock that went back) do not count
    assert level(flags, T0 - timedelta(hours=1), STEPS).response == "none"


@given(st.lists(st.integers(min_value=0, max_value=96 * 60), max_size=30), st.integers(min_value=0, max_value=100 * 60))
def test_more_flags_never_lower_the_level(minutes: list[int], now_min: int) -> None:
    now = T0 + timedelta(minutes=now_min)
    flags = [T0 + timedelta(minutes=m) for m in minutes]
    base = level(flags, now, STEPS)
    more = level([*flags, now], now, STEPS)
    assert more.step >= base.step


def test_a_training_set_is_screened_by_its_findings_and_the_profile_action() -> None:
    clean = Findings(items=3, unreadable=0, opted_out=0, unlicensed=0, characters=0)
    character = Findings(items=3, unreadable=0, opted_out=0, unlicensed=0, characters=1)
    unreadable = Findings(items=3, unreadable=1, opted_out=0, unlicensed=0, characters=0)
    assert screen(clean, action="block") is AdapterStatus.ALLOWED
    assert screen(character, action="block") is AdapterStatus.BLOCKED
    assert screen(character, action="hold") is AdapterStatus.HELD
    assert screen(character, action="allow") is AdapterStatus.ALLOWED
    for action in ("block", "hold", "allow"):  # unreadable or empty: held, whatever the profile says
        assert screen(unreadable, action=action) is AdapterStatus.HELD
        assert screen(Findings(0, 0, 0, 0, 0), action=action) is AdapterStatus.HELD
    assert review(AdapterStatus.HELD, "allow", character) is AdapterStatus.ALLOWED
    assert review(AdapterStatus.HELD, "block", character) is AdapterStatus.BLOCKED
    with pytest.raises(ConflictError, match="could not be read"):
        review(AdapterStatus.HELD, "allow", unreadable)
    with pytest.raises(ConflictError, match="only a held"):
        review(AdapterStatus.BLOCKED, "allow", clean)
    with pytest.raises(InvalidInputError, match="allow or block"):
        review(AdapterStatus.HELD, "maybe", clean)
    assert listing(AdapterStatus.ALLOWED, removed=True) == "removed"


def test_terms_versions_texts_and_batches() -> None:
    assert check_version("2026.03-b_1") == "2026.03-b_1"
    for bad in ("", "../x", "a b", "x" * 41, 3):
        with pytest.raises(InvalidInputError):
            check_version(bad)
    assert list(check_texts({"zh": " 条款 ", "en": "Terms"})) == ["en", "zh"]
    with pytest.raises(InvalidInputError, match="language tag"):
        check_texts({"not a tag!": "x"})
    assert batch_digest(["b", "a", "a"]) == batch_digest(["a", "b"]) != batch_digest(["a"])
    assert clean_users(["ann", " ann ", "bob"]) == ["ann", "bob"]
    with pytest.raises(InvalidInputError, match="user 2 is empty"):
        clean_users(["ann", ""])
