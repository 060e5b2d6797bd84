"""Reading the desk: a notice with everything about it, the queue, and the decisions of a period.

What a reader sees depends on who it is: the provider that runs the desk and the operator see everything,
contact details included (they must answer the sender and forward counter-notices); the sender sees its own
notice with its own contact details; an auditor sees every notice without anybody's contact details. The queue
is ordered by priority (a complainant deprioritised under DSA Art. 23 comes last), then by the earliest pending
deadline, which each step stores (``due_at``), so the order comes from the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.takedown.clocks import DeadlineStatus
from copyalign.core.takedown.states import MeasureKind, NoticeState
from copyalign.errors import InvalidInputError
from copyalign.services.base import ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.rows import (
    NOTICE_TIMES,
    clocks_for,
    deadlines_of,
    follows,
    handles,
    latest_complaint,
    load_notice,
)
from copyalign.services.takedown.views import (
    ComplaintView,
    CounterView,
    DeadlineView,
    DecisionView,
    ItemView,
    MeasureView,
    NoticeView,
    QueueEntry,
)
from copyalign.store.models import (
    Party,
    TakedownComplaint,
    TakedownCounterNotice,
    TakedownDecision,
    TakedownItem,
    TakedownMeasure,
    TakedownNotice,
)

_KIND_ORDER = {k.value: i for i, k in enumerate(MeasureKind)}
_PRIVATE_MATERIAL = frozenset({"output_text", "prompt"})  # long texts: the reader gets their digest and the item


def measure_order(m: TakedownMeasure) -> tuple[datetime, int, str]:
    """A decision's measures in the order of :class:`MeasureKind` (disable first, strike last), then target."""
    return (m.created_at, _KIND_ORDER.get(m.kind, len(_KIND_ORDER)), m.target)


def may_read(actor: Principal, n: TakedownNotice) -> None:
    require(actor.role, Action.TAKEDOWN_READ, owner=handles(actor, n) or follows(actor, n))


def decision_view(d: TakedownDecision) -> DecisionView:
    return DecisionView(
        d.id,
        d.notice_id,
        d.seq,
        d.trigger,
        d.outcome,
        d.decided_by,
        d.ground,
        d.legal_ground,
        d.explanation,
        d.automated_detection,
        d.automated_decision,
        list(d.measures),
        list(d.items),
        d.puid,
        d.statement,
        d.decided_at,
        d.log_index,
    )


def measure_view(m: TakedownMeasure) -> MeasureView:
    return MeasureView(
        m.id,
        m.notice_id,
        m.kind,
        m.state,
        m.target,
        list(m.refs),
        dict(m.detail),
        m.item_id,
        m.created_at,
        m.applied_at,
        m.undone_at,
        m.log_index,
        m.applied_log_index,
        m.undone_log_index,
    )


def complaint_view(c: TakedownComplaint) -> ComplaintView:
    return ComplaintView(
        c.id,
        c.notice_id,
        c.decision_id,
        c.by,
        c.channel,
        c.subject,
        c.state,
        c.reason,
        c.explanation,
        c.decided_by,
        c.filed_at,
        c.due_at,
        c.decided_at,
        c.log_index,
    )


def counter_view(c: TakedownCounterNotice, *, contact: bool) -> CounterView:
    return CounterView(
        c.id,
        c.notice_id,
        c.user_ref,
        c.state,
        list(c.missing),
        c.received_at,
        c.completed_at,
        c.forwarded_at,
        c.court_action_at,
        c.restored_at,
        c.log_index,
        dict(c.contact) if contact else None,
    )


class Reading(ServiceBase):
    def providers(self) -> list[tuple[str, str]]:
        """Every provider's id and public name (whom a notice may be addressed to), by name."""
        with self.store.read() as s:
            rows = s.execute(
                select(Party.id, Party.name).where(Party.role == Role.PROVIDER.value).order_by(Party.name, Party.id)
            )
            return [(str(i), str(n)) for i, n in rows]

    def notice(self, actor: Principal | None, notice_id: str, *, token: str | None = None) -> NoticeView:
        """A notice for ``actor`` (None: a public sender, already shown to hold the notice's token)."""
        with self.store.read() as s:
            n = load_notice(s, notice_id)
            if actor is not None:
                may_read(actor, n)
            desk = actor is not None and (actor.role is Role.OPERATOR or handles(actor, n))
            own = actor is None or follows(actor, n)
            return self.build(s, n, contact=desk or own, counter_contact=desk, token=token)

    def build(
        self, s: Session, n: TakedownNotice, *, contact: bool, counter_contact: bool, token: str | None = None
    ) -> NoticeView:
        now = self.clock.now()
        profile = clocks_for(self.policy, n.jurisdiction)
        complaint = latest_complaint(s, n.id)
        deadlines = [
            DeadlineView(d.kind.value, d.due, d.source, d.binding, d.status(now).value, d.earliest, d.met_at)
            for d in deadlines_of(n, profile, complaint)
        ]
        items = list(
            s.execute(
                select(TakedownItem).where(TakedownItem.notice_id == n.id).order_by(TakedownItem.position)
            ).scalars()
        )
        item_views = [
            ItemView(
                i.id,
                i.position,
                i.work_id,
                i.work_description,
                i.material_kind,
                i.material_sha256,
                None if i.material_kind in _PRIVATE_MATERIAL and not contact else i.material_value,
                i.trace_id,
                i.evidence,
                i.recommendation,
                i.reasons,
                i.guard_missed,
                i.upheld,
            )
            for i in items
        ]

        decisions = [
            decision_view(d)
            for d in s.execute(
                select(TakedownDecision).where(TakedownDecision.notice_id == n.id).order_by(TakedownDecision.seq)
            ).scalars()
        ]
        measures = [
            measure_view(m)
            for m in sorted(
                s.execute(select(TakedownMeasure).where(TakedownMeasure.notice_id == n.id)).scalars(), key=measure_order
            )
        ]
        counters = [
            counter_view(c, contact=counter_contact)
            for c in s.execute(
                select(TakedownCounterNotice)
                .where(TakedownCounterNotice.notice_id == n.id)
                .order_by(TakedownCounterNotice.received_at)
            ).scalars()
        ]
        complaints = [
            complaint_view(c)
            for c in s.execute(
                select(TakedownComplaint)
                .where(TakedownComplaint.notice_id == n.id)
                .order_by(TakedownComplaint.filed_at)
            ).scalars()
        ]
        elements = {k: v for k, v in n.elements.items() if k != "works"}
        return NoticeView(
            n.id,
            n.provider_id,
            n.jurisdiction,
            n.channel,
            n.sender_ref,
            n.sender_party_id,
            n.principal_party_id,
            n.status,
            list(n.missing),
            n.recommendation,
            n.simplified,
            n.trusted_flagger,
            n.priority,
            n.upheld,
            {k: getattr(n, k) for k in NOTICE_TIMES},
            n.due_at,
            n.log_index,
            deadlines,
            item_views,
            decisions,
            measures,
            counters,
            complaints,
            elements,
            dict(n.contact) if contact else None,
            token,
        )

    # -- the queue ---------------------------------------------------------------------------------------
    def queue(
        self,
        actor: Principal,
        *,
        provider_id: str | None = None,
        status: str | None = None,
        overdue: bool = False,
        open_only: bool = True,
        limit: int = 100,
        offset: int = 0,
    ) -> list[QueueEntry]:
        """The notices the actor may see, ordered by priority then deadline; filters by provider, state and
        whether a deadline has passed."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInputError("limit is 1 to 1000 and offset at least 0", field="limit")
        if status is not None and status not in {s.value for s in NoticeState}:
            raise InvalidInputError(f"unknown notice state {status!r}", field="status")
        require(actor.role, Action.TAKEDOWN_READ, owner=True)
        now = self.clock.now()
        q = select(TakedownNotice)
        if actor.role is Role.PROVIDER:
            if provider_id not in (None, actor.party_id):
                require(actor.role, Action.TAKEDOWN_READ, owner=False)
            q = q.where(TakedownNotice.provider_id == actor.party_id)
        elif actor.role not in (Role.OPERATOR, Role.AUDITOR):
            q = q.where(
                (TakedownNotice.sender_party_id == actor.party_id)
                | (TakedownNotice.principal_party_id == actor.party_id)
            )
        if provider_id is not None:
            q = q.where(TakedownNotice.provider_id == provider_id)
        if status is not None:
            q = q.where(TakedownNotice.status == status)
        elif open_only:
            q = q.where(TakedownNotice.status != NoticeState.CLOSED.value)
        if overdue:
            q = q.where(TakedownNotice.due_at.is_not(None), TakedownNotice.due_at < now)
        q = q.order_by(
            TakedownNotice.priority, TakedownNotice.due_at.is_(None), TakedownNotice.due_at, TakedownNotice.received_at
        )
        with self.store.read() as s:
            rows = list(s.execute(q.limit(limit).offset(offset)).scalars())
            counts = (
                dict(
                    s.execute(
                        select(TakedownItem.notice_id, func.count())
                        .where(TakedownItem.notice_id.in_([n.id for n in rows]))
                        .group_by(TakedownItem.notice_id)
                    ).all()
                )
                if rows
                else {}
            )
            return [self._entry(s, n, counts.get(n.id, 0), now) for n in rows]

    def _entry(self, s: Session, n: TakedownNotice, items: int, now: datetime) -> QueueEntry:
        pending = [
            d
            for d in deadlines_of(n, clocks_for(self.policy, n.jurisdiction), latest_complaint(s, n.id))
            if d.duty and d.met_at is None
        ]
        nxt = min(pending, key=lambda d: d.due, default=None)
        late = any(d.status(now) is DeadlineStatus.OVERDUE for d in pending)
        return QueueEntry(
            n.id,
            n.provider_id,
            n.jurisdiction,
            n.status,
            n.channel,
            n.priority,
            n.recommendation,
            n.received_at,
            n.due_at,
            nxt.kind.value if nxt else None,
            late,
            items,
        )


__all__ = ["Reading", "complaint_view", "counter_view", "decision_view", "may_read", "measure_view"]
