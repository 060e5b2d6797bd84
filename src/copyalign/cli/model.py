"""``copyalign model``: declare a model's copyright record and print its card for deployers (seed 004 ¶56,
¶96(a)); ``copyalign model-card MODEL`` is the card. The card's claims are log entries: ``copyalign model verify``
checks a card against an exported log bundle, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from copyalign.cli.common import emit, handled, open_ca, operator, out

app = typer.Typer(help="Models' copyright records for deployers: declare, card, verify.", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


@app.command("declare")
def declare(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model's name, e.g. org/model-7b.")],
    developer: Annotated[str, typer.Option(help="The developer's party id.")],
    scan: Annotated[list[str] | None, typer.Option(help="A scan id (repeatable).")] = None,
    notice: Annotated[list[str] | None, typer.Option(help="A training notice id (repeatable).")] = None,
    audit: Annotated[list[str] | None, typer.Option(help="An audit id (repeatable).")] = None,
    provider: Annotated[list[str] | None, typer.Option(help="A provider that deploys it (repeatable).")] = None,
    sha256: Annotated[str | None, typer.Option(help="The weights' SHA-256.")] = None,
    license: Annotated[str | None, typer.Option(help="The licence (Hugging Face metadata).")] = None,  # noqa: A002
    as_json: Json = False,
) -> None:
    """Declare a model and what its copyright record is made of (one log entry)."""
    with handled(as_json):
        ca = open_ca(ctx)
        d = ca.modelcards.declare(
            operator(ca),
            name,
            developer_id=developer,
            sha256=sha256,
            scans=scan or [],
            notices=notice or [],
            audits=audit or [],
            providers=provider or [],
            license=license,
        )
        if as_json:
            emit(d)
        else:
            out.print(f"{d['model']}  version {d['version']}  log entry {d['log_index']}", highlight=False)


@app.command("card")
def card(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The declared model's name.")],
    fmt: Annotated[str, typer.Option("--format", help="markdown (Hugging Face model card) or json.")] = "markdown",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the card here instead of stdout.")] = None,
    as_json: Json = False,
) -> None:
    """The model's copyright record, every claim linked to its log entry."""
    with handled(as_json):
        ca = open_ca(ctx)
        if fmt not in ("markdown", "json"):
            from copyalign.errors import InvalidInputError

            raise InvalidInputError(f"--format must be markdown or json, not {fmt!r}", field="format")
        if fmt == "json" or as_json:
            text = json.dumps(ca.modelcards.card(operator(ca), name), ensure_ascii=False, indent=None if as_json else 2)
        else:
            text = ca.modelcards.markdown(operator(ca), name)
        if out_file is not None:
            tmp = out_file.with_name(out_file.name + ".partial")
            tmp.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
            tmp.replace(out_file)
        else:
            typer.echo(text)


@app.command("verify")
def verify(
    ctx: typer.Context,
    card_file: Annotated[Path, typer.Argument(help="The card as JSON (model card --format json).")],
    bundle: Annotated[Path, typer.Option(help="The log bundle (copyalign log export).")],
    key: Annotated[str | None, typer.Option(help="The log's verifier key to pin.")] = None,
    as_json: Json = False,
) -> None:
    """Check a card against an exported log bundle, offline; exits 1 when a claim does not hold."""
    with handled(as_json):
        ca = open_ca(ctx)
        report = ca.modelcards.verify(card_file, bundle, key=key)
        if as_json:
            emit(report)
        else:
            out.print(f"{report['model']}: {report['claims']} claim(s), verified={report['verified']}", highlight=False)
            for p in report["problems"]:
                out.print(f"  {p}", highlight=False)
        if not report["verified"]:
            raise typer.Exit(1)
