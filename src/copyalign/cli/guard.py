"""``copyalign guard``, ``copyalign label`` and ``copyalign trace``: the deployment guard from a shell.

For providers trying the guard out and for scripts. Each command acts as a provider: the one named with
``--provider``, else the registry's operator (who may act for any provider).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.text import Text

from copyalign.cli.common import emit, handled, open_ca, operator, out
from copyalign.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from copyalign.context import Copyalign
    from copyalign.services.guard.results import Verdict
    from copyalign.services.registry.parties import Principal

guard_app = typer.Typer(
    help="Screen prompts and outputs; curate the term base and the blocklist.", no_args_is_help=True
)
term_app = typer.Typer(help="The prompt filter's curated terms.", no_args_is_help=True)
guard_app.add_typer(term_app, name="term")

ProviderOpt = Annotated[str | None, typer.Option("--provider", help="Act as this provider (party id).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")]
_COLOUR = {"allow": "green", "warn": "yellow", "block": "bold red"}
#: ``guard prompt`` and ``guard output`` exit with the decision, so that a script can branch on it without
#: parsing: 0 allow, 10 warn, 11 block (1 stays "the command failed", 2 "bad usage", as everywhere else).
EXIT_CODES = {"allow": 0, "warn": 10, "block": 11}


def _actor(ca: Copyalign, provider: str | None) -> Principal:
    from copyalign.core.authz import Role
    from copyalign.services.registry.parties import Principal

    op = operator(ca)
    if provider is None:
        return op
    party = ca.parties.get(op, provider)
    if party.role != Role.PROVIDER.value:
        raise InvalidInputError(f"party {provider} is a {party.role}, not a provider", field="provider")
    return Principal(party.id, Role.PROVIDER, party.name)


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    if not path.is_file():
        raise NotFoundError(f"no file {path}", field="file")
    return path.read_bytes()


def _show(v: Verdict) -> None:
    out.print(Text.assemble((v.decision.value, _COLOUR[v.decision.value]), f"  {v.stage} ({v.kind})"))
    for r in v.reasons:
        what = ", ".join(r.titles) or ", ".join(r.refs) or "-"
        detail = {k: val for k, val in r.evidence.items() if k in ("match", "chars", "score", "intent", "distance")}
        out.print(
            f"  {r.action.value:5}  {r.rule:22} {what}  {json.dumps(detail, ensure_ascii=False)}", highlight=False
        )


def _decided(v: Verdict, as_json: bool) -> None:
    """Print the verdict, then exit with its decision's code (:data:`EXIT_CODES`)."""
    emit(v.to_dict()) if as_json else _show(v)
    raise typer.Exit(EXIT_CODES[v.decision.value])


@guard_app.command("prompt")
def guard_prompt(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The prompt ('-' reads it from stdin).")],
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Screen a prompt: allow, warn or block, with the works, the rule and the evidence.

    Exits 0 on allow, 10 on warn, 11 on block (1 on an error).
    """
    with handled(as_json):
        ca = open_ca(ctx)
        prompt = sys.stdin.read() if text == "-" else text
        v = ca.guard.check_prompt(_actor(ca, provider), prompt)
    _decided(v, as_json)


@guard_app.command("output")
def guard_output(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The output: a text or image file ('-' for stdin).")],
    kind: Annotated[str | None, typer.Option(help="text or image (default: from the file's bytes).")] = None,
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Screen an output against the registry and the provider's blocklist.

    Exits 0 on allow, 10 on warn, 11 on block (1 on an error).
    """
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.guard.check_output(_actor(ca, provider), _read(file), kind=kind)
    _decided(v, as_json)


@guard_app.command("block")
def guard_block(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The output a takedown marked.")],
    reason: Annotated[str, typer.Option(help="Why (e.g. the notice it answers).")],
    provider: Annotated[str, typer.Option("--provider", help="Whose blocklist (party id).")],
    source: Annotated[str | None, typer.Option(help="The notice or case id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an output to a provider's blocklist: it and its near copies are blocked from then on."""
    with handled(as_json):
        ca = open_ca(ctx)
        view = ca.guard.block_output(operator(ca), _read(file), reason=reason, source=source, provider_id=provider)
        emit(view.to_dict()) if as_json else out.print(f"blocked {view.id} ({view.kind}, {view.sha256[:16]})")


@guard_app.command("seal")
def guard_seal(ctx: typer.Context, provider: ProviderOpt = None, as_json: JsonOpt = False) -> None:
    """Commit the unsealed generation traces to the log now."""
    with handled(as_json):
        ca = open_ca(ctx)
        index = ca.guard.seal(_actor(ca, provider))
        emit({"log_index": index}) if as_json else out.print(
            "nothing to seal" if index is None else f"sealed in log entry {index}"
        )


@term_app.command("add")
def term_add(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="character, creator, title or other.")],
    names: Annotated[list[str], typer.Argument(help="The name, then aliases and translations.")],
    work: Annotated[list[str] | None, typer.Option("--work", help="A work the term belongs to (repeatable).")] = None,
    holder: Annotated[str | None, typer.Option(help="The rights holder the term protects.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a term to the prompt filter (a character, a creator who asked for protection, a title's aliases)."""
    with handled(as_json):
        ca = open_ca(ctx)
        view = ca.guard.add_term(operator(ca), kind=kind, names=names, work_ids=work or [], holder_id=holder)
        emit(view.to_dict()) if as_json else out.print(f"{view.id}  {view.kind}  {' | '.join(view.names)}")


@term_app.command("list")
def term_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """The curated terms (registry titles are added automatically and not listed)."""
    with handled(as_json):
        ca = open_ca(ctx)
        views = ca.guard.terms(operator(ca))
        if as_json:
            emit({"terms": [v.to_dict() for v in views]})
            return
        for v in views:
            out.print(f"{v.id}  {v.kind:9}  {' | '.join(v.names)}")


@term_app.command("revoke")
def term_revoke(ctx: typer.Context, term_id: str, as_json: JsonOpt = False) -> None:
    with handled(as_json):
        ca = open_ca(ctx)
        view = ca.guard.revoke_term(operator(ca), term_id)
        emit(view.to_dict()) if as_json else out.print(f"revoked {view.id}")


def label(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A generated text or image.")],
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the labelled file.")],
    prompt: Annotated[str | None, typer.Option(help="The prompt it was generated from (screened too).")] = None,
    user: Annotated[str, typer.Option(help="The end user (kept as a pseudonym).")] = "",
    model: Annotated[str, typer.Option(help="The model that generated it.")] = "",
    provider: ProviderOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Screen, label (visible + GB 45438 metadata + C2PA), watermark and trace a generated output.

    Exits 1 without writing when the guard blocks it.
    """
    with handled(as_json):
        ca = open_ca(ctx)
        d = ca.guard.deliver(_actor(ca, provider), _read(file), prompt=prompt, user=user, model=model)
        if d.content is None:
            if as_json:
                emit(d.to_dict())
            else:
                out.print(Text.assemble(("blocked", "bold red"), f": {d.notice}  (trace {d.trace_id})"))
                for v in d.verdicts:
                    _show(v)
            raise typer.Exit(1)
        out_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_file.with_name(out_file.name + ".part")
        tmp.write_bytes(d.content)
        tmp.replace(out_file)
        if as_json:
            emit({**d.to_dict(), "out": str(out_file)})
            return
        marks = ", ".join(k for k, v in d.marks.items() if v)
        out.print(
            Text.assemble((d.decision.value, _COLOUR[d.decision.value]), f"  {out_file}  trace {d.trace_id}  ({marks})")
        )
        if d.notice:
            out.print(f"  notice: {d.notice}")


def trace(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A labelled or watermarked output ('-' for stdin).")],
    as_json: JsonOpt = False,
) -> None:
    """Read a file's labels and watermark and show the generation session it came from."""
    with handled(as_json):
        ca = open_ca(ctx)
        found = ca.guard.trace_content(operator(ca), _read(file))
        if as_json:
            emit(found.to_dict())
        else:
            _show_lookup(found.to_dict())
        if found.trace is None:
            raise typer.Exit(1)


def _show_lookup(d: dict[str, Any]) -> None:
    out.print(Text.assemble("trace     ", d["trace_id"] or ("none found", "red")))
    for how, tid in d["found"].items():
        out.print(f"  {how:9} {tid}")
    if d["aigc"]:
        out.print(f"aigc      {json.dumps(d['aigc'], ensure_ascii=False)}  authentic={d['aigc_authentic']}")
    if d["c2pa"]:
        out.print(f"c2pa      {json.dumps(d['c2pa'], ensure_ascii=False, default=str)[:300]}")
    if d["watermark"]:
        out.print(f"watermark {json.dumps(d['watermark'])}")
    t = d["trace"]
    notice = d.get("copyright_notice") or (t or {}).get("copyright_notice") or {}
    for lang, text in notice.items():  # the disclaimer the output carried (seed 004 ¶80(c))
        out.print(Text(f"rights    [{lang}] {text}"))
    if t:
        out.print(f"session   provider {t['provider_id']}  user {t['user'] or '-'}  at {t['created_at']}")
        out.print(f"          model {t['model'] or '-'}  decision {t['decision']}  sealed {t['sealed_in_log_entry']}")
    for n in d["notes"]:
        out.print(Text(f"note: {n}", style="dim"))
