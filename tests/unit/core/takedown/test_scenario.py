"""The desk's procedure end to end on the fake clock, per preset jurisdiction, with the pure core only:
notice -> incomplete -> completed -> triage -> decision -> measures -> strike -> counter-notice -> restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from copyalign.clock import FakeClock
from copyalign.core.takedown.clocks import DeadlineKind, DeadlineStatus, NoticeTimes, compute_deadlines, overdue
from copyalign.core.takedown.counter import CounterNotice, missing_counter_elements
from copyalign.core.takedown.elements import ClaimedWork, Material, MaterialKind, Notice, Party, missing_elements
from copyalign.core.takedown.states import (
    COMPLAINT,
    MEASURE,
    NOTICE,
    ComplaintEvent,
    ComplaintState,
    MeasureEvent,
    MeasureState,
    NoticeEvent,
    NoticeState,
)
from copyalign.core.takedown.strikes import Sanction, Strike, standing
from copyalign.core.takedown.triage import Action, Evidence, MatchKind, recommend
from copyalign.policy import load_policy

SENDER = Party(
    name="Ada Lee", email="ada@example.org", address="1 Main St", phone="+1 555 0100", identity_proof="passport:X1"
)
USER = Party(name="Bo", email="bo@example.org", address="2 Side St", phone="+1 555 0101", identity_proof="id:Y2")


@pytest.mark.parametrize("preset", ["cn", "eu", "us", "jp"])
def test_notice_to_restoration(preset: str) -> None:
    policy = load_policy(preset)
    j = policy.profile.jurisdiction
    clocks = policy.takedown.clocks(j)
    clock = FakeClock(datetime(2026, 6, 1, 13, tzinfo=UTC))  # a Monday
    state = NOTICE.initial

    # 1. A notice arrives without its statements: incomplete, and only the acknowledgement clock runs.
    notice = Notice("n-1", clock.now(), SENDER, works=(ClaimedWork(work_id="w-7", description="Moon Song"),))
    missing = missing_elements(notice, j)
    assert missing and all(m.source for m in missing)
    state = NOTICE.advance(state, NoticeEvent.FIND_INCOMPLETE)
    times = NoticeTimes(received_at=clock.now(), acknowledged_at=clock.now() + timedelta(minutes=1))
    assert [d.kind for d in compute_deadlines(times, clocks)] == [DeadlineKind.ACKNOWLEDGE]

    # 2. The sender completes it a day later; now the clocks start.
    clock.advance(days=1)
    notice = notice.amend(
        works=(ClaimedWork(work_id="w-7", description="Moon Song", materials=(Material(MaterialKind.TRACE, "tr_9"),)),),
        explanation="The output copies the chorus.",
        signature="/Ada Lee/",
        good_faith=True,
        accurate=True,
        authorised=True,
        evidence=("registration R-1",),
    )
    assert missing_elements(notice, j) == ()
    state = NOTICE.advance(state, NoticeEvent.FIND_COMPLETE)
    times = NoticeTimes(**{**times.__dict__, "completed_at": clock.now()})

    # 3. Triage recommends acting on a 40 % passage the guard had let through.
    rec = recommend(
        Evidence(MatchKind.PASSAGE, coverage=0.4, guard_saw=True, guard_allowed=True, prompt_named_work=True),
        policy.takedown.triage_thresholds(),
    )
    assert rec.action is Action.ACT and rec.guard_missed
    state = NOTICE.advance(state, NoticeEvent.TRIAGE)

    # 4. Decided and acted within the act clock; one strike for the user.
    clock.advance(hours=6)
    state = NOTICE.advance(state, NoticeEvent.UPHOLD)
    measures = {m: MEASURE.advance(MEASURE.initial, MeasureEvent.APPLY) for m in rec.measures}
    state = NOTICE.advance(state, NoticeEvent.APPLY_MEASURES)
    times = NoticeTimes(**{**times.__dict__, "decided_at": clock.now(), "upheld": True, "acted_at": clock.now()})
    assert overdue(compute_deadlines(times, clocks), clock.now()) == ()
    assert all(d.status(clock.now()) is DeadlineStatus.MET for d in compute_deadlines(times, clocks))
    strikes = [Strike("u_42", "n-1", clock.now())]
    assert standing("u_42", strikes, clock.now(), policy.takedown.strike_policy()).sanction is Sanction.WARN

    # 5. The user counter-notifies two days later; the provider forwards it the same day.
    clock.advance(days=2)
    counter = CounterNotice(
        "c-1",
        "n-1",
        clock.now(),
        USER,
        user_ref="u_42",
        materials=(Material(MaterialKind.TRACE, "tr_9"),),
        signature="/Bo/",
        mistake_statement=True,
        consent_to_jurisdiction=True,
        explanation="My own verse.",
        evidence=("draft 2019",),
    )
    assert missing_counter_elements(counter, j) == ()
    state = NOTICE.advance(state, NoticeEvent.RECEIVE_COUNTER_NOTICE)
    times = NoticeTimes(
        **{**times.__dict__, "counter_notice_at": clock.now(), "counter_forwarded_at": clock.now() + timedelta(hours=2)}
    )
    deadlines = {d.kind: d for d in compute_deadlines(times, clocks)}

    if DeadlineKind.RESTORE not in deadlines:
        # EU and JP: no statutory window; the user's complaint is reviewed by a person and reverses the decision.
        complaint = COMPLAINT.advance(COMPLAINT.initial, ComplaintEvent.REVIEW)
        complaint = COMPLAINT.advance(complaint, ComplaintEvent.REVERSE)
        assert complaint is ComplaintState.REVERSED
        state = NOTICE.advance(state, NoticeEvent.REVERSE)
    else:
        restore = deadlines[DeadlineKind.RESTORE]
        assert restore.earliest is not None and restore.binding == (j == "US")
        # Before the window opens the measures stay; once open, nothing is overdue until it closes.
        clock.set(restore.earliest - timedelta(minutes=1))
        assert overdue(compute_deadlines(times, clocks), clock.now()) == ()
        clock.set(restore.due + timedelta(minutes=1))
        assert [d.kind for d in overdue(compute_deadlines(times, clocks), clock.now())] == [DeadlineKind.RESTORE]
        clock.set(restore.earliest + timedelta(hours=1))
        times = NoticeTimes(**{**times.__dict__, "restored_at": clock.now()})
        restored = {d.kind: d for d in compute_deadlines(times, clocks)}[DeadlineKind.RESTORE]
        assert restored.status(clock.now()) is DeadlineStatus.MET
        state = NOTICE.advance(state, NoticeEvent.RESTORE)
    for kind, m in measures.items():
        measures[kind] = MEASURE.advance(m, MeasureEvent.UNDO)
    assert set(measures.values()) == {MeasureState.UNDONE}
    # The restoration removes the strike.
    strikes = [Strike("u_42", "n-1", strikes[0].issued_at, removed_at=clock.now())]
    assert standing("u_42", strikes, clock.now(), policy.takedown.strike_policy()).sanction is Sanction.NONE
    assert NOTICE.advance(state, NoticeEvent.CLOSE) is NoticeState.CLOSED
