"""``copyalign works``: add, import, lookup, list, prefer, and the operator's ``conflicts`` and ``resolve``."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from copyalign.cli.common import emit, err, handled, open_ca, operator, out
from copyalign.errors import InvalidInputError, ItemError, ManifestError

if TYPE_CHECKING:
    from copyalign.services.registry.works import WorkView

app = typer.Typer(help="Register works, import manifests, look content up.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line on stdout.")]


def _work_line(w: WorkView) -> dict[str, object]:
    from copyalign.core.canonical import format_time

    return {
        "id": w.id,
        "holder_id": w.holder_id,
        "kind": w.kind,
        "title": w.title,
        "sha256": w.sha256,
        "iscc": w.iscc,
        "log_index": w.log_index,
        "created_at": format_time(w.created_at),
        **({"conflicts": [c.to_dict() for c in w.conflicts], "warnings": w.warnings} if w.conflicts else {}),
    }


def _warn(views: list[WorkView], where: list[str]) -> None:
    """A registration that duplicates another holder's work says so on stderr (registry.conflict_action)."""
    for w, at in zip(views, where, strict=True):
        for text in w.warnings:
            err.print(Text.assemble(("warning:", "bold yellow"), f" {at}: {text}"), highlight=False)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError(f"no such file: {path}", field="path") from None
    except IsADirectoryError:
        raise InvalidInputError(f"{path} is a directory", field="path") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror}", field="path") from None


@app.command()
def add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files to register (texts or images).")],
    holder: Annotated[str | None, typer.Option(help="Rights holder id (default: the operator).")] = None,
    title: Annotated[str | None, typer.Option(help="Title (default: the file name).")] = None,
    creator: Annotated[list[str] | None, typer.Option(help="Creator name; repeat for several.")] = None,
    deny: Annotated[
        list[str] | None, typer.Option(help="Purpose to deny (train-ai, train-genai, ai-input, search).")
    ] = None,
    remunerate: Annotated[list[str] | None, typer.Option(help="Purpose allowed with remuneration.")] = None,
    kind: Annotated[str | None, typer.Option(help="text or image (default: from the content).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register files as works, all or none; prints each work and its log receipt."""
    from copyalign.services.registry.preferences import PreferenceInput
    from copyalign.services.registry.works import WorkInput

    with handled(as_json):
        prefs = tuple(PreferenceInput.parse(p, "deny", "*") for p in deny or []) + tuple(
            PreferenceInput.parse(p, "allow-with-remuneration", "*") for p in remunerate or []
        )
        items = [
            WorkInput(
                data=_read(p),
                title=title or p.name,
                kind=kind,
                creators=tuple(creator or ()),
                preferences=prefs,
            )
            for p in paths
        ]
        ca = open_ca(ctx)
        try:
            views = ca.works.register_many(operator(ca), items, holder_id=holder)
        except ItemError as exc:
            from copyalign.core.refusals import in_words

            path, error = paths[exc.position], exc.error
            plain = in_words(str(path), error.code, error.message)
            # said as plainly as the portal says it: what the file was taken for and why it was refused
            error.message = plain if plain != error.message else f"{path}: {error.message}"
            raise error from None
        for p, w in zip(paths, views, strict=True):
            if as_json:
                emit({"path": str(p), **_work_line(w)})
            else:
                out.print(f"registered {w.id}  {w.kind:5}  {w.title}  (log index {w.log_index})", highlight=False)
        if not as_json:
            _warn(views, [str(p) for p in paths])


@app.command("import")
def import_(
    ctx: typer.Context,
    manifest: Annotated[Path, typer.Argument(help="JSON Lines manifest; paths resolve from its folder.")],
    holder: Annotated[str | None, typer.Option(help="Rights holder id (default: the operator).")] = None,
    workers: Annotated[int, typer.Option(help="Processes for fingerprinting (default: one per core).")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Register every work of a manifest, or none: the first bad line is reported with its number."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from copyalign.services.registry.manifest import read_manifest

    with handled(as_json):
        items, numbers = read_manifest(manifest)
        ca = open_ca(ctx)
        with Progress(
            TextColumn("fingerprinting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            disable=as_json,
            transient=True,
        ) as bar:
            task = bar.add_task("fp", total=len(items), rate="")
            started = time.perf_counter()

            def advance(done: int) -> None:
                rate = done / max(time.perf_counter() - started, 1e-9)
                bar.update(task, completed=done, rate=f"{rate:,.0f} works/s")

            try:
                views = ca.works.register_many(
                    operator(ca), items, holder_id=holder, workers=workers or os.cpu_count() or 1, progress=advance
                )
            except ItemError as exc:
                raise ManifestError(exc.error.message, line=numbers[exc.position], field=exc.error.field) from None
        if as_json:
            for n, w in zip(numbers, views, strict=True):
                emit({"line": n, **_work_line(w)})
        else:
            out.print(f"registered {len(views)} works from {manifest}", highlight=False)
            _warn(views, [f"line {n}" for n in numbers])


@app.command()
def lookup(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A file to look up.")],
    at: Annotated[datetime | None, typer.Option(help="Answer as of this time (ISO 8601, UTC if no zone).")] = None,
    jurisdiction: Annotated[str | None, typer.Option(help="CN, EU, JP, US (default: the policy's).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Is this file registered? Whose is it, and what does it allow (now, or as of --at)?"""
    from copyalign.core.canonical import format_time
    from copyalign.core.registry.preferences import Purpose

    with handled(as_json):
        data = _read(path)
        ca = open_ca(ctx)
        when = at.replace(tzinfo=at.tzinfo or UTC) if at else None
        result = ca.lookup.lookup(operator(ca), data, at=when, jurisdiction=jurisdiction)
        if as_json:
            emit({"path": str(path), **result.to_dict()})
            return
        if not result.registered:
            out.print(f"{path}: not registered (as of {format_time(result.as_of)})", highlight=False)
            return
        for m in result.matches:
            out.print(
                Text.assemble(
                    f"{path}: ", (m.title, "bold"), f" ({m.work_id}), {m.match} match, holder {m.holder_name}"
                ),
                highlight=False,
            )
            for purpose in Purpose:
                r = m.preferences[purpose]
                out.print(f"    {purpose.value:12} {r.value.value:24} ({r.source.value})", highlight=False)


@app.command("list")
def list_(
    ctx: typer.Context,
    holder: Annotated[str | None, typer.Option(help="Rights holder id (default: the operator).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List a holder's works."""
    from rich.table import Table

    from copyalign.core.canonical import format_time

    with handled(as_json):
        ca = open_ca(ctx)
        views = ca.works.list(operator(ca), holder_id=holder, limit=limit)
        if as_json:
            for w in views:
                emit(_work_line(w))
            return
        table = Table("id", "kind", "title", "registered")
        for w in views:
            table.add_row(w.id, w.kind, w.title, format_time(w.created_at))
        out.print(table)


@app.command()
def conflicts(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open, noted, resolved or all.")] = "open",
    as_json: JsonOpt = False,
) -> None:
    """The operator's queue: registrations that duplicate another holder's work, to resolve."""
    with handled(as_json):
        ca = open_ca(ctx)
        views = ca.conflicts.list(operator(ca), status=None if status == "all" else status)
        if as_json:
            for v in views:
                emit(v.to_dict())
            return
        if not views:
            out.print(f"no {'' if status == 'all' else status + ' '}registration conflict", highlight=False)
        for v in views:
            out.print(
                f"{v.id}  {v.status}  {v.title!r} ({v.work_id}, {v.holder_name}) is {v.match.replace('_', '-')} "
                f"of {v.other_title!r} ({v.other_work_id}, {v.other_holder_name})"
                + (f"; decided {v.decision}" if v.decision else ""),
                highlight=False,
            )


@app.command()
def resolve(
    ctx: typer.Context,
    conflict: Annotated[str, typer.Argument(help="Conflict id (cfl_…).")],
    decision: Annotated[str, typer.Option(help="both-stand, first-holder or second-holder.")],
    note: Annotated[str, typer.Option(help="Why (kept in the log).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Resolve a registration conflict with the operator's decision; the decision is logged."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.conflicts.resolve(operator(ca), conflict, decision=decision, note=note)
        if as_json:
            emit(v.to_dict())
        else:
            out.print(f"{v.id}: {v.decision} (log index {v.resolution_log_index})", highlight=False)


@app.command()
def prefer(
    ctx: typer.Context,
    work: Annotated[str, typer.Argument(help="Work id.")],
    purpose: Annotated[str, typer.Argument(help="train-ai, train-genai, ai-input or search.")],
    value: Annotated[str, typer.Argument(help="allow, deny or allow-with-remuneration.")],
    jurisdiction: Annotated[str, typer.Option(help="*, CN, EU, JP or US.")] = "*",
    as_json: JsonOpt = False,
) -> None:
    """State a preference for a work (a new statement; the history is kept)."""
    from copyalign.services.registry.preferences import PreferenceInput

    with handled(as_json):
        ca = open_ca(ctx)
        receipt = ca.preferences.set(
            operator(ca), work_id=work, pref=PreferenceInput.parse(purpose, value, jurisdiction)
        )
        if as_json:
            emit({"work_id": work, "purpose": purpose, "value": value, "receipt": receipt.to_dict()})
        else:
            out.print(f"{work}: {purpose} = {value} (log index {receipt.index})", highlight=False)


__all__ = ["app"]
