"""Counter-notices, court actions and restoration (seed 004 ¶88: "a complete counter-notice and review
procedure").

Only the user whose session produced the material may counter-notify, and only through its provider: the
provider names its own user, the desk turns the name into the session's pseudonym with the guard's key and
compares it with the trace's. A counter-notice missing an element under the jurisdiction's law is kept as
incomplete (17 U.S.C. §512(g)(3); Regulations Art. 16; Civil Code Art. 1196) and does not start the
restoration window. A complete one is forwarded to the complainant at once (§512(g)(2)(B)), with the
user's details as the statute requires — through the outbox, never the log. The measures are restored when the
profile's window has run (US: 10 to 14 business days after receipt; CN: 15 days after the forwarded statement
arrives, then promptly) unless the complainant records a court action first (§512(g)(2)(C); E-Commerce Law
Art. 43). ``takedown due`` performs the restorations that fall due.

A restoration is recorded first (the notice's state, the counter-notice's, the log entry) and marks the
measures to undo; each is then undone with its own log entry. A crash in between leaves measures marked, which
the next ``takedown due`` undoes.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, require
from copyalign.core.canonical import digest, format_time
from copyalign.core.takedown.clocks import DeadlineKind
from copyalign.core.takedown.counter import CounterNotice, missing_counter_elements
from copyalign.core.takedown.elements import Material, MaterialKind, Party
from copyalign.core.takedown.states import COUNTER_NOTICE, CounterEvent, CounterState, NoticeEvent, NoticeState
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.keys import GuardKeys
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.decisions import items_of
from copyalign.services.takedown.forms import missing_dicts
from copyalign.services.takedown.measures import Measures
from copyalign.services.takedown.rows import (
    advance,
    clocks_for,
    deadlines_of,
    follows,
    handles,
    latest_complaint,
    load_notice,
    log,
    notify,
    refresh_due,
)
from copyalign.store.models import GenerationTrace, TakedownCounterNotice, TakedownNotice

OPEN = frozenset({CounterState.RECEIVED, CounterState.INCOMPLETE, CounterState.COMPLETE, CounterState.FORWARDED})


def session_users(s: Session, notice_id: str) -> dict[str, list[str]]:
    """The pseudonyms of the users whose sessions the notice's material came from, with their trace ids."""
    out: dict[str, list[str]] = {}
    for item in items_of(s, notice_id):
        if item.trace_id:
            tr = s.get(GenerationTrace, item.trace_id)
            if tr is not None and tr.user_ref:
                out.setdefault(tr.user_ref, []).append(tr.id)
    return out


class CounterNotices(ServiceBase):
    def __init__(self, deps: Deps, measures: Measures, keys: GuardKeys) -> None:
        super().__init__(deps)
        self.measures = measures
        self.keys = keys

    def own_session(self, s: Session, actor: Principal, n: TakedownNotice, user: str, action: Action) -> str:
        """The user's pseudonym, once the actor is shown to be the notice's provider and the user the
        session's (a counter-notice or complaint by someone else is refused, 403)."""
        require(actor.role, action, owner=handles(actor, n))
        if not user or not user.strip():
            raise InvalidInputError("name the provider's user filing it", field="user")
        ref = self.keys.user_ref(user.strip())
        if ref not in session_users(s, n.id):
            raise PermissionDeniedError(
                "only the user of the session that produced the material may contest the notice, through its "
                "provider: this user's pseudonym is on none of the notice's traces",
                code="not_the_session_user",
            )
        return ref

    def file(
        self,
        actor: Principal,
        notice_id: str,
        user: str,
        contact: Party,
        *,
        signature: str | None,
        mistake_statement: bool,
        consent_to_jurisdiction: bool,
        explanation: str | None,
        evidence: tuple[str, ...],
    ) -> TakedownCounterNotice:
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            ref = self.own_session(s, actor, n, user, Action.TAKEDOWN_COUNTER)
            if n.status != NoticeState.MEASURES_APPLIED:
                raise ConflictError(
                    f"notice {n.id} is {n.status}: a counter-notice answers measures that were applied",
                    field="state",
                    code="notice_transition",
                )
            pending = s.execute(
                select(TakedownCounterNotice.id).where(
                    TakedownCounterNotice.notice_id == n.id,
                    TakedownCounterNotice.state.in_([c.value for c in OPEN]),
                )
            ).scalar()
            if pending is not None:
                raise ConflictError(f"counter-notice {pending} is already open for notice {n.id}", field="notice_id")
            now = self.clock.now()
            cid = new_id("tdc")
            traces = session_users(s, n.id)[ref]
            core = CounterNotice(
                cid,
                n.id,
                now,
                contact,
                ref,
                tuple(Material(MaterialKind.TRACE, t) for t in traces),
                signature,
                mistake_statement,
                consent_to_jurisdiction,
                explanation,
                evidence,
            )
            row = TakedownCounterNotice(
                id=cid,
                notice_id=n.id,
                user_ref=ref,
                filed_by=actor.party_id,
                state=CounterState.RECEIVED.value,
                contact=asdict(contact),
                elements={},
                missing=[],
                received_at=now,
                log_index=0,
            )
            s.add(row)
            self._find(s, actor, n, row, core, now, created=True)
            return row

    def complete(
        self,
        actor: Principal,
        counter_id: str,
        *,
        contact: Party | None = None,
        signature: str | None = None,
        mistake_statement: bool | None = None,
        consent_to_jurisdiction: bool | None = None,
        explanation: str | None = None,
        evidence: tuple[str, ...] = (),
    ) -> TakedownCounterNotice:
        """Complete an incomplete counter-notice (the restoration window starts only then)."""
        with self.store.write() as s:
            row = _counter(s, counter_id, for_update=True)
            n = load_notice(s, row.notice_id, for_update=True)
            require(actor.role, Action.TAKEDOWN_COUNTER, owner=handles(actor, n))
            e = row.elements
            core = CounterNotice(
                row.id,
                n.id,
                row.received_at,
                contact or Party(**row.contact),
                row.user_ref,
                tuple(Material(MaterialKind.TRACE, t) for t in e.get("traces", ())),
                signature if signature is not None else e.get("signature"),
                mistake_statement if mistake_statement is not None else bool(e.get("mistake_statement")),
                consent_to_jurisdiction
                if consent_to_jurisdiction is not None
                else bool(e.get("consent_to_jurisdiction")),
                explanation if explanation is not None else e.get("explanation"),
                tuple(e.get("evidence", ())) + tuple(evidence),
            )
            row.contact = asdict(core.user)
            self._find(s, actor, n, row, core, self.clock.now(), created=False)
            return row

    def _find(
        self,
        s: Session,
        actor: Principal,
        n: TakedownNotice,
        row: TakedownCounterNotice,
        core: CounterNotice,
        now: datetime,
        *,
        created: bool,
    ) -> None:
        missing = missing_counter_elements(core, n.jurisdiction)
        event = CounterEvent.FIND_INCOMPLETE if missing else CounterEvent.FIND_COMPLETE
        row.state = COUNTER_NOTICE.advance(CounterState(row.state), event).value
        row.missing = missing_dicts(missing)
        row.elements = {
            "traces": [m.value for m in core.materials],
            "signature": core.signature,
            "mistake_statement": core.mistake_statement,
            "consent_to_jurisdiction": core.consent_to_jurisdiction,
            "explanation": core.explanation,
            "evidence": list(core.evidence),
        }
        payload = {
            "counter_notice": row.id,
            "notice": n.id,
            "user": row.user_ref,
            "state": row.state,
            "missing": [m["element"] for m in row.missing],
            "counter_sha256": digest({**row.elements, "contact": row.contact}),
        }
        index = log(
            s,
            self.ledger,
            "takedown.counter.receive" if created else "takedown.counter.amend",
            actor.party_id,
            row.id,
            payload,
            now,
        )
        row.log_index = row.log_index or index
        if missing:
            notify(
                s,
                party_id=n.provider_id,
                kind="takedown.counter.incomplete",
                subject=n.id,
                body={"counter_notice": row.id, "user": row.user_ref, "missing": row.missing},
                now=now,
            )
            return
        # Complete: the window counts from now (§512(g)(2)(C) "following receipt"); forwarded at once.
        row.completed_at = now
        row.state = COUNTER_NOTICE.advance(CounterState(row.state), CounterEvent.FORWARD).value
        row.forwarded_at = now
        advance(n, NoticeEvent.RECEIVE_COUNTER_NOTICE)
        n.counter_notice_at = n.counter_forwarded_at = now
        deadlines = refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
        restore = next((d for d in deadlines if d.kind is DeadlineKind.RESTORE), None)
        body = {
            "notice": n.id,
            "counter_notice": row.id,
            "user": row.user_ref,
            "counter_notice_copy": {"contact": row.contact, **row.elements},
            "restore_earliest": format_time(restore.earliest) if restore and restore.earliest else None,
            "restore_by": format_time(restore.due) if restore else None,
            "court_action": "Report a court action before the restoration to keep the measures (17 U.S.C. "
            "§512(g)(2)(C); E-Commerce Law Art. 43).",
        }
        to = n.contact["sender"].get("email") if n.channel == "public" else None
        notify(
            s,
            party_id=n.provider_id if to else n.sender_ref,
            kind="takedown.counter.forwarded",
            subject=n.id,
            body={**body, "to": to} if to else body,
            now=now,
        )
        n.updated_log_index = log(
            s,
            self.ledger,
            "takedown.counter.forward",
            actor.party_id,
            row.id,
            {"counter_notice": row.id, "notice": n.id, "forwarded_at": format_time(now)},
            now,
        )

    def court_action(self, actor: Principal, notice_id: str, reference: str) -> TakedownCounterNotice:
        """The complainant reports a court action: the measures stay (17 U.S.C. §512(g)(2)(C))."""
        reference = reference.strip()
        if not reference or len(reference) > 500:
            raise InvalidInputError(
                "refer to the action (court, case number) in 1 to 500 characters", field="reference"
            )
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            require(actor.role, Action.TAKEDOWN_COURT_ACTION, owner=follows(actor, n) or handles(actor, n))
            row = s.execute(
                select(TakedownCounterNotice)
                .where(
                    TakedownCounterNotice.notice_id == n.id, TakedownCounterNotice.state == CounterState.FORWARDED.value
                )
                .with_for_update()
            ).scalar_one_or_none()
            if row is None:
                raise ConflictError(
                    f"notice {n.id} has no forwarded counter-notice awaiting restoration", field="state"
                )
            now = self.clock.now()
            row.state = COUNTER_NOTICE.advance(CounterState(row.state), CounterEvent.RECORD_COURT_ACTION).value
            advance(n, NoticeEvent.KEEP)
            row.court_action_at = n.court_action_at = now
            refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
            payload = {"notice": n.id, "counter_notice": row.id, "reference_sha256": digest(reference)}
            n.updated_log_index = log(s, self.ledger, "takedown.court_action", actor.party_id, n.id, payload, now)
            notify(
                s,
                party_id=n.provider_id,
                kind="takedown.court_action",
                subject=n.id,
                body={"notice": n.id, "user": row.user_ref, "reference": reference},
                now=now,
            )
            return row

    # -- restoration -----------------------------------------------------------------------------------
    def restore(self, actor: Principal, notice_id: str, *, event: NoticeEvent, reason: str) -> list[str]:
        """Record the restoration (or reversal) and undo the notice's measures; returns the measures undone."""
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            self.record_restoration(s, actor, n, event=event, reason=reason)
        return self.measures.finish_undos(actor, notice_id)

    def record_restoration(
        self, s: Session, actor: Principal, n: TakedownNotice, *, event: NoticeEvent, reason: str
    ) -> list[str]:
        now = self.clock.now()
        advance(n, event)
        n.restored_at = now
        counter = s.execute(
            select(TakedownCounterNotice).where(
                TakedownCounterNotice.notice_id == n.id, TakedownCounterNotice.state == CounterState.FORWARDED.value
            )
        ).scalar_one_or_none()
        if counter is not None:
            counter.state = COUNTER_NOTICE.advance(CounterState(counter.state), CounterEvent.RESTORE).value
            counter.restored_at = now
        marked = self.measures.request_undo(s, n.id, reason)
        refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
        payload = {"notice": n.id, "event": event.value, "reason": reason[:200], "measures": marked}
        n.updated_log_index = log(s, self.ledger, "takedown.restore", actor.party_id, n.id, payload, now)
        body = {"notice": n.id, "restored_at": format_time(now), "reason": reason}
        to = n.contact["sender"].get("email") if n.channel == "public" else None
        notify(
            s,
            party_id=n.provider_id if to else n.sender_ref,
            kind="takedown.restored",
            subject=n.id,
            body={**body, "to": to} if to else body,
            now=now,
        )
        for user in session_users(s, n.id):
            notify(
                s, party_id=n.provider_id, kind="takedown.restored", subject=n.id, body={**body, "user": user}, now=now
            )
        return marked

    def due_restorations(self, actor: Principal, provider_id: str | None) -> list[str]:
        """Restore every counter-noticed notice whose restoration window has opened with no court action
        (idempotent: a restored notice is no longer counter-noticed)."""
        now = self.clock.now()
        q = select(TakedownNotice.id).where(TakedownNotice.status == NoticeState.COUNTER_NOTICED.value)
        if provider_id is not None:
            q = q.where(TakedownNotice.provider_id == provider_id)
        with self.store.read() as s:
            due: list[str] = []
            for nid in s.execute(q.order_by(TakedownNotice.due_at)).scalars():
                n = load_notice(s, nid)
                profile = clocks_for(self.policy, n.jurisdiction)
                for d in deadlines_of(n, profile, latest_complaint(s, n.id)):
                    if d.kind is DeadlineKind.RESTORE and d.earliest is not None and d.earliest <= now:
                        due.append(nid)
        done = []
        for nid in due:
            with self.store.write() as s:
                n = load_notice(s, nid, for_update=True)
                if n.status != NoticeState.COUNTER_NOTICED:
                    continue  # restored or kept meanwhile
                self.record_restoration(
                    s,
                    actor,
                    n,
                    event=NoticeEvent.RESTORE,
                    reason="the counter-notice's window passed with no court action reported",
                )
            done.append(nid)
        return done


def _counter(s: Session, counter_id: str, *, for_update: bool = False) -> TakedownCounterNotice:
    q = select(TakedownCounterNotice).where(TakedownCounterNotice.id == counter_id)
    if for_update:
        q = q.with_for_update()
    row = s.execute(q).scalar_one_or_none()
    if row is None:
        raise NotFoundError(f"no counter-notice {counter_id}", field="counter_id")
    return row


__all__ = ["CounterNotices", "session_users"]
