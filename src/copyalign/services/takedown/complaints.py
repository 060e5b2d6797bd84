"""Internal complaints against decisions (DSA Art. 20), and the simplified channel for fees and de-minimis use.

Either side may complain: the user whose output was acted on (through its provider, for its own session only)
or the notifier whose notice was rejected. The system stays open for complaints at least six months after a
decision (Art. 20(1); ``complaint_window_months``), decides them on the profile's clock, and never solely by
automated means (Art. 20(6)). The outcome is upheld (the decision stands), partially reversed or reversed:

* a user's complaint reversed restores the material (every measure undone, the strikes removed); partially
  reversed removes the strikes and the user's notification stands, the material stays disabled;
* a notifier's complaint reversed upholds the notice (a new decision with its measures and statement of
  reasons); partially reversed upholds the items the reviewer names.

Disputes over fees or de-minimis use go to the simplified channel with its own 48-hour clock (seed 003 §4.4 ③).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, require
from copyalign.core.canonical import digest, format_time
from copyalign.core.takedown.clocks import complaint_open, complaint_window
from copyalign.core.takedown.states import (
    COMPLAINT,
    ComplaintEvent,
    ComplaintState,
    MeasureKind,
    NoticeEvent,
    check_complaint_reviewer,
)
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.counter import CounterNotices
from copyalign.services.takedown.decisions import Decisions
from copyalign.services.takedown.inputs import ComplaintInput, DecisionInput
from copyalign.services.takedown.measures import Measures
from copyalign.services.takedown.rows import clocks_for, follows, handles, load_notice, log, notify, refresh_due
from copyalign.store.models import TakedownComplaint, TakedownDecision, TakedownNotice

SUBJECTS = ("decision", "fee", "de_minimis")
OPEN = (ComplaintState.FILED.value, ComplaintState.UNDER_REVIEW.value)
OUTCOME_EVENTS = {
    "upheld": ComplaintEvent.UPHOLD,
    "partially_reversed": ComplaintEvent.REVERSE_PARTIALLY,
    "reversed": ComplaintEvent.REVERSE,
}


class Complaints(ServiceBase):
    def __init__(self, deps: Deps, decisions: Decisions, counters: CounterNotices, measures: Measures) -> None:
        super().__init__(deps)
        self.decisions = decisions
        self.counters = counters
        self.measures = measures

    def file(self, actor: Principal, notice_id: str, c: ComplaintInput) -> TakedownComplaint:
        if c.by not in ("user", "notifier"):
            raise InvalidInputError("a complaint is by the user or by the notifier", field="by")
        if c.subject not in SUBJECTS:
            raise InvalidInputError(f"the subject is one of {', '.join(SUBJECTS)}", field="subject")
        reason = c.reason.strip()
        if not reason or len(reason) > 10_000:
            raise InvalidInputError("say why, in 1 to 10000 characters", field="reason")
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            if c.by == "user":
                ref = self.counters.own_session(s, actor, n, c.user or "", Action.TAKEDOWN_COMPLAIN)
                if not n.upheld:
                    raise ConflictError(f"notice {n.id} took no measure against the user", field="state")
            else:
                require(actor.role, Action.TAKEDOWN_COMPLAIN, owner=follows(actor, n) or handles(actor, n))
                ref = n.sender_ref
                if n.upheld is None:
                    raise ConflictError(f"notice {n.id} is not decided yet", field="state")
            decision = _latest_decision(s, n.id)
            if decision is None or n.decided_at is None:
                raise ConflictError(f"notice {n.id} has no decision to complain about", field="state")
            now = self.clock.now()
            profile = clocks_for(self.policy, n.jurisdiction)
            if not complaint_open(decision.decided_at, now, profile):
                closed = complaint_window(decision.decided_at, profile)
                raise ConflictError(
                    f"complaints about the decision of {format_time(decision.decided_at)} closed on "
                    f"{format_time(closed)} ({profile.complaint_window_source})",
                    field="notice_id",
                    code="complaint_window_closed",
                )
            pending = s.execute(
                select(TakedownComplaint.id).where(
                    TakedownComplaint.notice_id == n.id, TakedownComplaint.state.in_(OPEN)
                )
            ).scalar()
            if pending is not None:
                raise ConflictError(f"complaint {pending} about notice {n.id} is still open", field="notice_id")
            simplified = c.subject != "decision" or n.simplified
            rule = profile.simplified_decide if simplified else profile.complaint_decide
            row = TakedownComplaint(
                id=new_id("tdp"),
                notice_id=n.id,
                decision_id=decision.id,
                by=c.by,
                complainant_ref=ref,
                filed_by=actor.party_id,
                channel="simplified" if simplified else "internal",
                subject=c.subject,
                state=ComplaintState.FILED.value,
                reason=reason,
                explanation=None,
                decided_by=None,
                filed_at=now,
                due_at=profile.calendar.period_end(now, rule.span),
                decided_at=None,
                log_index=0,
            )
            s.add(row)
            s.flush()
            refresh_due(s, n, profile)
            payload = {
                "complaint": row.id,
                "notice": n.id,
                "decision": decision.id,
                "by": c.by,
                "complainant": ref,
                "channel": row.channel,
                "subject": c.subject,
                "due_at": format_time(row.due_at),
                "reason_sha256": digest(reason),
            }
            row.log_index = log(s, self.ledger, "takedown.complaint.file", actor.party_id, row.id, payload, now)
            notify(
                s,
                party_id=n.provider_id,
                kind="takedown.complaint",
                subject=n.id,
                body={"complaint": row.id, "notice": n.id, "by": c.by, "due_at": format_time(row.due_at)},
                now=now,
            )
            return row

    def resolve(
        self,
        actor: Principal,
        complaint_id: str,
        *,
        outcome: str,
        explanation: str,
        human: bool = True,
        items: tuple[str, ...] | None = None,
    ) -> TakedownComplaint:
        """Decide a complaint; a reversal changes the decision and its measures (see the module docstring)."""
        event = OUTCOME_EVENTS.get(outcome)
        if event is None:
            raise InvalidInputError(f"the outcome is one of {', '.join(OUTCOME_EVENTS)}", field="outcome")
        check_complaint_reviewer(human=human)
        explanation = explanation.strip()
        if not explanation or len(explanation) > 2000:
            raise InvalidInputError("explain the outcome in 1 to 2000 characters", field="explanation")
        with self.store.write() as s:
            row = _complaint(s, complaint_id)
            n = load_notice(s, row.notice_id, for_update=True)
            require(actor.role, Action.TAKEDOWN_HANDLE, owner=handles(actor, n))
            state = ComplaintState(row.state)
            if state is ComplaintState.FILED:
                state = COMPLAINT.advance(state, ComplaintEvent.REVIEW)
            row.state = COMPLAINT.advance(state, event).value
            now = self.clock.now()
            row.explanation, row.decided_by, row.decided_at = explanation, actor.party_id, now
            changed = self._effect(s, actor, n, row, event, explanation, items)
            refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
            payload = {
                "complaint": row.id,
                "notice": n.id,
                "outcome": row.state,
                "decided_by": actor.party_id,
                "decision": changed,
                "explanation_sha256": digest(explanation),
            }
            row.decided_log_index = log(
                s, self.ledger, "takedown.complaint.decide", actor.party_id, row.id, payload, now
            )
            body = {"complaint": row.id, "notice": n.id, "outcome": row.state, "explanation": explanation}
            to = n.contact["sender"].get("email") if n.channel == "public" else None
            notify(
                s,
                party_id=n.provider_id if to else n.sender_ref,
                kind="takedown.complaint.decided",
                subject=n.id,
                body={**body, "to": to} if to else body,
                now=now,
            )
            notify(
                s,
                party_id=n.provider_id,
                kind="takedown.complaint.decided",
                subject=n.id,
                body={**body, "user": row.complainant_ref if row.by == "user" else None},
                now=now,
            )
        self.measures.finish_undos(actor, n.id)
        return row

    def _effect(
        self,
        s: Session,
        actor: Principal,
        n: TakedownNotice,
        row: TakedownComplaint,
        event: ComplaintEvent,
        explanation: str,
        items: tuple[str, ...] | None,
    ) -> str | None:
        """Apply the outcome to the notice; returns the id of the decision it changed, if any."""
        if event is ComplaintEvent.UPHOLD:
            return None
        if row.by == "user":
            if event is ComplaintEvent.REVERSE:
                self.counters.record_restoration(
                    s, actor, n, event=NoticeEvent.REVERSE, reason=f"complaint {row.id} reversed the decision"
                )
            else:
                self.measures.request_undo(
                    s,
                    n.id,
                    f"complaint {row.id} partially reversed the decision",
                    kinds=frozenset({MeasureKind.STRIKE}),
                )
            return self._record(s, actor, n, row, explanation).id
        outcome = "upheld" if event is ComplaintEvent.REVERSE else "partially_upheld"
        if outcome == "partially_upheld" and not items:
            raise InvalidInputError("a partial reversal names the items it upholds", field="items")
        d = DecisionInput(outcome=outcome, explanation=explanation, items=items if outcome != "upheld" else None)
        event_n = NoticeEvent.UPHOLD if outcome == "upheld" else NoticeEvent.UPHOLD_PARTIALLY
        return self.decisions.record(s, actor, n, d, event_n, trigger="complaint").id

    def _record(
        self, s: Session, actor: Principal, n: TakedownNotice, row: TakedownComplaint, explanation: str
    ) -> TakedownDecision:
        """The decision a user's complaint changed, for the record (no new restriction: no statement)."""
        seq = len(list(s.execute(select(TakedownDecision.id).where(TakedownDecision.notice_id == n.id)).scalars())) + 1
        d = TakedownDecision(
            id=new_id("tdd"),
            notice_id=n.id,
            seq=seq,
            trigger="complaint",
            outcome=row.state,
            decided_by=actor.party_id,
            ground=None,
            legal_ground=None,
            explanation=explanation,
            automated_detection=False,
            automated_decision="AUTOMATED_DECISION_NOT_AUTOMATED",
            measures=[],
            items=[],
            puid=None,
            statement=None,
            decided_at=self.clock.now(),
            log_index=0,
        )
        s.add(d)
        payload = {"notice": n.id, "decision": d.id, "trigger": "complaint", "complaint": row.id, "outcome": row.state}
        d.log_index = log(s, self.ledger, "takedown.decide", actor.party_id, d.id, payload, d.decided_at)
        return d


def _latest_decision(s: Session, notice_id: str) -> TakedownDecision | None:
    return s.execute(
        select(TakedownDecision)
        .where(TakedownDecision.notice_id == notice_id)
        .order_by(TakedownDecision.seq.desc())
        .limit(1)
    ).scalar_one_or_none()


def _complaint(s: Session, complaint_id: str) -> TakedownComplaint:
    row = s.execute(
        select(TakedownComplaint).where(TakedownComplaint.id == complaint_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no complaint {complaint_id}", field="complaint_id")
    return row


__all__ = ["Complaints"]
