"""Training notices: a developer announces the works it means to train on; rights holders object in a window.

The procedure of seed 001 §3.2 (002 §3.2): the notice lists the works, the purpose and the compensation (a
tariff of the policy profile); publishing opens a window of at least ``licensing.minimum_window_days``;
works whose preference already denies the purpose are excluded at once; every holder with a listed work is
notified (a row in the outbox an operator wires to e-mail). During the window a holder objects per work or
for all its works in the notice, and may withdraw an objection (kept in history). At the close the notice
is finalised — by the scheduled :meth:`NoticeService.close_due` or an explicit call, idempotently: the
excluded list (denied at publication, objected, opted out since) and the licensed list are frozen as
exclusion-list version 1, signed into the log by its digest. A holder who later switches a licensed work to
``deny`` excludes it from the next version at once (dynamic filtering, seed 001 §3.2).

Every state change is one transaction with its log entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import canonical, format_time
from copyalign.core.canonical import digest as digest_of
from copyalign.core.licensing import notices as rules
from copyalign.core.licensing.notices import ExclusionReason, ListingStatus, NoticeInput, NoticeStatus, objection_state
from copyalign.core.licensing.research import exempt_use
from copyalign.core.policy import PolicyProfile
from copyalign.core.registry.preferences import Purpose, Value, parse_jurisdiction, resolve
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.log.ledger import Event, Ledger
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import OptOut, statements_for
from copyalign.store.batching import in_batches
from copyalign.store.models import ExclusionList, Notice, NoticeWork, Notification, Objection, Party, Work


@dataclass(frozen=True, slots=True)
class NoticeView:
    id: str
    developer_id: str
    developer_name: str
    title: str
    purpose: str
    use: str
    jurisdiction: str
    tariff: str
    currency: str
    window_days: int
    status: str
    created_at: datetime
    published_at: datetime | None
    closes_at: datetime | None
    finalised_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    exclusion_version: int | None = None
    report_every_days: int | None = None
    policy_overrides: list[dict[str, Any]] = field(default_factory=list)
    research: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        t = format_time
        return {
            "id": self.id,
            "developer": {"id": self.developer_id, "name": self.developer_name},
            "title": self.title,
            "purpose": self.purpose,
            "use": self.use,
            "jurisdiction": self.jurisdiction,
            "tariff": self.tariff,
            "currency": self.currency,
            "window_days": self.window_days,
            "status": self.status,
            "created_at": t(self.created_at),
            "published_at": t(self.published_at) if self.published_at else None,
            "closes_at": t(self.closes_at) if self.closes_at else None,
            "finalised_at": t(self.finalised_at) if self.finalised_at else None,
            "counts": self.counts,
            "exclusion_version": self.exclusion_version,
            "report_every_days": self.report_every_days,
            "policy_overrides": self.policy_overrides,
            "research": self.research,
        }


@dataclass(frozen=True, slots=True)
class ObjectionView:
    id: str
    notice_id: str
    work_id: str
    holder_id: str
    reason: str
    created_at: datetime
    withdrawn_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "notice_id": self.notice_id,
            "work_id": self.work_id,
            "holder_id": self.holder_id,
            "reason": self.reason,
            "created_at": format_time(self.created_at),
            "withdrawn_at": format_time(self.withdrawn_at) if self.withdrawn_at else None,
            "state": objection_state(self.withdrawn_at).value,
        }


def _objection_view(o: Objection) -> ObjectionView:
    return ObjectionView(o.id, o.notice_id, o.work_id, o.holder_id, o.reason, o.created_at, o.withdrawn_at)


def _denies(
    session: Session,
    works: Sequence[Work],
    purpose: Purpose,
    *,
    at: datetime,
    jurisdiction: str,
    defaults: Mapping[Purpose, Value],
) -> set[str]:
    """The works whose preference, as resolved ``at``, denies ``purpose`` (read in batches: a notice may
    list a million works, more than a database takes in one IN list)."""
    default = defaults[purpose]
    out: set[str] = set()
    for batch in in_batches(works):
        stmts = statements_for(session, batch)
        out |= {
            w.id
            for w in batch
            if resolve(stmts[w.id], purpose, at=at, jurisdiction=jurisdiction, default=default).value is Value.DENY
        }
    return out


def write_exclusion_list(
    s: Session,
    ledger: Ledger,
    notice: Notice,
    rows: Sequence[NoticeWork],
    actor_id: str,
    now: datetime,
    *,
    version: int,
) -> ExclusionList:
    """Freeze the notice's current lists as ``version`` and sign their digest into the log."""
    excluded = sorted(
        ({"work": r.work_id, "reason": r.reason} for r in rows if r.status == ListingStatus.EXCLUDED),
        key=lambda e: str(e["work"]),
    )
    licensed = sorted(r.work_id for r in rows if r.status == ListingStatus.LICENSED)
    digest = digest_of({"notice": notice.id, "version": version, "excluded": excluded, "licensed": licensed})
    payload = {
        "notice": notice.id,
        "version": version,
        "excluded": len(excluded),
        "licensed": len(licensed),
        "sha256": digest,
    }
    event = "notice.finalise" if version == 1 else "exclusions.update"
    [rc] = ledger.append(s, [Event(event, actor_id, notice.id, payload)], at=now)
    row = ExclusionList(
        notice_id=notice.id,
        version=version,
        excluded=excluded,
        licensed=licensed,
        sha256=digest,
        created_at=now,
        log_index=rc.index,
    )
    s.add(row)
    return row


class NoticeService(ServiceBase):
    # -- developer ---------------------------------------------------------------------------------------
    def after_opt_out(self, session: Session, event: OptOut) -> None:
        """The registry's opt-out hook: dynamic filtering of finalised notices (:func:`exclude_after_opt_out`)."""
        exclude_after_opt_out(
            session,
            self.ledger,
            work_ids=event.work_ids,
            holder_id=event.holder_id,
            purposes=set(event.purposes),
            actor_id=event.actor_id,
            now=event.at,
            policy=self.policy,
        )

    def create(self, actor: Principal, inp: NoticeInput) -> NoticeView:
        """A draft notice; nothing is public until :meth:`publish`.

        A research or analysis use claims the profile's research exception (seed 001 §3.1): refused unless the
        profile's rules cover it and every condition is declared; the claim is recorded and the notice pays no
        fee. The notice carries the licence's reporting period and the profile's overrides of its floors, both
        in its log entry.
        """
        require(actor.role, Action.NOTICE_CREATE, owner=True)
        lic = self.policy.licensing
        title, purpose, use, ids = inp.title, inp.purpose, inp.use, list(inp.works)
        claim = self.policy.research.claim(use.value, purpose, inp.conditions) if exempt_use(use.value) else None
        overrides = [d.to_dict() for d in self.policy.departures()]
        tariff = lic.tariff(inp.tariff)
        window = rules.window_days(inp.window_days, default=lic.notice_window_days, minimum=lic.minimum_window_days)
        jurisdiction = inp.jurisdiction or parse_jurisdiction(self.policy.profile.jurisdiction)
        with self.store.write() as s:
            holders: dict[str, str] = {}
            for part in in_batches(ids):
                holders.update(s.execute(select(Work.id, Work.holder_id).where(Work.id.in_(part))).all())
            unknown = [w for w in ids if w not in holders]
            if unknown:
                more = f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""
                raise InvalidInputError(f"no registered work {unknown[0]}{more}", field="works")
            now = self.clock.now()
            nid = new_id("ntc")
            payload = {
                "notice": nid,
                "developer": actor.party_id,
                "title": title,
                "purpose": purpose.value,
                "use": use.value,
                "jurisdiction": jurisdiction,
                "tariff": tariff.name,
                "currency": tariff.currency,
                "window_days": window,
                "works": len(ids),
                "works_sha256": digest_of(ids),
                "report_every_days": lic.report_every_days,
                "policy": self.policy.profile.name,
                "policy_overrides": overrides,
                "research": claim.to_dict() if claim is not None else None,
            }
            [receipt] = self.ledger.append(s, [Event("notice.create", actor.party_id, nid, payload)], at=now)
            s.add(
                Notice(
                    id=nid,
                    developer_id=actor.party_id,
                    title=title,
                    purpose=purpose.value,
                    use=use.value,
                    jurisdiction=jurisdiction,
                    tariff=tariff.name,
                    currency=tariff.currency,
                    window_days=window,
                    status=NoticeStatus.DRAFT,
                    created_at=now,
                    log_index=receipt.index,
                    report_every_days=lic.report_every_days,
                    policy_overrides=overrides,
                    research=claim.to_dict() if claim is not None else None,
                )
            )
            s.flush()
            s.execute(
                insert(NoticeWork),
                [
                    {"notice_id": nid, "work_id": w, "holder_id": holders[w], "status": ListingStatus.LISTED}
                    for w in ids
                ],
            )
        return self.get(actor, nid)

    def publish(self, actor: Principal, notice_id: str) -> NoticeView:
        """Open the window; exclude works that already deny the purpose; notify every holder with a work."""
        with self.store.write() as s:
            notice = self._notice(s, notice_id, for_update=True)
            require(actor.role, Action.NOTICE_CREATE, owner=notice.developer_id == actor.party_id)
            opened = rules.publish(NoticeStatus(notice.status), notice_id)
            now = self.clock.now()
            listed = self._works(s, notice_id)
            denied = _denies(
                s,
                listed,
                Purpose(notice.purpose),
                at=now,
                jurisdiction=notice.jurisdiction,
                defaults=self.policy.preferences.defaults,
            )
            closes = rules.closes_at(now, notice.window_days)
            payload = {
                "notice": notice_id,
                "published_at": format_time(now),
                "closes_at": format_time(closes),
                "excluded_denied": len(denied),
                "excluded_sha256": digest_of(sorted(denied)),
            }
            [receipt] = self.ledger.append(s, [Event("notice.publish", actor.party_id, notice_id, payload)], at=now)
            notice.status, notice.published_at, notice.closes_at = opened, now, closes
            for part in in_batches(sorted(denied)):
                s.execute(
                    update(NoticeWork)
                    .where(NoticeWork.notice_id == notice_id, NoticeWork.work_id.in_(part))
                    .values(status=ListingStatus.EXCLUDED, reason=ExclusionReason.DENIED, decided_at=now)
                )
            per_holder: dict[str, list[str]] = {}
            for w in listed:
                per_holder.setdefault(w.holder_id, []).append(w.id)
            s.execute(
                insert(Notification),
                [
                    {
                        "id": new_id("ntf"),
                        "party_id": holder,
                        "kind": "notice.published",
                        "subject": notice_id,
                        "body": {
                            "notice": notice_id,
                            "title": notice.title,
                            "purpose": notice.purpose,
                            "closes_at": format_time(closes),
                            "your_works": len(works),
                            "already_excluded": len([w for w in works if w in denied]),
                            "log_index": receipt.index,
                        },
                        "created_at": now,
                        "sent_at": None,
                    }
                    for holder, works in sorted(per_holder.items())
                ],
            )
        return self.get(actor, notice_id)

    # -- rights holders ----------------------------------------------------------------------------------
    def object(
        self, actor: Principal, notice_id: str, work_ids: Sequence[str] | None = None, reason: str = ""
    ) -> list[ObjectionView]:
        """Object to listed works (``None``: every work of the actor's in the notice) during the window."""
        if len(reason) > rules.MAX_REASON_CHARS:
            raise InvalidInputError(f"reason is limited to {rules.MAX_REASON_CHARS} characters", field="reason")
        with self.store.write() as s:
            notice = self._notice(s, notice_id, for_update=True)
            now = self.clock.now()
            self._window_open(notice, now)
            q = select(NoticeWork).where(NoticeWork.notice_id == notice_id)
            if work_ids is None:
                if actor.role is Role.OPERATOR:
                    raise InvalidInputError("an operator objects for named works only", field="works")
                rows = list(s.execute(q.where(NoticeWork.holder_id == actor.party_id)).scalars())
                if not rows:
                    raise InvalidInputError(f"notice {notice_id} lists none of your works", field="works")
            else:
                wanted = sorted(set(work_ids))
                if not wanted:
                    raise InvalidInputError("name at least one work", field="works")
                rows = []
                for part in in_batches(wanted):
                    rows += list(s.execute(q.where(NoticeWork.work_id.in_(part))).scalars())
                found = {r.work_id for r in rows}
                missing = [w for w in wanted if w not in found]
                if missing:
                    raise InvalidInputError(f"notice {notice_id} does not list work {missing[0]}", field="works")
            for r in rows:
                require(actor.role, Action.OBJECTION_FILE, owner=r.holder_id == actor.party_id)
            active = set(
                s.execute(
                    select(Objection.work_id).where(Objection.notice_id == notice_id, Objection.withdrawn_at.is_(None))
                ).scalars()
            )
            new = [r for r in rows if r.work_id not in active]
            events = [
                Event(
                    "objection.file",
                    actor.party_id,
                    r.work_id,
                    {"notice": notice_id, "work": r.work_id, "holder": r.holder_id, "reason_sha256": digest_of(reason)},
                )
                for r in new
            ]
            receipts = self.ledger.append(s, events, at=now)
            made = [
                Objection(
                    id=new_id("obj"),
                    notice_id=notice_id,
                    work_id=r.work_id,
                    holder_id=r.holder_id,
                    actor_id=actor.party_id,
                    reason=reason,
                    created_at=now,
                    log_index=rc.index,
                )
                for r, rc in zip(new, receipts, strict=True)
            ]
            s.add_all(made)
            s.flush()
            ids = {r.work_id for r in rows}
            out = s.execute(
                select(Objection).where(Objection.notice_id == notice_id, Objection.withdrawn_at.is_(None))
            ).scalars()
            return [_objection_view(o) for o in out if o.work_id in ids]

    def withdraw(self, actor: Principal, objection_id: str) -> ObjectionView:
        """Withdraw an objection while the window is open; the objection stays in the history."""
        with self.store.write() as s:
            o = s.get(Objection, objection_id)
            if o is None:
                raise NotFoundError(f"no objection {objection_id}", field="objection_id")
            require(actor.role, Action.OBJECTION_FILE, owner=o.holder_id == actor.party_id)
            notice = self._notice(s, o.notice_id, for_update=True)
            now = self.clock.now()
            self._window_open(notice, now)
            if o.withdrawn_at is not None:
                return _objection_view(o)
            [rc] = self.ledger.append(
                s,
                [Event("objection.withdraw", actor.party_id, o.work_id, {"notice": o.notice_id, "objection": o.id})],
                at=now,
            )
            o.withdrawn_at, o.withdraw_log_index = now, rc.index
            return _objection_view(o)

    def objections(self, actor: Principal, notice_id: str) -> list[ObjectionView]:
        """The objection history of a notice (withdrawn ones included): the developer's, the operator's and
        the auditor's view; a holder sees its own."""
        with self.store.read() as s:
            notice = self._notice(s, notice_id)
            q = select(Objection).where(Objection.notice_id == notice_id).order_by(Objection.created_at, Objection.id)
            if not (actor.role in (Role.OPERATOR, Role.AUDITOR) or notice.developer_id == actor.party_id):
                q = q.where(Objection.holder_id == actor.party_id)
            return [_objection_view(o) for o in s.execute(q).scalars()]

    # -- the close -------------------------------------------------------------------------------------
    def finalise(self, actor: Principal, notice_id: str) -> NoticeView:
        """Freeze the exclusion and licensed lists once the window has closed; calling it again is harmless."""
        with self.store.write() as s:
            notice = self._notice(s, notice_id, for_update=True)
            require(actor.role, Action.NOTICE_FINALISE, owner=notice.developer_id == actor.party_id)
            now = self.clock.now()
            if not rules.can_finalise(NoticeStatus(notice.status), notice.closes_at, now, notice_id):
                return self._view(s, notice)
            self._finalise(s, notice, actor.party_id, now)
            return self._view(s, notice)

    def close_due(self, actor: Principal) -> list[str]:
        """The scheduled job: finalise every open notice whose window has closed. Returns their ids."""
        require(actor.role, Action.NOTICE_FINALISE, owner=False)
        now = self.clock.now()
        with self.store.read() as s:
            due = list(
                s.execute(
                    select(Notice.id)
                    .where(Notice.status == NoticeStatus.OPEN, Notice.closes_at <= now)
                    .order_by(Notice.id)
                ).scalars()
            )
        for nid in due:
            self.finalise(actor, nid)
        return due

    def _finalise(self, s: Session, notice: Notice, actor_id: str, now: datetime) -> None:
        rows = list(s.execute(select(NoticeWork).where(NoticeWork.notice_id == notice.id)).scalars())
        objected = set(
            s.execute(
                select(Objection.work_id).where(Objection.notice_id == notice.id, Objection.withdrawn_at.is_(None))
            ).scalars()
        )
        still = [r.work_id for r in rows if r.status == ListingStatus.LISTED and r.work_id not in objected]
        works = self._works(s, notice.id, still)
        opted_out = _denies(
            s,
            works,
            Purpose(notice.purpose),
            at=now,
            jurisdiction=notice.jurisdiction,
            defaults=self.policy.preferences.defaults,
        )
        for r in rows:
            if r.status != ListingStatus.LISTED:
                continue
            status, reason = rules.decide(
                ListingStatus(r.status), objected=r.work_id in objected, denied=r.work_id in opted_out
            )
            r.status, r.decided_at = status, now
            if reason is not None:
                r.reason = reason
        notice.status, notice.finalised_at = NoticeStatus.FINALISED, now
        write_exclusion_list(s, self.ledger, notice, rows, actor_id, now, version=1)

    # -- reading -----------------------------------------------------------------------------------------
    def board(self, status: str = "open") -> list[NoticeView]:
        """The public notice board: no authentication, only what a notice publishes."""
        wanted = rules.parse_board_status(status)
        with self.store.read() as s:
            rows = s.execute(select(Notice).where(Notice.status == wanted).order_by(Notice.closes_at, Notice.id))
            return self._views(s, list(rows.scalars()))

    def get(self, actor: Principal | None, notice_id: str) -> NoticeView:
        with self.store.read() as s:
            notice = self._notice(s, notice_id)
            if notice.status == NoticeStatus.DRAFT and (
                actor is None or not (actor.role is Role.OPERATOR or notice.developer_id == actor.party_id)
            ):
                raise NotFoundError(f"no notice {notice_id}", field="notice_id")
            return self._view(s, notice)

    def mine(self, actor: Principal) -> list[NoticeView]:
        """Published notices that list works of the actor (a rights holder's inbox) or, for a developer, its own."""
        with self.store.read() as s:
            if actor.role is Role.DEVELOPER:
                q = select(Notice).where(Notice.developer_id == actor.party_id)
            else:
                listed = select(NoticeWork.notice_id).where(NoticeWork.holder_id == actor.party_id)
                q = select(Notice).where(Notice.id.in_(listed), Notice.status != NoticeStatus.DRAFT)
            return self._views(s, list(s.execute(q.order_by(Notice.created_at.desc())).scalars()))

    def works(self, actor: Principal, notice_id: str) -> list[dict[str, Any]]:
        """The listed works with their status: all of them for the developer, operator and auditor; a holder
        sees its own."""
        with self.store.read() as s:
            notice = self._notice(s, notice_id)
            q = (
                select(NoticeWork, Work.title)
                .join(Work, Work.id == NoticeWork.work_id)
                .where(NoticeWork.notice_id == notice_id)
                .order_by(NoticeWork.work_id)
            )
            everything = actor.role in (Role.OPERATOR, Role.AUDITOR) or notice.developer_id == actor.party_id
            if not everything:
                if notice.status == NoticeStatus.DRAFT:
                    raise NotFoundError(f"no notice {notice_id}", field="notice_id")
                q = q.where(NoticeWork.holder_id == actor.party_id)
            objected = set(
                s.execute(
                    select(Objection.work_id).where(Objection.notice_id == notice_id, Objection.withdrawn_at.is_(None))
                ).scalars()
            )
            return [
                {
                    "work_id": nw.work_id,
                    "title": title,
                    "holder_id": nw.holder_id,
                    "status": nw.status,
                    "reason": nw.reason,
                    "objected": nw.work_id in objected,
                }
                for nw, title in s.execute(q).all()
            ]

    def exclusions(self, notice_id: str, version: int | None = None) -> ExclusionListView:
        """A version of a finalised notice's lists (the latest by default); public, like the notice."""
        with self.store.read() as s:
            notice = self._notice(s, notice_id)
            if notice.status != NoticeStatus.FINALISED:
                raise ConflictError(f"notice {notice_id} is not finalised yet", field="status")
            q = select(ExclusionList).where(ExclusionList.notice_id == notice_id)
            q = q.where(ExclusionList.version == version) if version else q.order_by(ExclusionList.version.desc())
            row = s.execute(q.limit(1)).scalar_one_or_none()
            if row is None:
                raise NotFoundError(f"notice {notice_id} has no exclusion list version {version}", field="version")
            shas: dict[str, str] = {}
            ids = [e["work"] for e in row.excluded] + list(row.licensed)
            for part in in_batches(ids):
                shas.update(s.execute(select(Work.id, Work.sha256).where(Work.id.in_(part))).all())
            return ExclusionListView(
                notice_id,
                row.version,
                list(row.excluded),
                list(row.licensed),
                row.sha256,
                row.created_at,
                row.log_index,
                shas,
            )

    def notifications(self, actor: Principal, *, unsent_only: bool = False) -> list[dict[str, Any]]:
        """The actor's notifications (the operator's mailer reads everyone's unsent ones)."""
        with self.store.read() as s:
            q = select(Notification).order_by(Notification.created_at, Notification.id)
            if actor.role is not Role.OPERATOR:
                q = q.where(Notification.party_id == actor.party_id)
            if unsent_only:
                q = q.where(Notification.sent_at.is_(None))
            return [
                {
                    "id": n.id,
                    "party_id": n.party_id,
                    "kind": n.kind,
                    "subject": n.subject,
                    "body": n.body,
                    "created_at": format_time(n.created_at),
                    "sent_at": format_time(n.sent_at) if n.sent_at else None,
                }
                for n in s.execute(q).scalars()
            ]

    def mark_sent(self, actor: Principal, notification_ids: Sequence[str]) -> int:
        if actor.role is not Role.OPERATOR:
            raise PermissionDeniedError(f"a {actor.role.value} may not mark notifications sent")
        with self.store.write() as s:
            now = self.clock.now()
            done = 0
            for part in in_batches(list(notification_ids)):
                res = s.execute(
                    update(Notification)
                    .where(Notification.id.in_(part), Notification.sent_at.is_(None))
                    .values(sent_at=now)
                )
                done += int(getattr(res, "rowcount", 0) or 0)
            return done

    # -- helpers ---------------------------------------------------------------------------------------
    def _notice(self, s: Session, notice_id: str, *, for_update: bool = False) -> Notice:
        q = select(Notice).where(Notice.id == notice_id)
        if for_update:
            q = q.with_for_update()
        notice = s.execute(q).scalar_one_or_none()
        if notice is None:
            raise NotFoundError(f"no notice {notice_id}", field="notice_id")
        return notice

    @staticmethod
    def _window_open(notice: Notice, now: datetime) -> None:
        rules.require_window_open(NoticeStatus(notice.status), notice.closes_at, now, notice.id)

    @staticmethod
    def _works(s: Session, notice_id: str, ids: Sequence[str] | None = None) -> list[Work]:
        if ids is None:
            q = select(Work).join(NoticeWork, NoticeWork.work_id == Work.id).where(NoticeWork.notice_id == notice_id)
            return list(s.execute(q).scalars())
        out: list[Work] = []
        for part in in_batches(list(ids)):
            out += list(s.execute(select(Work).where(Work.id.in_(part))).scalars())
        return out

    def _view(self, s: Session, n: Notice) -> NoticeView:
        return self._views(s, [n])[0]

    @staticmethod
    def _views(s: Session, notices: Sequence[Notice]) -> list[NoticeView]:
        """Views of many notices in three queries whatever their number (the board lists them all): the
        listing counts, the latest exclusion-list versions and the developers' names, each grouped by notice."""
        if not notices:
            return []
        counts: dict[str, dict[str, int]] = {}
        versions: dict[str, int | None] = {}
        names: dict[str, str] = {}
        for part in in_batches([n.id for n in notices]):
            rows = s.execute(
                select(NoticeWork.notice_id, NoticeWork.status, func.count())
                .where(NoticeWork.notice_id.in_(part))
                .group_by(NoticeWork.notice_id, NoticeWork.status)
            )
            for nid, status, count in rows:
                counts.setdefault(nid, {})[status] = int(count)
            versions.update(
                list(
                    s.execute(
                        select(ExclusionList.notice_id, func.max(ExclusionList.version))
                        .where(ExclusionList.notice_id.in_(part))
                        .group_by(ExclusionList.notice_id)
                    )
                )
            )
        for part in in_batches(sorted({n.developer_id for n in notices})):
            names.update(list(s.execute(select(Party.id, Party.name).where(Party.id.in_(part)))))
        return [
            NoticeView(
                n.id,
                n.developer_id,
                names[n.developer_id],
                n.title,
                n.purpose,
                n.use,
                n.jurisdiction,
                n.tariff,
                n.currency,
                n.window_days,
                n.status,
                n.created_at,
                n.published_at,
                n.closes_at,
                n.finalised_at,
                counts.get(n.id, {}),
                versions.get(n.id),
                n.report_every_days,
                list(n.policy_overrides or []),
                n.research,
            )
            for n in notices
        ]


@dataclass(frozen=True, slots=True)
class ExclusionListView:
    notice_id: str
    version: int
    excluded: list[dict[str, Any]]
    licensed: list[str]
    sha256: str
    created_at: datetime
    log_index: int
    work_sha256: dict[str, str]

    def jsonl(self) -> str:
        """One line per work: its status, reason and content digest (what a scanner filters on)."""
        lines = [
            {"work": e["work"], "status": "excluded", "reason": e["reason"], "sha256": self.work_sha256.get(e["work"])}
            for e in self.excluded
        ]
        lines += [{"work": w, "status": "licensed", "sha256": self.work_sha256.get(w)} for w in self.licensed]
        header = {"notice": self.notice_id, "version": self.version, "sha256": self.sha256, "log_index": self.log_index}
        return "\n".join(canonical(x).decode() for x in [header, *lines]) + "\n"

    def filter_file(self) -> dict[str, Any]:
        """The scanner's filter: the excluded works with their content digests, and the list's identity."""
        return {
            "format": "copyalign.exclusions/1",
            "notice": self.notice_id,
            "version": self.version,
            "sha256": self.sha256,
            "log_index": self.log_index,
            "created_at": format_time(self.created_at),
            "excluded": [
                {"work": e["work"], "reason": e["reason"], "sha256": self.work_sha256.get(e["work"])}
                for e in self.excluded
            ],
        }


def exclude_after_opt_out(
    session: Session,
    ledger: Ledger,
    *,
    work_ids: Sequence[str],
    holder_id: str | None,
    purposes: set[Purpose],
    actor_id: str,
    now: datetime,
    policy: PolicyProfile,
) -> None:
    """Dynamic filtering (seed 001 §3.2): after a ``deny``, take the affected works out of every notice.

    Open notices exclude them when they are finalised (their preference is read then); finalised notices
    get a new exclusion-list version, in the same transaction as the preference, so the filter files change
    at once. ``work_ids`` empty and ``holder_id`` set: a holder-wide default changed.
    """
    q = (
        select(NoticeWork, Notice)
        .join(Notice, Notice.id == NoticeWork.notice_id)
        .where(Notice.status == NoticeStatus.FINALISED, NoticeWork.status == ListingStatus.LICENSED)
    )
    q = q.where(NoticeWork.work_id.in_(list(work_ids))) if work_ids else q.where(NoticeWork.holder_id == holder_id)
    touched: dict[str, Notice] = {}
    affected = [
        (nw, notice)
        for nw, notice in session.execute(q).all()
        if ({Purpose(notice.purpose)} | ({Purpose.TRAIN_AI} if notice.purpose == Purpose.TRAIN_GENAI else set()))
        & purposes
    ]
    works: dict[str, Work] = {}
    for part in in_batches(sorted({nw.work_id for nw, _ in affected})):  # one query per batch, not one per work
        works.update((w.id, w) for w in session.execute(select(Work).where(Work.id.in_(part))).scalars())
    by_notice: dict[str, list[NoticeWork]] = {}
    for nw, notice in affected:
        by_notice.setdefault(notice.id, []).append(nw)
    notices = {notice.id: notice for _, notice in affected}
    for nid, listed in by_notice.items():
        notice = notices[nid]
        denied = _denies(
            session,
            [works[nw.work_id] for nw in listed if nw.work_id in works],
            Purpose(notice.purpose),
            at=now,
            jurisdiction=notice.jurisdiction,
            defaults=policy.preferences.defaults,
        )
        for nw in listed:
            if nw.work_id in denied:
                nw.status, nw.reason, nw.decided_at = ListingStatus.EXCLUDED, ExclusionReason.OPTED_OUT, now
                touched[nid] = notice
    for notice in touched.values():
        session.flush()
        rows = list(session.execute(select(NoticeWork).where(NoticeWork.notice_id == notice.id)).scalars())
        latest = session.execute(
            select(func.max(ExclusionList.version)).where(ExclusionList.notice_id == notice.id)
        ).scalar_one()
        write_exclusion_list(session, ledger, notice, rows, actor_id, now, version=int(latest or 0) + 1)
