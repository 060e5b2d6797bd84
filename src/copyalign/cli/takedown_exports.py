"""``copyalign takedown export-statements | report | dossier``: what leaves the desk (issue 18), as the operator.

``export-statements`` sends a desk's unsent statements of reasons to the EU DSA Transparency Database (100 a
call; a puid already sent is refused, never sent twice); ``report`` seals a period's transparency report and
writes it (one CSV per template sheet, ``report.json``, ``report.html``, ``SHA256SUMS``); ``dossier`` seals a
provider's duty-of-care dossier and writes it. The digest printed is the one the log holds:
``sha256sum SHA256SUMS`` shows it, ``sha256sum -c SHA256SUMS`` checks the files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from copyalign.cli.common import emit, handled, open_ca, operator, out

Json = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def export_statements(
    ctx: typer.Context,
    provider: Annotated[str, typer.Option(help="The provider whose desk's statements are sent.")],
    token: Annotated[str, typer.Option(help="The provider's API token for the database (never stored).")],
    endpoint: Annotated[
        str | None, typer.Option(help="The database's base URL (default: COPYALIGN_DSA_ENDPOINT).")
    ] = None,
    puid: Annotated[list[str] | None, typer.Option(help="Send exactly this statement (repeat).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many statements.")] = None,
    as_json: Json = False,
) -> None:
    """Send the desk's unsent statements of reasons to the EU DSA Transparency Database, 100 a call."""
    with handled(as_json):
        ca = open_ca(ctx)
        view = ca.takedown.export_statements(
            operator(ca),
            endpoint=endpoint or ca.settings.dsa_endpoint,
            token=token,
            provider_id=provider,
            puids=puid,
            limit=limit,
        )
        if as_json:
            emit(view.to_dict())
            return
        out.print(f"sent {view.sent} statement(s) in {len(view.batches)} call(s); {view.remaining} unsent")
        for b in view.batches:
            out.print(f"  {b.export_id}  {b.result}  {len(b.puids)} statement(s)  log entry {b.log_index}")


def report(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="The folder the files are written to.")],
    period: Annotated[
        str | None, typer.Option(help="2026 or 2026H1 (default: the last whole period of the profile's kind).")
    ] = None,
    provider: Annotated[str | None, typer.Option(help="One provider's desk (default: every desk).")] = None,
    as_json: Json = False,
) -> None:
    """Seal a period's transparency report in the log and write its files."""
    with handled(as_json):
        ca = open_ca(ctx)
        view = ca.takedown.transparency_report(operator(ca), period, provider_id=provider, out=out_dir)
        if as_json:
            emit(view.to_dict())
            return
        out.print(f"report {view.period} sealed at log entry {view.log_index}: SHA256SUMS {view.sha256}")
        out.print(f"  {len(view.files) + 1} files in {out_dir}")


def dossier(
    ctx: typer.Context,
    provider: Annotated[str, typer.Argument(help="The provider's party id.")],
    out_dir: Annotated[Path, typer.Option("--out", help="The folder the files are written to.")],
    as_json: Json = False,
) -> None:
    """Seal a provider's duty-of-care dossier (every claim linked to log entries) and write it."""
    with handled(as_json):
        ca = open_ca(ctx)
        view = ca.takedown.dossier(operator(ca), provider, out=out_dir)
        if as_json:
            emit(view.to_dict())
            return
        out.print(f"dossier sealed at log entry {view.log_index}: SHA256SUMS {view.sha256}")
        out.print(f"  {len(view.files) + 1} files in {out_dir}")


__all__ = ["dossier", "export_statements", "report"]
