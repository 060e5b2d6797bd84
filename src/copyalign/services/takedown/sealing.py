"""Transparency reports and duty-of-care dossiers, sealed into the log and readable again byte for byte.

A report (:mod:`.exports.report_files`) or a dossier (:mod:`.exports.dossier`) is rendered from the desk's
records, its files' SHA-256 listed in ``SHA256SUMS``, and the digest of ``SHA256SUMS`` sealed into the log
(``takedown.report_sealed``, ``takedown.dossier_sealed``) in one transaction with a
:class:`~copyalign.store.models.TakedownExport` row that keeps what renders the files again: the sheets and the
period, or the dossier's claims. Written to a folder, the files are staged under ``.partial`` names first and
published only once the log holds their digest (:mod:`.exports.staging`); read back later
(:meth:`Sealing.files`), they are rendered again from the row and hash to the sealed digest.

A report is public (aggregates only, DSA Art. 24(5)); a dossier is read by its provider, auditors and the
operator. Its claims (:mod:`.dossier_claims`) come from the desk's own rows, each citing the log entries that
prove it, and from the provider's latest sealed report; a factor the desk has no record for (the training phase,
which the scanner and the audit record under the developer's name) is shown as a gap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import format_time
from copyalign.core.takedown.report import Period
from copyalign.errors import AuthenticationError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.dossier_claims import facts_detail, facts_from, gather_claims, parse_time, sheets_from
from copyalign.services.takedown.exports.dossier import DossierFacts, Factor, render_dossier
from copyalign.services.takedown.exports.report_files import render_transparency_report
from copyalign.services.takedown.exports.staging import stage as stage_files
from copyalign.services.takedown.exports.staging import sums
from copyalign.services.takedown.records import Records
from copyalign.services.takedown.rows import log
from copyalign.store.models import (
    Party,
    TakedownExport,
)

EVENTS = {"report": "takedown.report_sealed", "dossier": "takedown.dossier_sealed"}


@dataclass(frozen=True, slots=True)
class SealedView:
    """A sealed report or dossier: the digest of its ``SHA256SUMS``, each file's digest, its log entry."""

    id: str
    kind: str
    provider_id: str | None
    period: str | None
    sha256: str
    files: Mapping[str, str]
    log_index: int
    created_at: datetime
    directory: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "provider_id": self.provider_id,
            "period": self.period,
            "sha256": self.sha256,
            "files": dict(self.files),
            "log_index": self.log_index,
            "created_at": format_time(self.created_at),
        }
        if self.directory is not None:
            out["directory"] = self.directory
        return out


def _view(row: TakedownExport, directory: Path | None = None) -> SealedView:
    return SealedView(
        row.id,
        row.kind,
        row.provider_id,
        row.period,
        row.sha256 or "",
        dict(row.detail.get("files", {})),
        row.log_index,
        row.created_at,
        str(directory) if directory is not None else None,
    )


class Sealing(ServiceBase):
    def __init__(self, deps: Deps, records: Records) -> None:
        super().__init__(deps)
        self.records = records

    # -- the transparency report -------------------------------------------------------------------------------

    def transparency_report(
        self, actor: Principal, period: Period, *, provider_id: str | None = None, out: Path | None = None
    ) -> SealedView:
        """Seal ``period``'s report for one desk (or, the operator, every desk); write the files to ``out``."""
        if actor.role is Role.PROVIDER:
            provider_id = provider_id or actor.party_id
        require(actor.role, Action.TAKEDOWN_REPORT, owner=provider_id is not None and provider_id == actor.party_id)
        now = self.clock.now()
        if period.end > now:
            raise InvalidInputError(
                f"the period {period.label} runs until {format_time(period.end)}; a report covers a whole period",
                field="period",
            )
        with self.store.read() as s:
            name = self._provider_name(s, provider_id)
        sheets = self.records.period(period, provider_id, statements=False).report()
        detail: dict[str, Any] = {
            "provider": name,
            "generated_at": format_time(now),
            "period": {"label": period.label, "start": format_time(period.start), "end": format_time(period.end)},
            "sheets": {k: [r.as_dict() for r in rows] for k, rows in sheets.items()},
        }
        files = _render_report(detail)
        return self._seal("report", actor, provider_id, period.label, files, detail, out)

    # -- the dossier -------------------------------------------------------------------------------------------

    def dossier(self, actor: Principal, provider_id: str | None = None, *, out: Path | None = None) -> SealedView:
        """Seal the provider's duty-of-care dossier against a checkpoint signed now; write it to ``out``."""
        require(actor.role, Action.TAKEDOWN_DOSSIER, owner=True)  # a role that may build none: 403 first
        if actor.role is Role.PROVIDER:
            provider_id = provider_id or actor.party_id
        if not provider_id:
            raise InvalidInputError("name the provider the dossier is about", field="provider_id")
        require(actor.role, Action.TAKEDOWN_DOSSIER, owner=provider_id == actor.party_id)
        with self.store.read() as s:
            name = self._provider_name(s, provider_id)
            claims = gather_claims(s, provider_id)
        checkpoint = self.ledger.checkpoint()
        facts = DossierFacts(
            provider=name,
            generated_at=self.clock.now(),
            log_origin=self.ledger.origin,
            checkpoint_size=checkpoint.size,
            service=tuple(claims[Factor.SERVICE]),
            foreseeability=tuple(claims[Factor.FORESEEABILITY]),
            measures=tuple(claims[Factor.MEASURES]),
            response_times=tuple(claims[Factor.RESPONSE_TIMES]),
            repeat_infringers=tuple(claims[Factor.REPEAT_INFRINGERS]),
            training=tuple(claims[Factor.TRAINING]),
        )
        detail = {"facts": facts_detail(facts)}
        return self._seal("dossier", actor, provider_id, None, render_dossier(facts), detail, out)

    # -- reading what was sealed -------------------------------------------------------------------------------

    def sealed(
        self,
        actor: Principal | None,
        kind: str,
        *,
        provider_id: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[SealedView]:
        """Sealed reports (anyone) or dossiers (their provider, auditors, the operator), newest first."""
        if kind not in EVENTS:
            raise InvalidInputError("kind is report or dossier", field="kind")
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInputError("limit is 1 to 1000 and offset at least 0", field="limit")
        if kind == "dossier":
            provider_id = self._dossier_reader(actor, provider_id)
        q = select(TakedownExport).where(TakedownExport.kind == kind)
        if provider_id is not None:
            q = q.where(TakedownExport.provider_id == provider_id)
        q = q.order_by(TakedownExport.created_at.desc(), TakedownExport.id.desc()).limit(limit).offset(offset)
        with self.store.read() as s:
            return [_view(r) for r in s.execute(q).scalars()]

    def files(
        self, actor: Principal | None, export_id: str, *, kind: str | None = None
    ) -> tuple[SealedView, dict[str, bytes]]:
        """A sealed report's or dossier's files (of ``kind``, if given), rendered again: their digests are the
        sealed ones."""
        with self.store.read() as s:
            row = s.get(TakedownExport, export_id)
            if row is None or row.kind not in EVENTS or (kind is not None and row.kind != kind):
                what = f"sealed {kind}" if kind else "sealed report or dossier"
                raise NotFoundError(f"no {what} {export_id}", field="export_id")
            if row.kind == "dossier":
                self._dossier_reader(actor, row.provider_id)
            view = _view(row)
            detail = dict(row.detail)
        files = _render_report(detail) if view.kind == "report" else render_dossier(facts_from(detail["facts"]))
        return view, {**files, "SHA256SUMS": sums(view.files)}

    def _dossier_reader(self, actor: Principal | None, provider_id: str | None) -> str | None:
        if actor is None:
            raise AuthenticationError("a dossier is read by its provider, auditors and the operator: sign in")
        if actor.role is Role.PROVIDER:
            provider_id = provider_id or actor.party_id
        require(actor.role, Action.TAKEDOWN_DOSSIER, owner=provider_id == actor.party_id)
        return provider_id

    # -- helpers -----------------------------------------------------------------------------------------------

    def _seal(
        self,
        kind: str,
        actor: Principal,
        provider_id: str | None,
        period: str | None,
        files: dict[str, bytes],
        detail: dict[str, Any],
        out: Path | None,
    ) -> SealedView:
        digests = {n: hashlib.sha256(b).hexdigest() for n, b in sorted(files.items())}
        sha = hashlib.sha256(sums(digests)).hexdigest()
        staged = stage_files(out, files) if out is not None else None
        eid = new_id("tdx")
        now = self.clock.now()
        try:
            with self.store.write() as s:
                payload = {"provider_id": provider_id, "period": period, "sha256": sha, "files": digests}
                index = log(s, self.ledger, EVENTS[kind], actor.party_id, eid, payload, now)
                row = TakedownExport(
                    id=eid,
                    kind=kind,
                    provider_id=provider_id,
                    period=period,
                    actor_id=actor.party_id,
                    result="sealed",
                    sha256=sha,
                    detail={**detail, "files": digests},
                    created_at=now,
                    log_index=index,
                )
                s.add(row)
        except BaseException:
            if staged is not None:
                staged.discard()
            raise
        if staged is not None:
            staged.publish()
        return _view(row, out)

    @staticmethod
    def _provider_name(s: Session, provider_id: str | None) -> str:
        if provider_id is None:
            op = s.execute(select(Party).where(Party.role == Role.OPERATOR.value).order_by(Party.created_at)).scalar()
            return f"every desk of {op.name}" if op is not None else "every desk"
        p = s.get(Party, provider_id)
        if p is None or p.role != Role.PROVIDER.value:
            raise NotFoundError(f"no provider {provider_id}", field="provider_id")
        return p.name


def _render_report(detail: Mapping[str, Any]) -> dict[str, bytes]:
    sheets, period = sheets_from(detail)
    return render_transparency_report(
        sheets, period=period, provider=detail["provider"], generated_at=parse_time(detail["generated_at"])
    )


__all__ = ["EVENTS", "SealedView", "Sealing"]
