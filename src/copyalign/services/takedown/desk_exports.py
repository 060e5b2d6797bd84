"""The desk facade's exports, as methods of ``ca.takedown``: statements of reasons to the DSA Transparency
Database, the sealed transparency report, the duty-of-care dossier (issue 18); and the providers list the
portal's forms offer.

Kept beside :mod:`.desk` so that the facade stays one screen a part; :class:`~.desk.TakedownService` inherits
these methods, and they hand each call to :mod:`.statement_export` or :mod:`.sealing`, which authorise it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx

from copyalign.clock import Clock
from copyalign.core.policy import PolicyProfile
from copyalign.core.takedown.report import Period, parse_period, previous_period
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.exports.sor_export import DsaClient
from copyalign.services.takedown.reading import Reading
from copyalign.services.takedown.sealing import SealedView, Sealing
from copyalign.services.takedown.statement_export import ExportView, StatementExports


class DeskExports:
    reading: Reading
    statement_exports: StatementExports
    sealing: Sealing
    policy: PolicyProfile
    clock: Clock

    def providers(self) -> list[tuple[str, str]]:
        """Every provider a notice may be addressed to: (id, public name), for the portal's forms (public)."""
        return self.reading.providers()

    def export_statements(
        self,
        actor: Principal,
        *,
        endpoint: str,
        token: str,
        provider_id: str | None = None,
        puids: Sequence[str] | None = None,
        limit: int | None = None,
        batch_size: int = 100,
        transport: httpx.BaseTransport | None = None,
    ) -> ExportView:
        """Send the desk's unsent statements of reasons (or exactly ``puids``) to the database at ``endpoint``
        with the provider's ``token``, at most 100 a call; each call that reached it is logged."""
        with DsaClient(endpoint, token, transport=transport) as client:
            return self.statement_exports.export(
                actor,
                client,
                endpoint=endpoint.rstrip("/"),
                provider_id=provider_id,
                puids=puids,
                limit=limit,
                batch_size=batch_size,
            )

    def report_period(self, period: str | None) -> Period:
        """``2026``, ``2026H1``; None: the last whole period of the profile's kind (annual or six-monthly)."""
        tz = self.policy.takedown.time_zone
        if period is not None:
            return parse_period(period, time_zone=tz)
        return previous_period(self.policy.takedown.report_period, self.clock.now(), time_zone=tz)

    def transparency_report(
        self,
        actor: Principal,
        period: str | None = None,
        *,
        provider_id: str | None = None,
        out: Path | None = None,
    ) -> SealedView:
        """Seal the period's transparency report (its ``SHA256SUMS`` digest in the log); write it to ``out``."""
        return self.sealing.transparency_report(actor, self.report_period(period), provider_id=provider_id, out=out)

    def dossier(self, actor: Principal, provider_id: str | None = None, *, out: Path | None = None) -> SealedView:
        """Seal the provider's duty-of-care dossier (every claim linked to log entries); write it to ``out``."""
        return self.sealing.dossier(actor, provider_id, out=out)

    def reports(self, *, provider_id: str | None = None, limit: int = 100, offset: int = 0) -> list[SealedView]:
        """Sealed transparency reports, newest first: public."""
        return self.sealing.sealed(None, "report", provider_id=provider_id, limit=limit, offset=offset)

    def dossiers(
        self, actor: Principal, *, provider_id: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SealedView]:
        return self.sealing.sealed(actor, "dossier", provider_id=provider_id, limit=limit, offset=offset)

    def sealed_files(
        self, actor: Principal | None, export_id: str, *, kind: str | None = None
    ) -> tuple[SealedView, dict[str, bytes]]:
        """A sealed report's (anyone) or dossier's (its readers) files, byte for byte what was sealed."""
        return self.sealing.files(actor, export_id, kind=kind)


__all__ = ["DeskExports"]
