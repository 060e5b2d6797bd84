"""``copyalign blobs``: housekeeping of the content blob store."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from copyalign.cli.common import emit, handled, open_ca, operator, out

app = typer.Typer(help="Content blobs: collect the ones no row refers to.", no_args_is_help=True)


@app.command("gc")
def gc(
    ctx: typer.Context,
    grace: Annotated[
        float | None,
        typer.Option(
            help="Seconds: blobs written or re-put more recently are kept (default: COPYALIGN_BLOB_GC_GRACE_SECONDS)."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go; delete nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
) -> None:
    """Delete content blobs that no work or blocklist entry refers to and nobody wrote within the grace period
    (what a refused or killed import leaves). Safe beside a running import: writers lease their blobs."""
    with handled(as_json):
        ca = open_ca(ctx)
        report = ca.blob_gc.collect(
            operator(ca), grace=None if grace is None else timedelta(seconds=grace), dry_run=dry_run
        )
        if as_json:
            emit(report.to_dict())
        else:
            verb = "would delete" if dry_run else "deleted"
            out.print(
                f"{verb} {report.deleted} of {report.candidates} blobs older than {report.grace_seconds:g} s "
                f"({report.kept} kept: referenced, leased or re-put)"
                + (f"; {report.compacted_bytes} bytes freed by rewriting packs" if report.compacted_bytes else ""),
                highlight=False,
            )
