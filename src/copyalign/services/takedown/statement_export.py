"""Sending a desk's statements of reasons to the EU DSA Transparency Database, and remembering what was sent.

DSA Art. 24(5): every statement of reasons goes to the Commission's database "without undue delay". The
statements are built and stored with their decisions (:mod:`.decisions`); this part sends the ones not sent yet,
up to 100 a call (:class:`~.exports.sor_export.DsaClient`, which checks each with the database's own rules before
anything leaves), and records every call that reached the database in one transaction with its log entry
(``takedown.statements_exported``: the puids, each statement's SHA-256, the answer — never the token):

* **created** — the database holds the batch: each puid gets a :class:`~copyalign.store.models.TakedownSentStatement`
  row and is never sent again (naming it again is a 409 ``puid_not_unique`` that says when it was sent);
* **rejected** — the database refused the batch (422): the answer is logged, nothing is marked sent, and the
  refusal is raised naming the statement and the field (ItemError);
* **held** — the database already holds a puid (an earlier call that timed out after it had stored it): what it
  holds is looked up, recorded as sent (``takedown.statements_reconciled``) and the 409 is raised; exporting again
  sends the rest.

A transport failure writes nothing (nothing is known to have arrived) and may simply be retried: the puids are
the same, so the database's uniqueness check makes the retry harmless.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import canonical, format_time
from copyalign.core.takedown.sor import MAX_BATCH
from copyalign.errors import ConflictError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.exports.sor_export import DsaClient, ExportResult
from copyalign.services.takedown.rows import log
from copyalign.store.models import Party, TakedownDecision, TakedownExport, TakedownNotice, TakedownSentStatement


@dataclass(frozen=True, slots=True)
class BatchView:
    """One call to the database: what was sent and what it answered."""

    export_id: str
    result: str  # created | rejected | held
    status: int
    puids: tuple[str, ...]
    log_index: int
    submissions: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "export_id": self.export_id,
            "result": self.result,
            "status": self.status,
            "puids": list(self.puids),
            "log_index": self.log_index,
            "submissions": [dict(s) for s in self.submissions],
        }


@dataclass(frozen=True, slots=True)
class ExportView:
    """An export run: its batches in order, and how many statements of the desk are still unsent."""

    provider_id: str
    endpoint: str
    batches: tuple[BatchView, ...]
    remaining: int

    @property
    def sent(self) -> int:
        return sum(len(b.puids) for b in self.batches if b.result == "created")

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider_id": self.provider_id,
            "endpoint": self.endpoint,
            "sent": self.sent,
            "remaining": self.remaining,
            "batches": [b.to_dict() for b in self.batches],
        }


@dataclass(frozen=True, slots=True)
class _Pending:
    decision_id: str
    puid: str
    statement: dict[str, Any]


class StatementExports(ServiceBase):
    def export(
        self,
        actor: Principal,
        client: DsaClient,
        *,
        endpoint: str,
        provider_id: str | None = None,
        puids: Sequence[str] | None = None,
        limit: int | None = None,
        batch_size: int = MAX_BATCH,
    ) -> ExportView:
        """Send the provider's unsent statements (or exactly ``puids``), ``batch_size`` (≤ 100) a call."""
        require(actor.role, Action.TAKEDOWN_EXPORT, owner=True)  # a role that may export nothing: 403 first
        if actor.role is Role.PROVIDER:
            provider_id = provider_id or actor.party_id
        if not provider_id:
            raise InvalidInputError(
                "name the provider whose statements are sent (each platform sends with its own token)",
                field="provider_id",
            )
        require(actor.role, Action.TAKEDOWN_EXPORT, owner=provider_id == actor.party_id)
        if not 1 <= batch_size <= MAX_BATCH:
            raise InvalidInputError(f"a batch holds 1 to {MAX_BATCH} statements", field="batch_size")
        if limit is not None and limit < 1:
            raise InvalidInputError("limit is at least 1", field="limit")
        with self.store.read() as s:
            party = s.get(Party, provider_id)
            if party is None or party.role != Role.PROVIDER.value:
                raise NotFoundError(f"no provider {provider_id}", field="provider_id")
            todo = self._named(s, provider_id, puids) if puids is not None else self._unsent(s, provider_id, limit)
            taken = set(s.execute(select(TakedownSentStatement.puid)).scalars())
        batches: list[BatchView] = []
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            try:
                result = client.submit_batch([p.statement for p in chunk], taken=taken)
            except ConflictError as exc:
                if exc.code != "puid_not_unique":
                    raise
                held = self._reconcile(actor, client, provider_id, endpoint, chunk)
                raise ConflictError(
                    f"{exc.message}. {held} statement(s) of this batch were found in the database and recorded as "
                    "sent; export again to send the rest",
                    field="puid",
                    code="puid_not_unique",
                ) from exc
            batch = self._record(actor, provider_id, endpoint, chunk, result)
            batches.append(batch)
            if not result.created:
                result.raise_for_rejection()  # logged above; the caller sees which statement and field
            taken.update(p.puid for p in chunk)
        with self.store.read() as s:
            remaining = len(self._unsent(s, provider_id, None))
        return ExportView(provider_id, endpoint, tuple(batches), remaining)

    # -- what to send ------------------------------------------------------------------------------------------

    @staticmethod
    def _query(provider_id: str) -> Any:
        return (
            select(TakedownDecision.id, TakedownDecision.puid, TakedownDecision.statement)
            .join(TakedownNotice, TakedownNotice.id == TakedownDecision.notice_id)
            .where(
                TakedownNotice.provider_id == provider_id,
                TakedownDecision.statement.is_not(None),
                TakedownDecision.puid.is_not(None),
            )
        )

    def _unsent(self, s: Session, provider_id: str, limit: int | None) -> list[_Pending]:
        sent = select(TakedownSentStatement.puid)
        q = self._query(provider_id).where(TakedownDecision.puid.not_in(sent))
        q = q.order_by(TakedownDecision.decided_at, TakedownDecision.id)
        if limit is not None:
            q = q.limit(limit)
        return [_Pending(d, p, dict(st)) for d, p, st in s.execute(q) if st]

    def _named(self, s: Session, provider_id: str, puids: Sequence[str]) -> list[_Pending]:
        if not puids:
            raise InvalidInputError("name at least one puid, or none to send every unsent statement", field="puids")
        seen: set[str] = set()
        out: list[_Pending] = []
        for i, puid in enumerate(puids):
            if puid in seen:
                raise ConflictError(
                    f"the puid {puid!r} is named twice; a statement is sent once",
                    field=f"puids[{i}]",
                    code="puid_not_unique",
                )
            seen.add(puid)
            row = s.execute(self._query(provider_id).where(TakedownDecision.puid == puid)).first()
            if row is None:
                raise NotFoundError(f"this desk has no statement of reasons with puid {puid!r}", field=f"puids[{i}]")
            sent = s.get(TakedownSentStatement, puid)
            if sent is not None:
                export = s.get(TakedownExport, sent.export_id)
                where = f" (export {sent.export_id}, log entry {export.log_index})" if export is not None else ""
                raise ConflictError(
                    f"the statement {puid!r} was sent to the DSA Transparency Database on "
                    f"{format_time(sent.sent_at)}{where}; a puid is never sent twice",
                    field=f"puids[{i}]",
                    code="puid_not_unique",
                )
            out.append(_Pending(row[0], row[1], dict(row[2])))
        return out

    # -- what was sent -----------------------------------------------------------------------------------------

    def _record(
        self, actor: Principal, provider_id: str, endpoint: str, chunk: Sequence[_Pending], result: ExportResult
    ) -> BatchView:
        now = self.clock.now()
        outcome = "created" if result.created else "rejected"
        subs = tuple(sub.to_dict() for sub in result.submissions)
        eid = new_id("tdx")
        with self.store.write() as s:
            index = log(
                s,
                self.ledger,
                "takedown.statements_exported",
                actor.party_id,
                eid,
                {
                    "provider_id": provider_id,
                    "endpoint": endpoint,
                    "result": outcome,
                    "status": result.status,
                    "puids": [p.puid for p in chunk],
                    "statements": [
                        {"puid": x["puid"], "sha256": x["sha256"], "uuid": x["uuid"], "errors": x["errors"]}
                        for x in subs
                    ],
                },
                now,
            )
            self._export_row(
                s, eid, actor, provider_id, outcome, {"endpoint": endpoint, "submissions": list(subs)}, now, index
            )
            if result.created:
                for p, sub in zip(chunk, result.submissions, strict=True):
                    s.add(
                        TakedownSentStatement(
                            puid=p.puid,
                            decision_id=p.decision_id,
                            export_id=eid,
                            sha256=sub.sha256,
                            dsa_uuid=sub.uuid,
                            permalink=sub.permalink,
                            sent_at=now,
                        )
                    )
        return BatchView(eid, outcome, result.status, tuple(p.puid for p in chunk), index, subs)

    def _reconcile(
        self, actor: Principal, client: DsaClient, provider_id: str, endpoint: str, chunk: Sequence[_Pending]
    ) -> int:
        """Record as sent the statements of ``chunk`` the database turns out to hold; returns how many."""
        found = [(p, held) for p in chunk if (held := client.existing(p.puid)) is not None]
        if not found:
            return 0
        now = self.clock.now()
        eid = new_id("tdx")
        held_list = [
            {"puid": p.puid, "uuid": _text(h.get("uuid")), "permalink": _text(h.get("permalink"))} for p, h in found
        ]
        with self.store.write() as s:
            index = log(
                s,
                self.ledger,
                "takedown.statements_reconciled",
                actor.party_id,
                eid,
                {"provider_id": provider_id, "endpoint": endpoint, "result": "held", "statements": held_list},
                now,
            )
            self._export_row(s, eid, actor, provider_id, "held", {"endpoint": endpoint, "held": held_list}, now, index)
            for (p, _), h in zip(found, held_list, strict=True):
                s.add(
                    TakedownSentStatement(
                        puid=p.puid,
                        decision_id=p.decision_id,
                        export_id=eid,
                        sha256=hashlib.sha256(canonical(p.statement)).hexdigest(),
                        dsa_uuid=h["uuid"],
                        permalink=h["permalink"],
                        sent_at=now,
                    )
                )
        return len(found)

    @staticmethod
    def _export_row(
        s: Session,
        eid: str,
        actor: Principal,
        provider_id: str,
        result: str,
        detail: dict[str, Any],
        now: datetime,
        index: int,
    ) -> None:
        s.add(
            TakedownExport(
                id=eid,
                kind="statements",
                provider_id=provider_id,
                period=None,
                actor_id=actor.party_id,
                result=result,
                sha256=None,
                detail=detail,
                created_at=now,
                log_index=index,
            )
        )


def _text(v: object) -> str | None:
    return None if v is None else str(v)[:500]


__all__ = ["BatchView", "ExportView", "StatementExports"]
