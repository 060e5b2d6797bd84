"""What the takedown desk returns: plain frozen records with ``to_dict`` for the API, the CLI's ``--json`` and
the portal pages. Contact details appear only where the reader runs the desk or sent them (``contact`` is None
otherwise); everyone else sees pseudonyms and digests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from copyalign.core.canonical import format_time


def _t(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class DeadlineView:
    kind: str
    due: datetime
    source: str
    binding: bool
    status: str
    earliest: datetime | None = None
    met_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "due": _t(self.due),
            "earliest": _t(self.earliest),
            "status": self.status,
            "met_at": _t(self.met_at),
            "binding": self.binding,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class ItemView:
    id: str
    position: int
    work_id: str | None
    work_description: str | None
    material_kind: str
    material_sha256: str
    material: str | None  # the value, where it is not the sender's own text (a trace id, digest, URL, model)
    trace_id: str | None
    evidence: dict[str, Any] | None
    recommendation: str | None
    reasons: list[Any] | None
    guard_missed: bool | None
    upheld: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "position": self.position,
            "work_id": self.work_id,
            "work_description": self.work_description,
            "material": {"kind": self.material_kind, "sha256": self.material_sha256, "value": self.material},
            "trace_id": self.trace_id,
            "evidence": self.evidence,
            "recommendation": self.recommendation,
            "reasons": self.reasons,
            "guard_missed": self.guard_missed,
            "upheld": self.upheld,
        }


@dataclass(frozen=True, slots=True)
class DecisionView:
    id: str
    notice_id: str
    seq: int
    trigger: str
    outcome: str
    decided_by: str
    ground: str | None
    legal_ground: str | None
    explanation: str
    automated_detection: bool
    automated_decision: str
    measures: list[Any]
    items: list[Any]
    puid: str | None
    statement: dict[str, Any] | None
    decided_at: datetime
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notice_id": self.notice_id,
            "seq": self.seq,
            "trigger": self.trigger,
            "outcome": self.outcome,
            "decided_by": self.decided_by,
            "ground": self.ground,
            "legal_ground": self.legal_ground,
            "explanation": self.explanation,
            "automated_detection": self.automated_detection,
            "automated_decision": self.automated_decision,
            "measures": self.measures,
            "items": self.items,
            "puid": self.puid,
            "statement": self.statement,
            "decided_at": _t(self.decided_at),
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class MeasureView:
    id: str
    notice_id: str
    kind: str
    state: str
    target: str
    refs: list[Any]
    detail: dict[str, Any]
    item_id: str | None
    created_at: datetime
    applied_at: datetime | None
    undone_at: datetime | None
    log_index: int
    applied_log_index: int | None
    undone_log_index: int | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notice_id": self.notice_id,
            "kind": self.kind,
            "state": self.state,
            "target": self.target,
            "refs": self.refs,
            "detail": self.detail,
            "item_id": self.item_id,
            "created_at": _t(self.created_at),
            "applied_at": _t(self.applied_at),
            "undone_at": _t(self.undone_at),
            "log_index": self.log_index,
            "applied_log_index": self.applied_log_index,
            "undone_log_index": self.undone_log_index,
        }


@dataclass(frozen=True, slots=True)
class CounterView:
    id: str
    notice_id: str
    user_ref: str
    state: str
    missing: list[Any]
    received_at: datetime
    completed_at: datetime | None
    forwarded_at: datetime | None
    court_action_at: datetime | None
    restored_at: datetime | None
    log_index: int
    contact: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "notice_id": self.notice_id,
            "user": self.user_ref,
            "state": self.state,
            "missing": self.missing,
            "received_at": _t(self.received_at),
            "completed_at": _t(self.completed_at),
            "forwarded_at": _t(self.forwarded_at),
            "court_action_at": _t(self.court_action_at),
            "restored_at": _t(self.restored_at),
            "log_index": self.log_index,
        }
        if self.contact is not None:
            out["contact"] = self.contact
        return out


@dataclass(frozen=True, slots=True)
class ComplaintView:
    id: str
    notice_id: str
    decision_id: str | None
    by: str
    channel: str
    subject: str
    state: str
    reason: str
    explanation: str | None
    decided_by: str | None
    filed_at: datetime
    due_at: datetime
    decided_at: datetime | None
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notice_id": self.notice_id,
            "decision_id": self.decision_id,
            "by": self.by,
            "channel": self.channel,
            "subject": self.subject,
            "state": self.state,
            "reason": self.reason,
            "explanation": self.explanation,
            "decided_by": self.decided_by,
            "filed_at": _t(self.filed_at),
            "due_at": _t(self.due_at),
            "decided_at": _t(self.decided_at),
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: str
    provider_id: str
    jurisdiction: str
    channel: str
    sender_ref: str
    sender_party_id: str | None
    principal_party_id: str | None
    status: str
    missing: list[Any]
    recommendation: str | None
    simplified: bool
    trusted_flagger: bool
    priority: int
    upheld: bool | None
    times: dict[str, datetime | None]
    due_at: datetime | None
    log_index: int
    deadlines: list[DeadlineView] = field(default_factory=list)
    items: list[ItemView] = field(default_factory=list)
    decisions: list[DecisionView] = field(default_factory=list)
    measures: list[MeasureView] = field(default_factory=list)
    counters: list[CounterView] = field(default_factory=list)
    complaints: list[ComplaintView] = field(default_factory=list)
    elements: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    token: str | None = None  # a public sender's follow token, shown once, at filing

    @property
    def overdue(self) -> list[DeadlineView]:
        return [d for d in self.deadlines if d.status == "overdue"]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "provider_id": self.provider_id,
            "jurisdiction": self.jurisdiction,
            "channel": self.channel,
            "sender": self.sender_ref,
            "sender_party_id": self.sender_party_id,
            "principal_party_id": self.principal_party_id,
            "status": self.status,
            "missing": self.missing,
            "recommendation": self.recommendation,
            "simplified": self.simplified,
            "trusted_flagger": self.trusted_flagger,
            "priority": "deprioritised" if self.priority else "normal",
            "upheld": self.upheld,
            "times": {k: _t(v) for k, v in self.times.items()},
            "due_at": _t(self.due_at),
            "deadlines": [d.to_dict() for d in self.deadlines],
            "items": [i.to_dict() for i in self.items],
            "decisions": [d.to_dict() for d in self.decisions],
            "measures": [m.to_dict() for m in self.measures],
            "counter_notices": [c.to_dict() for c in self.counters],
            "complaints": [c.to_dict() for c in self.complaints],
            "log_index": self.log_index,
        }
        if self.elements is not None:
            out["elements"] = self.elements
        if self.contact is not None:
            out["contact"] = self.contact
        if self.token is not None:
            out["token"] = self.token
        return out


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One line of a provider's desk queue (ordered by priority, then the earliest pending deadline)."""

    id: str
    provider_id: str
    jurisdiction: str
    status: str
    channel: str
    priority: int
    recommendation: str | None
    received_at: datetime
    due_at: datetime | None
    next_deadline: str | None
    overdue: bool
    items: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "jurisdiction": self.jurisdiction,
            "status": self.status,
            "channel": self.channel,
            "priority": "deprioritised" if self.priority else "normal",
            "recommendation": self.recommendation,
            "received_at": _t(self.received_at),
            "due_at": _t(self.due_at),
            "next_deadline": self.next_deadline,
            "overdue": self.overdue,
            "items": self.items,
        }


@dataclass(frozen=True, slots=True)
class StandingView:
    """A user's standing under the graduated response (seed 004 ¶85)."""

    provider_id: str
    user_ref: str
    sanction: str
    active_strikes: int
    until: datetime | None
    terminated_at: datetime | None
    strikes: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider_id": self.provider_id,
            "user": self.user_ref,
            "sanction": self.sanction,
            "active_strikes": self.active_strikes,
            "until": _t(self.until),
            "terminated_at": _t(self.terminated_at),
            "strikes": self.strikes,
        }


@dataclass(frozen=True, slots=True)
class AuthorisationView:
    id: str
    agent_id: str
    holder_id: str
    document: str
    work_ids: list[Any]
    valid_until: datetime | None
    created_at: datetime
    revoked_at: datetime | None
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "agent_id": self.agent_id,
            "holder_id": self.holder_id,
            "document": self.document,
            "work_ids": self.work_ids,
            "valid_until": _t(self.valid_until),
            "created_at": _t(self.created_at),
            "revoked_at": _t(self.revoked_at),
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class DueReport:
    """What ``takedown due`` did and found: restorations performed, and the work now overdue."""

    restored: list[str]
    overdue: list[QueueEntry]

    def to_dict(self) -> dict[str, Any]:
        return {"restored": self.restored, "overdue": [q.to_dict() for q in self.overdue]}


__all__ = [
    "AuthorisationView",
    "ComplaintView",
    "CounterView",
    "DeadlineView",
    "DecisionView",
    "DueReport",
    "ItemView",
    "MeasureView",
    "NoticeView",
    "QueueEntry",
    "StandingView",
]
