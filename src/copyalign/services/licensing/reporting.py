"""Chasing usage reports: which licences owe one, which are overdue, and reminders in the outbox.

Every finalised notice that licensed a work (under the research exception too: its reports are the record of
use) owes a usage report per reporting period (:mod:`copyalign.core.licensing.reporting`). The operator and the
auditor see every overdue report, a developer its own; :meth:`ReportingService.remind` (the server's scheduled
tick, ``copyalign notices overdue --remind``) puts one ``report.overdue`` notification per notice and missing
period into the developer's outbox, never twice for the same period.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import format_time
from copyalign.core.licensing.notices import ListingStatus, NoticeStatus
from copyalign.core.licensing.reporting import ReportDue, is_overdue, next_due
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.store.models import Notice, NoticeWork, Notification, Party, UsageReport

REMINDER = "report.overdue"


class ReportingService(ServiceBase):
    def due(self, actor: Principal, *, overdue_only: bool = False) -> list[dict[str, Any]]:
        """The next report each licence owes (a developer's own; everyone's for the operator and the auditor),
        oldest due first; ``overdue_only`` keeps the ones past their due date."""
        require(actor.role, Action.INVOICE_READ, owner=True)
        now = self.clock.now()
        with self.store.read() as s:
            out = []
            for notice, name, due in self._dues(s, actor):
                late = is_overdue(due, now)
                if overdue_only and not late:
                    continue
                out.append(
                    {
                        "notice_id": notice.id,
                        "title": notice.title,
                        "developer": {"id": notice.developer_id, "name": name},
                        "report_every_days": notice.report_every_days or self.policy.licensing.report_every_days,
                        **due.to_dict(),
                        "overdue": late,
                        "days_overdue": due.days_overdue(now),
                    }
                )
        return sorted(out, key=lambda d: (d["due_at"], d["notice_id"]))

    def overdue(self, actor: Principal) -> list[dict[str, Any]]:
        return self.due(actor, overdue_only=True)

    def remind(self, actor: Principal) -> list[dict[str, Any]]:
        """Queue a reminder for every overdue report not yet reminded of; returns the reminders queued."""
        require(actor.role, Action.NOTICE_FINALISE, owner=False)
        now = self.clock.now()
        made: list[dict[str, Any]] = []
        with self.store.write() as s:
            for notice, _name, due in self._dues(s, actor):
                if not is_overdue(due, now):
                    continue
                body = {
                    "notice": notice.id,
                    "title": notice.title,
                    **due.to_dict(),
                    "days_overdue": due.days_overdue(now),
                }
                sent = s.execute(
                    select(Notification.body).where(
                        Notification.party_id == notice.developer_id,
                        Notification.kind == REMINDER,
                        Notification.subject == notice.id,
                    )
                ).scalars()
                if any(b.get("due_at") == body["due_at"] for b in sent):
                    continue
                row = {
                    "id": new_id("ntf"),
                    "party_id": notice.developer_id,
                    "kind": REMINDER,
                    "subject": notice.id,
                    "body": body,
                    "created_at": now,
                    "sent_at": None,
                }
                s.execute(insert(Notification), [row])
                made.append({**row, "created_at": format_time(now)})
        return made

    def _dues(self, s: Session, actor: Principal) -> list[tuple[Notice, str, ReportDue]]:
        licensed = select(NoticeWork.notice_id).where(NoticeWork.status == ListingStatus.LICENSED)
        q = (
            select(Notice, Party.name)
            .join(Party, Party.id == Notice.developer_id)
            .where(Notice.status == NoticeStatus.FINALISED, Notice.id.in_(licensed))
            .order_by(Notice.id)
        )
        if actor.role is Role.DEVELOPER:
            q = q.where(Notice.developer_id == actor.party_id)
        lic = self.policy.licensing
        out = []
        for notice, name in s.execute(q).all():
            if notice.finalised_at is None:  # finalised rows always have it; say so rather than guess
                continue
            out.append((notice, str(name), self._next(s, notice, notice.finalised_at, lic.report_grace_days)))
        return out

    def _next(self, s: Session, notice: Notice, finalised_at: datetime, grace: int) -> ReportDue:
        superseded = select(UsageReport.supersedes_id).where(UsageReport.supersedes_id.is_not(None))
        reports = [
            (start, end, submitted)
            for start, end, submitted in s.execute(
                select(UsageReport.period_start, UsageReport.period_end, UsageReport.submitted_at).where(
                    UsageReport.notice_id == notice.id, UsageReport.id.not_in(superseded)
                )
            ).all()
        ]
        every = notice.report_every_days or self.policy.licensing.report_every_days
        return next_due(finalised_at, reports, every_days=every, grace_days=grace)


__all__ = ["REMINDER", "ReportingService"]
