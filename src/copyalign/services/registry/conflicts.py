"""The operator's queue of registration conflicts, and how a registration records its own.

A registration that duplicates another holder's work (:mod:`copyalign.core.registry.conflicts`) carries the
conflicts in its ``work.registered`` log entry and leaves one ``registration_conflicts`` row per duplicated
work, in the same transaction (:func:`record_conflicts`): ``noted`` under the profile's ``allow``, ``open`` under
``flag``. The operator lists the open ones (``copyalign works conflicts``, ``GET /v1/conflicts``, the portal's
``/conflicts``) and resolves each with a decision and a note, logged as ``work.conflict_resolved``.

The check itself runs in the matching engine, a mechanism above the registry: :func:`copyalign.context.connect`
hands :class:`~copyalign.services.registry.works.WorkService` a ``find_conflicts`` hook, as it subscribes the
notices to preference changes.

Example:
    >>> queue = ca.conflicts.list(operator)  # doctest: +SKIP
    >>> ca.conflicts.resolve(operator, queue[0].id, decision="first-holder", note="contract")  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from copyalign.core.authz import Action, require
from copyalign.core.canonical import format_time
from copyalign.core.registry.conflicts import Conflict, ConflictStatus, Resolution
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.models import Party, RegistrationConflict, Work

MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class ConflictView:
    """One conflict as the queue shows it: the new registration, the work it duplicates, and their holders."""

    id: str
    status: str
    work_id: str
    title: str
    holder_id: str
    holder_name: str
    other_work_id: str
    other_title: str
    other_holder_id: str
    other_holder_name: str
    match: str
    score: float
    created_at: datetime
    log_index: int
    resolved_at: datetime | None = None
    decision: str | None = None
    note: str | None = None
    resolution_log_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "work": {
                "id": self.work_id,
                "title": self.title,
                "holder": {"id": self.holder_id, "name": self.holder_name},
            },
            "duplicates": {
                "id": self.other_work_id,
                "title": self.other_title,
                "holder": {"id": self.other_holder_id, "name": self.other_holder_name},
            },
            "match": self.match,
            "score": round(self.score, 4),
            "created_at": format_time(self.created_at),
            "log_index": self.log_index,
            "resolved_at": format_time(self.resolved_at) if self.resolved_at else None,
            "decision": self.decision,
            "note": self.note,
            "resolution_log_index": self.resolution_log_index,
        }


def record_conflicts(
    s: Session,
    *,
    work_ids: Sequence[str],
    holder_id: str,
    conflicts: Sequence[Sequence[Conflict]],
    action: str,
    log_indexes: Sequence[int],
    now: datetime,
) -> None:
    """Inside the registration's transaction: one row per duplicated work (``noted`` or ``open``)."""
    status = ConflictStatus.OPEN if action == "flag" else ConflictStatus.NOTED
    rows = [
        RegistrationConflict(
            id=new_id("cfl"),
            work_id=wid,
            holder_id=holder_id,
            other_work_id=c.work_id,
            other_holder_id=c.holder_id,
            match=c.match,
            score=float(c.score),
            status=status.value,
            created_at=now,
            log_index=index,
        )
        for wid, found, index in zip(work_ids, conflicts, log_indexes, strict=True)
        for c in found
    ]
    s.add_all(rows)


class ConflictService(ServiceBase):
    def _select(self) -> Any:
        other = aliased(Work)
        holder, other_holder = aliased(Party), aliased(Party)
        return (
            select(RegistrationConflict, Work.title, holder.name, other.title, other_holder.name)
            .join(Work, Work.id == RegistrationConflict.work_id)
            .join(other, other.id == RegistrationConflict.other_work_id)
            .join(holder, holder.id == RegistrationConflict.holder_id)
            .join(other_holder, other_holder.id == RegistrationConflict.other_holder_id)
        )

    @staticmethod
    def _view(row: Any) -> ConflictView:
        c, title, holder_name, other_title, other_holder_name = row
        return ConflictView(
            c.id,
            c.status,
            c.work_id,
            title,
            c.holder_id,
            holder_name,
            c.other_work_id,
            other_title,
            c.other_holder_id,
            other_holder_name,
            c.match,
            c.score,
            c.created_at,
            c.log_index,
            c.resolved_at,
            c.decision,
            c.note,
            c.resolution_log_index,
        )

    def list(self, actor: Principal, *, status: str | None = "open", limit: int = 200) -> builtins.list[ConflictView]:
        """The operator's queue: conflicts in ``status`` (``open`` by default; None for all), oldest first."""
        require(actor.role, Action.CONFLICT_REVIEW, owner=False)
        if status is not None and status not in {s.value for s in ConflictStatus}:
            raise InvalidInputError(
                f"unknown status {status!r}; expected one of {', '.join(s.value for s in ConflictStatus)}",
                field="status",
            )
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit must be between 1 and 1000", field="limit")
        stmt = self._select().order_by(RegistrationConflict.created_at, RegistrationConflict.id).limit(limit)
        if status is not None:
            stmt = stmt.where(RegistrationConflict.status == status)
        with self.store.read() as s:
            return [self._view(r) for r in s.execute(stmt).all()]

    def for_work(self, actor: Principal, work_id: str) -> builtins.list[ConflictView]:
        """The conflicts of one work, as the new registration or as the work duplicated; its holder may read
        them (the work page shows them), and so may whoever may review conflicts."""
        with self.store.read() as s:
            w = s.get(Work, work_id)
            if w is None:
                raise NotFoundError(f"no work {work_id}", field="work_id")
            require(actor.role, Action.WORK_READ, owner=w.holder_id == actor.party_id)
            stmt = (
                self._select()
                .where((RegistrationConflict.work_id == work_id) | (RegistrationConflict.other_work_id == work_id))
                .order_by(RegistrationConflict.created_at, RegistrationConflict.id)
            )
            return [self._view(r) for r in s.execute(stmt).all()]

    def resolve(self, actor: Principal, conflict_id: str, *, decision: str, note: str = "") -> ConflictView:
        """Close an open conflict with the operator's decision (:class:`Resolution`) and a note; logged."""
        require(actor.role, Action.CONFLICT_REVIEW, owner=False)
        chosen = Resolution.parse(decision)
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise InvalidInputError(f"the note is over {MAX_NOTE} characters", field="note")
        with self.store.write() as s:
            c = s.get(RegistrationConflict, conflict_id)
            if c is None:
                raise NotFoundError(f"no conflict {conflict_id}", field="conflict_id")
            if c.status != ConflictStatus.OPEN.value:
                raise ConflictError(f"conflict {conflict_id} is {c.status}, not open", code="conflict_not_open")
            now = self.clock.now()
            payload = {
                "work": c.work_id,
                "duplicates": c.other_work_id,
                "decision": chosen.value,
                "note": note,
            }
            [receipt] = self.ledger.append(s, [Event("work.conflict_resolved", actor.party_id, c.id, payload)], at=now)
            c.status = ConflictStatus.RESOLVED.value
            c.resolved_at, c.resolved_by, c.decision, c.note = now, actor.party_id, chosen.value, note or None
            c.resolution_log_index = receipt.index
            s.flush()
            row = s.execute(self._select().where(RegistrationConflict.id == conflict_id)).one()
            return self._view(row)


__all__ = ["ConflictService", "ConflictView", "record_conflicts"]
