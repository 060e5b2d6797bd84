"""/v1/takedown exports: statements of reasons to the EU DSA Transparency Database, sealed transparency reports,
duty-of-care dossiers (issue 18).

A provider sends its own desk's statements with its own platform token (never stored or logged) to the database
the deployment names (``COPYALIGN_DSA_ENDPOINT``); the operator sends any desk's. Reports are sealed by a
provider (its desk) or the operator (one desk or all) and read by anyone, files included (aggregates only, no
personal data); dossiers are built and read by their provider, auditors and the operator. Every file served is
rendered again from what was sealed, so it hashes to the digest the log holds.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.schemas import INT64_MAX, Input
from copyalign.errors import NotFoundError

router = APIRouter(tags=["takedown"])
MEDIA = {".csv": "text/csv", ".json": "application/json", ".html": "text/html"}
FILE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, byte for byte as sealed (its SHA-256 is listed in SHA256SUMS).",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in (*MEDIA.values(), "text/plain")},
    }
}


class ExportIn(Input):
    # sent in an HTTP header: visible ASCII only (anything else could not be sent, and was a 500)
    token: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"^[\x21-\x7e]+$",
        description="Your platform's API token for the database (visible ASCII).",
    )
    provider_id: str | None = Field(default=None, description="The desk (the operator names it; a provider's own).")
    puids: list[str] | None = Field(default=None, max_length=10_000, description="Exactly these (omitted: all unsent).")
    limit: int | None = Field(default=None, ge=1, le=100_000)


class ReportIn(Input):
    period: str | None = Field(default=None, max_length=10, description="2026, 2026H1; omitted: the last whole one.")
    provider_id: str | None = Field(default=None, description="One desk (omitted by the operator: every desk).")


class DossierIn(Input):
    provider_id: str | None = None


def _file(files: dict[str, bytes], name: str) -> Response:
    if name not in files:
        raise NotFoundError(f"no file {name!r}; the files are {', '.join(sorted(files))}", field="name")
    suffix = name[name.rfind(".") :] if "." in name else ""
    media = MEDIA.get(suffix, "text/plain")
    return Response(files[name], media_type=f"{media}; charset=utf-8")


@router.post("/takedown/statements/export")
def export_statements(body: ExportIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Send the desk's unsent statements of reasons (or ``puids``) to the DSA Transparency Database, 100 a call.
    A puid already sent is refused (409 ``puid_not_unique``); each call that reached the database is logged."""
    return ca.takedown.export_statements(
        principal,
        endpoint=ca.settings.dsa_endpoint,
        token=body.token,
        provider_id=body.provider_id,
        puids=body.puids,
        limit=body.limit,
    ).to_dict()


@router.post("/takedown/reports", status_code=201)
def seal_report(body: ReportIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Seal a period's transparency report (EU harmonised templates): its ``SHA256SUMS`` digest goes in the log."""
    return ca.takedown.transparency_report(principal, body.period, provider_id=body.provider_id).to_dict()


@router.get("/takedown/reports")
def reports(
    ca: CaDep,
    provider_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=INT64_MAX),
) -> dict[str, Any]:
    """Sealed transparency reports, newest first (public)."""
    return {"reports": [r.to_dict() for r in ca.takedown.reports(provider_id=provider_id, limit=limit, offset=offset)]}


@router.get("/takedown/reports/{report_id}")
def report(report_id: str, ca: CaDep) -> dict[str, Any]:
    """A sealed report: its digests, its log entry and the report itself (``report.json``), public."""
    view, files = ca.takedown.sealed_files(None, report_id, kind="report")
    return {**view.to_dict(), "report": json.loads(files["report.json"])}


@router.get("/takedown/reports/{report_id}/files/{name}", response_class=Response, responses=FILE_RESPONSE)
def report_file(report_id: str, name: str, ca: CaDep) -> Response:
    """One file of a sealed report (a CSV sheet, report.json, report.html, SHA256SUMS), public."""
    _, files = ca.takedown.sealed_files(None, report_id, kind="report")
    return _file(files, name)


@router.post("/takedown/dossiers", status_code=201)
def seal_dossier(body: DossierIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Seal the provider's duty-of-care dossier: every claim linked to the log entries that prove it."""
    return ca.takedown.dossier(principal, body.provider_id).to_dict()


@router.get("/takedown/dossiers")
def dossiers(
    ca: CaDep,
    principal: PrincipalDep,
    provider_id: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=INT64_MAX),
) -> dict[str, Any]:
    found = ca.takedown.dossiers(principal, provider_id=provider_id, limit=limit, offset=offset)
    return {"dossiers": [d.to_dict() for d in found]}


@router.get("/takedown/dossiers/{dossier_id}/files/{name}", response_class=Response, responses=FILE_RESPONSE)
def dossier_file(dossier_id: str, name: str, ca: CaDep, principal: PrincipalDep) -> Response:
    """One file of a sealed dossier (dossier.json, dossier.html, SHA256SUMS)."""
    _, files = ca.takedown.sealed_files(principal, dossier_id, kind="dossier")
    return _file(files, name)
