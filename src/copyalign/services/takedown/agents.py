"""Agents: a rights holder's authority for someone else to file notices in its name.

17 U.S.C. §512(c)(3)(A)(vi) asks the sender to state, under penalty of perjury, that it is authorised to act for
the owner; Lumen records the principal behind every agent's notice. Here the authority is a record, made by the
holder (or the operator, which acts for the holders it represents) and logged by the digest of the document
it refers to, that the desk checks before accepting an agent's notice: for all of the holder's works, or for
the ones it lists, until it expires or is revoked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, require
from copyalign.core.canonical import digest, format_time
from copyalign.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.rows import log
from copyalign.services.takedown.views import AuthorisationView
from copyalign.store.models import Party as PartyRow
from copyalign.store.models import TakedownAuthorisation, Work


def find_authorisation(
    s: Session, agent_id: str, holder_id: str | None, holders: dict[str, str], now: datetime
) -> TakedownAuthorisation:
    """The authorisation on record that lets ``agent_id`` file for ``holder_id`` about the works in
    ``holders`` (403 when there is none)."""
    rows = s.execute(
        select(TakedownAuthorisation).where(
            TakedownAuthorisation.agent_id == agent_id,
            TakedownAuthorisation.holder_id == holder_id,
            TakedownAuthorisation.revoked_at.is_(None),
        )
    ).scalars()
    for a in rows:
        if (a.valid_until is None or a.valid_until > now) and (not a.work_ids or set(holders) <= set(a.work_ids)):
            return a
    raise PermissionDeniedError(
        f"{agent_id} has no authorisation on record to act for {holder_id} for these works "
        "(17 U.S.C. §512(c)(3)(A)(vi)); the holder records one first",
        code="no_authorisation",
    )


class Agents(ServiceBase):
    def authorise(
        self,
        actor: Principal,
        *,
        agent_id: str,
        document: str,
        holder_id: str | None = None,
        work_ids: tuple[str, ...] = (),
        valid_until: datetime | None = None,
    ) -> AuthorisationView:
        """Record that ``agent_id`` may file notices for ``holder_id`` (the actor, for a holder)."""
        holder_id = holder_id or actor.party_id
        require(actor.role, Action.TAKEDOWN_AUTHORISE, owner=holder_id == actor.party_id)
        document = document.strip()
        if not document or len(document) > 500:
            raise InvalidInputError(
                "the authorisation document is referred to in 1 to 500 characters", field="document"
            )
        if valid_until is not None and valid_until.tzinfo is None:
            raise InvalidInputError("valid_until carries a time zone", field="valid_until")
        with self.store.write() as s:
            for pid, field in ((agent_id, "agent_id"), (holder_id, "holder_id")):
                if s.get(PartyRow, pid) is None:
                    raise NotFoundError(f"no party {pid}", field=field)
            if agent_id == holder_id:
                raise InvalidInputError("a holder files for itself without an authorisation", field="agent_id")
            wids = sorted(set(work_ids))
            if wids:
                owned = set(s.execute(select(Work.id).where(Work.id.in_(wids), Work.holder_id == holder_id)).scalars())
                if owned != set(wids):
                    raise PermissionDeniedError(f"work {sorted(set(wids) - owned)[0]} is not held by {holder_id}")
            now = self.clock.now()
            aid = new_id("tda")
            payload = {
                "authorisation": aid,
                "agent": agent_id,
                "holder": holder_id,
                "works": wids,
                "document_sha256": digest(document),
                "valid_until": format_time(valid_until) if valid_until else None,
            }
            index = log(s, self.ledger, "takedown.authorisation", actor.party_id, aid, payload, now)
            row = TakedownAuthorisation(
                id=aid,
                agent_id=agent_id,
                holder_id=holder_id,
                document=document,
                work_ids=wids,
                valid_until=valid_until,
                actor_id=actor.party_id,
                created_at=now,
                revoked_at=None,
                log_index=index,
            )
            s.add(row)
            return AuthorisationView(aid, agent_id, holder_id, document, wids, valid_until, now, None, index)


__all__ = ["Agents", "find_authorisation"]
