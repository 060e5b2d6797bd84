from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copyalign.core.registry.preferences import Purpose, Scope, Statement, Value, resolve, resolve_all
from copyalign.errors import InvalidInputError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)


def s(
    scope: Scope, purpose: Purpose, value: Value, *, j: str = "*", eff: datetime = T0, rec: datetime = T0
) -> Statement:
    return Statement(scope, purpose, value, j, eff, rec)


def test_default_when_nothing_said() -> None:
    r = resolve([], Purpose.TRAIN_AI, at=T0, default=Value.ALLOW_WITH_REMUNERATION)
    assert r.value is Value.ALLOW_WITH_REMUNERATION and r.source is Scope.POLICY and r.statement is None


def test_work_statement_beats_holder_default_even_if_older() -> None:
    work = s(Scope.WORK, Purpose.TRAIN_AI, Value.ALLOW, eff=T0)
    holder = s(Scope.HOLDER, Purpose.TRAIN_AI, Value.DENY, eff=T0 + H, rec=T0 + H)
    assert resolve([work, holder], Purpose.TRAIN_AI, at=T0 + 2 * H).value is Value.ALLOW


def test_jurisdiction_specific_beats_everywhere() -> None:
    everywhere = s(Scope.WORK, Purpose.TRAIN_AI, Value.ALLOW, eff=T0 + H, rec=T0 + H)
    eu = s(Scope.WORK, Purpose.TRAIN_AI, Value.DENY, j="EU")
    assert resolve([everywhere, eu], Purpose.TRAIN_AI, at=T0 + 2 * H, jurisdiction="EU").value is Value.DENY
    assert resolve([everywhere, eu], Purpose.TRAIN_AI, at=T0 + 2 * H, jurisdiction="JP").value is Value.ALLOW


def test_latest_effective_wins_and_history_answers_the_past() -> None:
    a = s(Scope.WORK, Purpose.TRAIN_AI, Value.ALLOW, eff=T0, rec=T0)
    b = s(Scope.WORK, Purpose.TRAIN_AI, Value.DENY, eff=T0 + 2 * H, rec=T0 + 2 * H)
    assert resolve([a, b], Purpose.TRAIN_AI, at=T0 + H).value is Value.ALLOW
    assert resolve([a, b], Purpose.TRAIN_AI, at=T0 + 3 * H).value is Value.DENY


def test_statement_not_yet_recorded_is_ignored_even_if_backdated() -> None:
    # recorded at T0+2h but effective (claimed) from T0: at T0+1h the registry did not know it
    late = s(Scope.WORK, Purpose.TRAIN_AI, Value.DENY, eff=T0, rec=T0 + 2 * H)
    assert resolve([late], Purpose.TRAIN_AI, at=T0 + H).source is Scope.POLICY
    assert resolve([late], Purpose.TRAIN_AI, at=T0 + 2 * H).value is Value.DENY


def test_future_effective_statement_waits() -> None:
    future = s(Scope.WORK, Purpose.SEARCH, Value.DENY, eff=T0 + 5 * H, rec=T0)
    assert resolve([future], Purpose.SEARCH, at=T0 + H).source is Scope.POLICY
    assert resolve([future], Purpose.SEARCH, at=T0 + 5 * H).value is Value.DENY


def test_train_genai_inherits_train_ai_unless_stated() -> None:
    ai = s(Scope.HOLDER, Purpose.TRAIN_AI, Value.DENY)
    assert resolve([ai], Purpose.TRAIN_GENAI, at=T0).value is Value.DENY
    genai = s(Scope.HOLDER, Purpose.TRAIN_GENAI, Value.ALLOW)
    assert resolve([ai, genai], Purpose.TRAIN_GENAI, at=T0).value is Value.ALLOW
    # but not the other way round
    assert resolve([genai], Purpose.TRAIN_AI, at=T0).source is Scope.POLICY


def test_naive_times_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        Statement(Scope.WORK, Purpose.SEARCH, Value.DENY, "*", datetime(2026, 1, 1), T0)  # noqa: DTZ001


def test_unknown_jurisdiction_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="jurisdiction"):
        s(Scope.WORK, Purpose.SEARCH, Value.DENY, j="Mars")


statements = st.builds(
    s,
    st.sampled_from([Scope.WORK, Scope.HOLDER]),
    st.sampled_from(list(Purpose)),
    st.sampled_from(list(Value)),
    j=st.sampled_from(["*", "EU", "CN"]),
    eff=st.integers(0, 20).map(lambda h: T0 + h * H),
    rec=st.integers(0, 20).map(lambda h: T0 + h * H),
)


@given(st.lists(statements, max_size=12), st.integers(0, 25), st.permutations(list(range(12))))
def test_resolution_does_not_depend_on_order(items: list[Statement], hours: int, perm: list[int]) -> None:
    shuffled = [items[i] for i in perm if i < len(items)]
    at = T0 + hours * H
    assert resolve_all(items, at=at, jurisdiction="EU") == resolve_all(shuffled, at=at, jurisdiction="EU")


@given(st.lists(statements, max_size=12), st.integers(0, 25))
def test_resolved_statement_was_known_and_in_force(items: list[Statement], hours: int) -> None:
    at = T0 + hours * H
    for r in resolve_all(items, at=at, jurisdiction="CN").values():
        if r.statement is not None:
            assert r.statement.recorded_at <= at and r.statement.effective_at <= at
            assert r.statement.jurisdiction in ("*", "CN")
