from __future__ import annotations

import enum
from collections import deque
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copyalign.core.takedown.states import (
    COMPLAINT,
    COUNTER_NOTICE,
    DECIDED,
    MEASURE,
    NOTICE,
    ComplaintEvent,
    ComplaintState,
    CounterEvent,
    CounterState,
    MeasureEvent,
    MeasureState,
    NoticeEvent,
    NoticeState,
    StateMachine,
    check_complaint_reviewer,
)
from copyalign.errors import ConflictError, InvalidInputError

MACHINES: list[tuple[StateMachine[Any, Any], type[enum.Enum], type[enum.Enum]]] = [
    (NOTICE, NoticeState, NoticeEvent),
    (MEASURE, MeasureState, MeasureEvent),
    (COUNTER_NOTICE, CounterState, CounterEvent),
    (COMPLAINT, ComplaintState, ComplaintEvent),
]


@pytest.mark.parametrize(("machine", "states", "events"), MACHINES, ids=lambda m: getattr(m, "name", ""))
def test_every_state_is_reachable_and_can_end(
    machine: StateMachine[Any, Any], states: type[enum.Enum], events: type[enum.Enum]
) -> None:
    assert machine.states() == frozenset(states)
    seen, todo = {machine.initial}, deque([machine.initial])
    while todo:
        s = todo.popleft()
        for e in machine.allowed(s):
            nxt = machine.advance(s, e)
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(states)
    finals = {s for s in states if machine.is_final(s)}
    assert finals
    # A measure rests applied or undone for as long as the decision stands; every other lifecycle can end.
    resting = {MeasureState.APPLIED, MeasureState.UNDONE} if machine is MEASURE else set()
    for s in set(states) - resting:  # from anywhere, some path ends
        reach, todo = {s}, deque([s])
        while todo:
            for e in machine.allowed(cur := todo.popleft()):
                if (n := machine.advance(cur, e)) not in reach:
                    reach.add(n)
                    todo.append(n)
        assert reach & finals, s
    assert {e for (_, e) in machine.transitions} == set(events)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), which=st.integers(0, len(MACHINES) - 1))
def test_random_walks_stay_legal_and_illegal_events_change_nothing(data: st.DataObject, which: int) -> None:
    machine, states, events = MACHINES[which]
    state = machine.initial
    history = [state]
    for _ in range(data.draw(st.integers(0, 30))):
        event = data.draw(st.sampled_from(list(events)))
        if machine.can(state, event):
            state = machine.advance(state, event)
            history.append(state)
        else:
            with pytest.raises(ConflictError) as e:
                machine.advance(state, event)
            assert state.value in e.value.message and event.value in e.value.message and e.value.field == "state"
        assert state in states
    if machine is NOTICE:
        # Measures only after an upholding decision; a decision only after triage; triage only when complete.
        for i, s in enumerate(history):
            before = set(history[:i])
            if s is NoticeState.MEASURES_APPLIED:
                assert before & {NoticeState.UPHELD, NoticeState.PARTIALLY_UPHELD}
            if s in DECIDED:
                assert NoticeState.TRIAGED in before
            if s is NoticeState.TRIAGED:
                assert NoticeState.COMPLETE in before


def test_the_full_path_of_a_contested_notice() -> None:
    s = NOTICE.initial
    for e in (
        "find_incomplete",
        "find_incomplete",
        "find_complete",
        "triage",
        "uphold",
        "apply_measures",
        "receive_counter_notice",
        "restore",
        "close",
    ):
        s = NOTICE.advance(s, NoticeEvent(e))
    assert s is NoticeState.CLOSED and NOTICE.is_final(s)
    with pytest.raises(ConflictError, match="cannot restore a notice that is closed; allowed: none"):
        NOTICE.advance(s, NoticeEvent.RESTORE)


def test_a_reversed_complaint_restores_and_a_notifiers_complaint_can_uphold() -> None:
    assert NOTICE.advance(NoticeState.MEASURES_APPLIED, NoticeEvent.REVERSE) is NoticeState.RESTORED
    assert NOTICE.advance(NoticeState.MANIFESTLY_UNFOUNDED, NoticeEvent.UPHOLD) is NoticeState.UPHELD
    assert MEASURE.advance(MeasureState.UNDONE, MeasureEvent.APPLY) is MeasureState.APPLIED
    assert COUNTER_NOTICE.advance(CounterState.FORWARDED, CounterEvent.RECORD_COURT_ACTION) is CounterState.KEPT
    with pytest.raises(ConflictError) as e:
        COUNTER_NOTICE.advance(CounterState.RECEIVED, CounterEvent.FORWARD)  # forward only a complete one
    assert e.value.code == "counter-notice_transition"


def test_complaints_are_not_decided_solely_by_machines() -> None:
    check_complaint_reviewer(human=True)
    with pytest.raises(InvalidInputError, match=r"Art\. 20\(6\)"):
        check_complaint_reviewer(human=False)
