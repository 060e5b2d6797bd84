"""What every part of the desk shares: loading a notice, moving its state, its clocks, the outbox, the log.

Each step of the procedure is one write transaction holding the domain rows, the notice's new state and
deadline, the outbox messages and the log entry (DESIGN.md: never one without the other). The notice's
``due_at`` is recomputed from :func:`copyalign.core.takedown.clocks.compute_deadlines` on every step, so that
the desk queue sorts by the next deadline in the database rather than in Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from copyalign.core.authz import Role
from copyalign.core.policy import PolicyProfile
from copyalign.core.takedown.clocks import ClockProfile, Deadline, NoticeTimes, compute_deadlines
from copyalign.core.takedown.elements import Jurisdiction
from copyalign.core.takedown.states import NOTICE, NoticeEvent, NoticeState
from copyalign.errors import ConfigurationError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.log.ledger import Event, Ledger
from copyalign.services.registry.parties import SYSTEM, Principal
from copyalign.store.models import Notification, TakedownComplaint, TakedownNotice

DESK = Principal(SYSTEM, Role.OPERATOR, "takedown desk")
"""Who the desk is when it reads the guard's records for a notice it has already authorised: a rights holder
sees a trace only through its notice (the matrix gives holders no ``trace.read``), so the desk reads it."""

NOTICE_TIMES = (
    "received_at",
    "completed_at",
    "acknowledged_at",
    "decided_at",
    "acted_at",
    "user_inquired_at",
    "counter_notice_at",
    "counter_forwarded_at",
    "court_action_at",
    "restored_at",
    "closed_at",
)


def desk_grant(actor: Principal) -> Principal:
    """The actor, with the operator's grant, for the guard calls a measure makes in its name.

    The desk authorises the measure first (``takedown.handle``: a provider on its own desk); the guard's own
    matrix would refuse a provider the term base, which the measure needs (seed 004 ¶87: block the prompt's
    terms). The log entries still name the actor.
    """
    return Principal(actor.party_id, Role.OPERATOR, actor.name, actor.key_id)


def log(
    s: Session, ledger: Ledger, event: str, actor_id: str, subject: str, payload: Mapping[str, Any], now: datetime
) -> int:
    """Append one ``takedown.*`` entry in the caller's transaction; returns its index."""
    [receipt] = ledger.append(s, [Event(event, actor_id, subject, payload)], at=now)
    return receipt.index


def notify(s: Session, *, party_id: str, kind: str, subject: str, body: Mapping[str, Any], now: datetime) -> None:
    """A message in the outbox (an operator's mailer sends it). A sender without an account is written to
    through the provider's desk: ``party_id`` is the provider and ``body["to"]`` the address."""
    s.execute(
        insert(Notification),
        [
            {
                "id": new_id("ntf"),
                "party_id": party_id,
                "kind": kind,
                "subject": subject,
                "body": dict(body),
                "created_at": now,
                "sent_at": None,
            }
        ],
    )


def desk_jurisdiction(policy: PolicyProfile, requested: str | None = None) -> Jurisdiction:
    """The jurisdiction whose elements and clocks apply: the notice's, or else the profile's."""
    raw = requested or policy.profile.jurisdiction
    try:
        return Jurisdiction(str(raw).upper())
    except ValueError:
        if requested:
            known = ", ".join(j.value for j in Jurisdiction)
            raise InvalidInputError(
                f"unknown jurisdiction {requested!r}; expected one of {known}", field="jurisdiction"
            ) from None
        raise ConfigurationError(
            f"the policy profile's jurisdiction {raw!r} has no takedown procedure; use CN, EU, JP or US"
        ) from None


def clocks_for(policy: PolicyProfile, jurisdiction: str) -> ClockProfile:
    return policy.takedown.clocks(jurisdiction)


def load_notice(s: Session, notice_id: str, *, for_update: bool = False) -> TakedownNotice:
    q = select(TakedownNotice).where(TakedownNotice.id == notice_id)
    if for_update:
        q = q.with_for_update()
    row = s.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no takedown notice {notice_id}", field="notice_id")
    return row


def advance(n: TakedownNotice, event: NoticeEvent) -> NoticeState:
    """Move the notice along :data:`~copyalign.core.takedown.states.NOTICE` (ConflictError when it may not)."""
    new = NOTICE.advance(NoticeState(n.status), event)
    n.status = new.value
    return new


def latest_complaint(s: Session, notice_id: str) -> TakedownComplaint | None:
    return s.execute(
        select(TakedownComplaint)
        .where(TakedownComplaint.notice_id == notice_id)
        .order_by(TakedownComplaint.filed_at.desc(), TakedownComplaint.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def times_of(n: TakedownNotice, complaint: TakedownComplaint | None = None) -> NoticeTimes:
    return NoticeTimes(
        received_at=n.received_at,
        completed_at=n.completed_at,
        acknowledged_at=n.acknowledged_at,
        decided_at=n.decided_at,
        upheld=n.upheld,
        simplified=n.simplified,
        acted_at=n.acted_at,
        user_inquired_at=n.user_inquired_at,
        counter_notice_at=n.counter_notice_at,
        counter_forwarded_at=n.counter_forwarded_at,
        court_action_at=n.court_action_at,
        restored_at=n.restored_at,
        complaint_filed_at=complaint.filed_at if complaint else None,
        complaint_decided_at=complaint.decided_at if complaint else None,
    )


def deadlines_of(n: TakedownNotice, profile: ClockProfile, complaint: TakedownComplaint | None) -> tuple[Deadline, ...]:
    deadlines = compute_deadlines(times_of(n, complaint), profile)
    if complaint is not None and complaint.channel == "simplified":
        # The simplified channel decides on its own clock (seed 003 §4.4 ③); the core counts the general one.
        deadlines = tuple(
            d
            if d.kind.value != "complaint_decide"
            else Deadline(
                d.kind,
                complaint.due_at,
                profile.simplified_decide.source,
                profile.simplified_decide.binding,
                met_at=complaint.decided_at,
            )
            for d in deadlines
        )
    return deadlines


def refresh_due(s: Session, n: TakedownNotice, profile: ClockProfile) -> tuple[Deadline, ...]:
    """Recompute the notice's deadlines and store the earliest pending one (None when nothing is due, as for a
    closed notice)."""
    deadlines = deadlines_of(n, profile, latest_complaint(s, n.id))
    pending = [d.due for d in deadlines if d.duty and d.met_at is None]
    n.due_at = None if n.status == NoticeState.CLOSED else min(pending, default=None)
    return deadlines


def handles(actor: Principal, n: TakedownNotice) -> bool:
    """Whether the actor runs the desk the notice is addressed to."""
    return actor.party_id == n.provider_id


def follows(actor: Principal, n: TakedownNotice) -> bool:
    """Whether the actor filed the notice, or is the rights holder it was filed for."""
    return actor.party_id in (n.sender_party_id, n.principal_party_id)


__all__ = [
    "DESK",
    "NOTICE_TIMES",
    "advance",
    "clocks_for",
    "deadlines_of",
    "desk_grant",
    "desk_jurisdiction",
    "follows",
    "handles",
    "latest_complaint",
    "load_notice",
    "log",
    "notify",
    "refresh_due",
    "times_of",
]
