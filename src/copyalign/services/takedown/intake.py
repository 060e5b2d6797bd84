"""Intake: receiving a notice, telling the sender what is missing, taking its completion; agents' authorities.

Three channels (seed 004 ¶86: a notice channel open to rights holders): a registered rights holder for its own
works; an agent acting for one, with an authorisation on record (17 U.S.C. §512(c)(3)(A)(vi): "authorized to
act on behalf of the owner"); and an outside complainant without an account, through the public form, who
gives an e-mail address for the confirmation and gets a token to follow and complete its notice. The public
channel is rate-limited per address and per network address.

A notice is stored even when it lacks elements, as *incomplete*, and the sender is told exactly which (with
their source); the clocks start only when it is complete (§512(c)(3)(B)(i); DSA Art. 16(3)). Receipt is
confirmed at once through the outbox (DSA Art. 16(4)), which is the acknowledgement the first clock asks for.
Nothing is written when the notice is refused: an unknown trace, a forged label, a work the sender does not
hold, a flood.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import digest, format_time
from copyalign.core.takedown.elements import (
    ClaimedWork,
    Notice,
    Party,
)
from copyalign.core.takedown.elements import missing_elements as core_missing
from copyalign.core.takedown.states import NoticeEvent, NoticeState
from copyalign.core.takedown.strikes import ComplainantStatus
from copyalign.errors import InvalidInputError, NotFoundError, PermissionDeniedError, RateLimitedError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.keys import GuardKeys
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.agents import find_authorisation
from copyalign.services.takedown.evidence import EvidenceFinder, Resolved
from copyalign.services.takedown.forms import core_notice, elements_of, missing_dicts
from copyalign.services.takedown.inputs import NoticeAmendment, NoticeFiling, WorkClaim
from copyalign.services.takedown.rows import (
    advance,
    clocks_for,
    desk_jurisdiction,
    follows,
    load_notice,
    log,
    notify,
    refresh_due,
)
from copyalign.services.takedown.standing import Standings
from copyalign.store.models import Party as PartyRow
from copyalign.store.models import TakedownItem, TakedownNotice, Work


class Intake(ServiceBase):
    def __init__(
        self,
        deps: Deps,
        evidence: EvidenceFinder,
        standings: Standings,
        keys: GuardKeys,
        *,
        per_address: int = 5,
        per_origin: int = 20,
        window_seconds: int = 3600,
    ) -> None:
        super().__init__(deps)
        self.evidence = evidence
        self.standings = standings
        self.keys = keys
        self.per_address = per_address
        self.per_origin = per_origin
        self.window_seconds = window_seconds

    def pseudonym(self, kind: str, value: str) -> str:
        """A keyed pseudonym (the guard's user key): the same sender gets the same reference, and nobody
        without the key can go back from it to the address."""
        return f"{kind}_{self.keys.user_ref(f'{kind}:{value.strip().lower()}')}"

    # -- filing ----------------------------------------------------------------------------------------
    def file(
        self, actor: Principal | None, filing: NoticeFiling, *, origin: str | None = None
    ) -> tuple[str, str | None]:
        """Receive a notice; returns its id and, for a sender without an account, the token to follow it."""
        now = self.clock.now()
        jurisdiction = desk_jurisdiction(self.policy, filing.jurisdiction)
        sender, principal = filing.sender, filing.principal
        if actor is None:
            channel, sender_ref = "public", self._public_sender(filing, origin, now)
            origin_ref = self.pseudonym("ip", origin) if origin else None
            principal_id = None
        else:
            channel, principal_id = self._account_channel(actor, filing)
            sender_ref, origin_ref = actor.party_id, None
        with self.store.read() as s:
            holders = self._claimed_works(s, filing.works, principal_id, channel)
            sender, principal = self._account_contact(s, actor, sender, principal, principal_id)
            authorisation = (
                find_authorisation(s, actor.party_id, principal_id, holders, now)
                if actor is not None and channel == "agent"
                else None
            )
            standing = self.standings.complainant(s, sender_ref, now)
        if standing.status is ComplainantStatus.REFUSE:
            raise PermissionDeniedError(standing.statement, code="complainant_suspended")
        resolved = [[self.evidence.resolve(m) for m in w.materials] for w in filing.works]
        provider_id = self._provider(filing.provider_id, [r for rs in resolved for r in rs])
        nid = new_id("tdn")
        works = tuple(
            ClaimedWork(w.work_id, w.description, tuple(w.original_locations), tuple(r.material for r in rs))
            for w, rs in zip(filing.works, resolved, strict=True)
        )
        notice = Notice(
            nid,
            now,
            sender,
            principal,
            sender_is_agent=channel in ("agent", "operator"),
            authorisation=authorisation.document if authorisation else None,
            recipient=provider_id,
            works=works,
            explanation=filing.explanation,
            signature=filing.signature,
            good_faith=filing.good_faith,
            accurate=filing.accurate,
            authorised=filing.authorised,
            evidence=filing.evidence,
            sent_at=filing.sent_at,
            language=filing.language,
            jurisdiction=jurisdiction,
            trusted_flagger=filing.trusted_flagger,
        )
        token = secrets.token_urlsafe(24) if channel == "public" else None
        with self.store.write() as s:
            provider = s.get(PartyRow, provider_id)
            if provider is None or provider.role != Role.PROVIDER.value:
                raise NotFoundError(f"no provider {provider_id}", field="provider_id")
            row = TakedownNotice(
                id=nid,
                provider_id=provider_id,
                jurisdiction=jurisdiction.value,
                channel=channel,
                sender_party_id=actor.party_id if actor else None,
                principal_party_id=principal_id,
                authorisation_id=authorisation.id if authorisation else None,
                sender_ref=sender_ref,
                origin_ref=origin_ref,
                token_sha256=hashlib.sha256(token.encode()).hexdigest() if token else None,
                contact={"sender": asdict(sender), "principal": asdict(principal) if principal else None},
                elements={},
                status=NoticeState.RECEIVED.value,
                missing=[],
                recommendation=None,
                simplified=False,
                trusted_flagger=filing.trusted_flagger,
                priority=1 if standing.status is ComplainantStatus.DEPRIORITISE else 0,
                upheld=None,
                received_at=now,
                acknowledged_at=now,
                log_index=0,
                updated_log_index=0,
            )
            s.add(row)
            s.flush()
            items = self._add_items(s, row, filing.works, resolved, notice)
            self._find(s, row, notice, items, actor.party_id if actor else sender_ref, now, created=True)
            body = {"notice": nid, "status": row.status, "missing": row.missing, "received_at": format_time(now)}
            if channel == "public":
                notify(
                    s,
                    party_id=provider_id,
                    kind="takedown.received",
                    subject=nid,
                    body={**body, "to": sender.email, "token": token},
                    now=now,
                )
            else:
                notify(s, party_id=sender_ref, kind="takedown.received", subject=nid, body=body, now=now)
            if standing.status is ComplainantStatus.DEPRIORITISE:
                notify(
                    s,
                    party_id=actor.party_id if actor else provider_id,
                    kind="takedown.deprioritised",
                    subject=nid,
                    body={"notice": nid, "statement": standing.statement, "to": sender.email},
                    now=now,
                )
        return nid, token

    def amend(
        self, actor: Principal | None, notice_id: str, change: NoticeAmendment, *, token: str | None = None
    ) -> None:
        """The sender completes its notice; the clocks start when it is complete."""
        with self.store.read() as s:
            n = load_notice(s, notice_id)
            self.check_sender(actor, n, token)
            holders = self._claimed_works(s, change.works, n.principal_party_id, n.channel)
            if n.channel == "agent" and actor is not None:
                find_authorisation(s, actor.party_id, n.principal_party_id, holders, self.clock.now())
        resolved = [[self.evidence.resolve(m) for m in w.materials] for w in change.works]
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            now = self.clock.now()
            items = self._items(s, n.id)
            old = core_notice(n, items)
            if resolved:
                self._provider(n.provider_id, [r for rs in resolved for r in rs])
            updates: dict[str, Any] = {
                k: getattr(change, k)
                for k in ("sender", "principal", "explanation", "signature", "good_faith", "accurate", "authorised")
                if getattr(change, k) is not None
            }
            if change.evidence:
                updates["evidence"] = old.evidence + tuple(change.evidence)
            added = tuple(
                ClaimedWork(w.work_id, w.description, tuple(w.original_locations), tuple(r.material for r in rs))
                for w, rs in zip(change.works, resolved, strict=True)
            )
            notice = old.amend(**updates, works=old.works + added)
            n.contact = {
                "sender": asdict(notice.sender),
                "principal": asdict(notice.principal) if notice.principal else None,
            }
            items += self._add_items(s, n, change.works, resolved, notice, start=len(items), keep=n.elements)
            self._find(s, n, notice, items, actor.party_id if actor else n.sender_ref, now, created=False)

    def withdraw(self, actor: Principal | None, notice_id: str, *, token: str | None = None) -> None:
        with self.store.write() as s:
            n = load_notice(s, notice_id, for_update=True)
            self.check_sender(actor, n, token)
            now = self.clock.now()
            advance(n, NoticeEvent.WITHDRAW)
            n.closed_at = now
            refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
            n.updated_log_index = log(
                s,
                self.ledger,
                "takedown.notice.withdraw",
                actor.party_id if actor else n.sender_ref,
                n.id,
                {"notice": n.id, "status": n.status},
                now,
            )

    # -- helpers ---------------------------------------------------------------------------------------
    def _find(
        self,
        s: Session,
        n: TakedownNotice,
        notice: Notice,
        items: list[TakedownItem],
        actor_id: str,
        now: datetime,
        *,
        created: bool,
    ) -> None:
        missing = core_missing(notice, n.jurisdiction)
        complete = not missing
        advance(n, NoticeEvent.FIND_COMPLETE if complete else NoticeEvent.FIND_INCOMPLETE)
        n.missing = missing_dicts(missing)
        if complete:
            n.completed_at = now
        n.elements = elements_of(notice, n.elements, items)
        refresh_due(s, n, clocks_for(self.policy, n.jurisdiction))
        payload = {
            "notice": n.id,
            "provider": n.provider_id,
            "jurisdiction": n.jurisdiction,
            "channel": n.channel,
            "sender": n.sender_ref,
            "principal": n.principal_party_id,
            "status": n.status,
            "missing": [m["element"] for m in n.missing],
            "items": len(items),
            "works": sorted({i.work_id for i in items if i.work_id}),
            "traces": sorted({i.trace_id for i in items if i.trace_id}),
            "notice_sha256": digest({"elements": n.elements, "contact_sha256": digest(n.contact)}),
        }
        event = "takedown.notice.receive" if created else "takedown.notice.amend"
        index = log(s, self.ledger, event, actor_id, n.id, payload, now)
        if created:
            n.log_index = index
        n.updated_log_index = index
        if not created:
            body = {"notice": n.id, "status": n.status, "missing": n.missing}
            if n.channel == "public":
                notify(
                    s,
                    party_id=n.provider_id,
                    kind="takedown.amended",
                    subject=n.id,
                    body={**body, "to": n.contact["sender"].get("email")},
                    now=now,
                )
            else:
                notify(s, party_id=n.sender_ref, kind="takedown.amended", subject=n.id, body=body, now=now)

    def _add_items(
        self,
        s: Session,
        n: TakedownNotice,
        works: tuple[WorkClaim, ...],
        resolved: list[list[Resolved]],
        notice: Notice,
        *,
        start: int = 0,
        keep: dict[str, Any] | None = None,
    ) -> list[TakedownItem]:
        out: list[TakedownItem] = []
        listed = list((keep or {}).get("works", []))
        for w, rs in zip(works, resolved, strict=True):
            entry: dict[str, Any] = {
                "work_id": w.work_id,
                "description": w.description,
                "original_locations": list(w.original_locations),
                "materials": [],
            }
            for r in rs:
                item = TakedownItem(
                    id=new_id("tdi"),
                    notice_id=n.id,
                    position=start + len(out),
                    work_id=w.work_id,
                    work_description=w.description,
                    original_locations=list(w.original_locations),
                    material_kind=r.material.kind.value,
                    material_value=r.material.value,
                    material_sha256=hashlib.sha256(r.material.value.encode()).hexdigest(),
                    content_sha256=r.content_sha256,
                    trace_id=r.trace_id,
                )
                s.add(item)
                out.append(item)
                entry["materials"].append({"item": item.id, "note": r.material.note})
            listed.append(entry)
        s.flush()
        n.elements = {**(keep or n.elements or {}), "works": listed}
        return out

    def _items(self, s: Session, notice_id: str) -> list[TakedownItem]:
        q = select(TakedownItem).where(TakedownItem.notice_id == notice_id).order_by(TakedownItem.position)
        return list(s.execute(q).scalars())

    def _public_sender(self, filing: NoticeFiling, origin: str | None, now: datetime) -> str:
        email = filing.sender.email
        if not email:
            raise InvalidInputError(
                "a sender without an account gives an e-mail address, for the confirmation", field="sender.email"
            )
        ref = self.pseudonym("cpl", email)
        window = timedelta(seconds=self.window_seconds)
        checks: list[tuple[Any, str, int, str]] = [
            (TakedownNotice.sender_ref, ref, self.per_address, "this e-mail address")
        ]
        if origin:
            checks.append(
                (TakedownNotice.origin_ref, self.pseudonym("ip", origin), self.per_origin, "this network address")
            )
        with self.store.read() as s:
            for column, value, limit, what in checks:
                count, oldest = s.execute(
                    select(func.count(), func.min(TakedownNotice.received_at)).where(
                        column == value, TakedownNotice.received_at > now - window
                    )
                ).one()
                if count >= limit and oldest is not None:
                    retry = max(1, math.ceil((oldest + window - now).total_seconds()))
                    raise RateLimitedError(
                        f"{count} notices from {what} in the last {self.window_seconds // 60} minutes; the limit is "
                        f"{limit}: try again in {retry} seconds",
                        retry_after=retry,
                        field="sender.email" if column is TakedownNotice.sender_ref else None,
                    )
        return ref

    def _account_channel(self, actor: Principal, filing: NoticeFiling) -> tuple[str, str]:
        principal_id = filing.principal_id or actor.party_id
        if actor.role is Role.OPERATOR:
            require(actor.role, Action.TAKEDOWN_FILE, owner=False)
            if principal_id == actor.party_id:
                raise InvalidInputError("the operator files for a rights holder: name it", field="principal_id")
            return "operator", principal_id
        require(actor.role, Action.TAKEDOWN_FILE, owner=True)  # a holder, for itself or as an agent (checked below)
        return ("holder" if principal_id == actor.party_id else "agent"), principal_id

    def _claimed_works(
        self, s: Session, works: tuple[WorkClaim, ...], principal_id: str | None, channel: str
    ) -> dict[str, str]:
        """The registered works named, with their holders; a work of someone else is refused (403)."""
        ids = sorted({w.work_id for w in works if w.work_id})
        rows = s.execute(select(Work.id, Work.holder_id).where(Work.id.in_(ids))).all() if ids else []
        holders = {wid: holder for wid, holder in rows}
        for wid in ids:
            if wid not in holders:
                raise NotFoundError(f"no registered work {wid}", field="works.work_id")
            if channel == "public":
                raise PermissionDeniedError(
                    f"work {wid} is registered to a rights holder with an account: it files (or its agent does, with "
                    "an authorisation on record), not a sender without one"
                )
            if holders[wid] != principal_id:
                raise PermissionDeniedError(
                    f"work {wid} is not held by {principal_id}: a notice claims its holder's works"
                )
        return holders

    def _account_contact(
        self, s: Session, actor: Principal | None, sender: Party, principal: Party | None, principal_id: str | None
    ) -> tuple[Party, Party | None]:
        """An account's name and e-mail are on record: they fill what the sender left out."""
        if actor is None:
            return sender, principal
        me = s.get(PartyRow, actor.party_id)
        if me is not None:
            sender = Party(
                sender.name or me.name, sender.email or me.email, sender.address, sender.phone, sender.identity_proof
            )
        if principal_id is not None and principal_id != actor.party_id:
            holder = s.get(PartyRow, principal_id)
            if holder is None:
                raise NotFoundError(f"no rights holder {principal_id}", field="principal_id")
            p = principal or Party()
            principal = Party(p.name or holder.name, p.email or holder.email, p.address, p.phone, p.identity_proof)
        return sender, principal

    def _provider(self, named: str | None, resolved: list[Resolved]) -> str:
        found = {r.provider_id for r in resolved if r.provider_id}
        if named is not None:
            found.add(named)
        if len(found) > 1:
            raise InvalidInputError(
                f"the material was delivered by {len(found)} providers: one notice goes to one provider's desk",
                field="provider_id",
            )
        if not found:
            raise InvalidInputError("name the provider the notice is addressed to", field="provider_id")
        return found.pop()

    def check_sender(self, actor: Principal | None, n: TakedownNotice, token: str | None) -> None:
        if actor is None:
            ok = (
                n.token_sha256 is not None
                and token is not None
                and hmac.compare_digest(n.token_sha256, hashlib.sha256(token.encode()).hexdigest())
            )
            if not ok:
                raise PermissionDeniedError("only the sender may change its notice: give the token it received")
            return
        require(actor.role, Action.TAKEDOWN_FILE, owner=actor.role is Role.OPERATOR or follows(actor, n))
        if actor.role is not Role.OPERATOR and actor.party_id != n.sender_party_id:
            raise PermissionDeniedError("only the sender may change its notice")


__all__ = ["Intake"]
