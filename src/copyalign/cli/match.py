"""``copyalign match`` and ``copyalign index``: find registered works in files; build the match index."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from copyalign.cli.common import emit, err, handled, open_ca, operator, out
from copyalign.errors import CopyalignError, InvalidInputError

index_app = typer.Typer(help="The match index beside the store.", no_args_is_help=True)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"cannot read {path}: {exc.strerror or exc}", field="path") from None


def match(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Text or image files to match against the registry.")],
    limit: Annotated[int, typer.Option(help="At most this many works per file.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per file: its path and matches.")] = False,
) -> None:
    """Which registered works does each file contain, where, and what do they allow?

    Exit status 0 when every file was read (matched or not), 1 when any could not be read.
    """
    failed = False
    with handled(as_json):
        ca = open_ca(ctx)
        actor = operator(ca)
        for path in paths:
            try:
                result = ca.matching.match(actor, _read(path), limit=limit)
            except CopyalignError as exc:
                failed = True
                if as_json:
                    emit({"path": str(path), "error": exc.to_dict()})
                err.print(Text.assemble(("error:", "bold red"), f" {path}: {exc.message}"), highlight=False)
                continue
            if as_json:
                emit({"path": str(path), **result.to_dict()})
                continue
            if not result.matches:
                out.print(f"{path}: no registered work found", highlight=False)
            for m in result.matches:
                where = ""
                if m.spans:
                    s = m.spans[0]
                    more = f" (+{len(m.spans) - 1} more)" if len(m.spans) > 1 else ""
                    where = f", chars {s.query[0]}-{s.query[1]} = work chars {s.work[0]}-{s.work[1]}{more}"
                elif m.region:
                    where = f", region {', '.join(f'{v:.2f}' for v in m.region)}"
                prefs = ", ".join(f"{k}={v['value']}" for k, v in m.preferences.items())
                out.print(
                    Text.assemble(
                        f"{path}: ",
                        (m.title, "bold"),
                        f" ({m.work_id}) {m.match} score {m.score:.3f}{where}; holder {m.holder_name}; {prefs}",
                    ),
                    highlight=False,
                )
    if failed:
        raise typer.Exit(1)


@index_app.command("build")
def build(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Rebuild the match index from the store (queries also keep it fresh on their own)."""
    with handled(as_json):
        ca = open_ca(ctx)
        n = ca.matching.rebuild()
        info = {"indexed": n, "works": ca.matching.index.size, "bytes": ca.matching.index.disk_bytes()}
        if as_json:
            emit(info)
        else:
            out.print(f"indexed {n} works; index holds {info['works']} works in {info['bytes']} bytes")
