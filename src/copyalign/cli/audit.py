"""``copyalign audit``: memorisation audits of trained models, canaries, and the regression gate for CI.

Exit status: 0 when the audit ran (and the gate, if any, passed); 1 for an error (nothing is reported as
complete); 3 when the regression gate failed (the report is written and logged all the same).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from copyalign.cli.common import emit, err, handled, open_ca, operator, out
from copyalign.errors import InvalidInputError

if TYPE_CHECKING:
    from rich.progress import TaskID

GATE_FAILED = 3

app = typer.Typer(
    help="Memorisation audits of trained models: probes, canaries, membership, gates.", no_args_is_help=True
)
canaries_app = typer.Typer(
    help="Canaries to plant in training data, and their exposure afterwards.", no_args_is_help=True
)
app.add_typer(canaries_app, name="canaries")

WORKS_HELP = "all, sample:N (stratified by holder and length), denied (owners deny the use), @FILE of ids, or ID,ID"


@app.command("run")
def run(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help="Local HuggingFace causal LM folder (config, weights, tokenizer).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Report folder (report.json, report.html, audit.json).")],
    works: Annotated[str, typer.Option(help=WORKS_HELP)] = "all",
    baseline: Annotated[Path | None, typer.Option(help="A previous report.json: exit 3 if memorisation grew.")] = None,
    nonmembers: Annotated[
        Path | None, typer.Option(help="Texts the model never saw (folder of .txt or JSONL): membership, controls.")
    ] = None,
    canaries: Annotated[Path | None, typer.Option(help="canaries.json from 'audit canaries make'.")] = None,
    block: Annotated[bool, typer.Option("--block", help="Evaluate the MemFree blocker on the denied works.")] = False,
    prefix: Annotated[int | None, typer.Option(help="Prefix tokens (policy default 50).")] = None,
    suffix: Annotated[int | None, typer.Option(help="Suffix tokens (policy default 50).")] = None,
    stride: Annotated[int | None, typer.Option(help="Tokens between windows (policy default 50).")] = None,
    max_windows: Annotated[int | None, typer.Option(help="Most windows per work (policy default 64).")] = None,
    developer: Annotated[str | None, typer.Option(help="Developer whose model this is.")] = None,
    device: Annotated[str, typer.Option(help="cpu, or cuda when a GPU is available.")] = "cpu",
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch (default: torch's choice).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: the audit's outcome.")] = False,
) -> None:
    """Probe MODEL for memorised registered works; write and log the report; gate against a baseline."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with handled(as_json):
        ca = open_ca(ctx)
        actor = operator(ca)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, disable=as_json, transient=False) as bar:
            tasks: dict[str, TaskID] = {}

            def tick(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(f"{stage:>10}", total=total)
                bar.update(tasks[stage], completed=done, total=total)

            result = ca.audit.run(
                actor,
                model,
                out_dir,
                works=works,
                developer_id=developer,
                baseline=baseline,
                nonmembers=nonmembers,
                canaries=canaries,
                block=block,
                prefix=prefix,
                suffix=suffix,
                stride=stride,
                max_windows=max_windows,
                device=device,
                threads=threads,
                progress=tick,
            )
    if as_json:
        emit(result.to_dict())
    else:
        s = result.summary
        out.print(
            f"{s['works']} works, {s['windows']} windows: {s['extraction_rate']:.1%} extracted verbatim "
            f"(from {s['works_extracted']} of the works)"
            + (f", {s['discoverable_rate']:.1%} discoverable" if s["discoverable_rate"] is not None else ""),
            highlight=False,
        )
        if s["canaries_memorised"] is not None:
            reps = ", ".join(str(r) for r in s["canaries_memorised"]) or "none"
            out.print(f"canaries memorised at repetition counts: {reps}", highlight=False)
        if s["membership"]:
            out.print(f"membership: {s['membership']}", highlight=False)
        if s["takedown"]:
            out.print(f"decoding-time blocking: {s['takedown']}", highlight=False)
        out.print(
            f"report {result.out / 'report.html'} (sha256 {result.report_sha256}); log entry {result.log_index}",
            highlight=False,
        )
        if result.gate_passed is not None:
            out.print(f"regression gate: {'passed' if result.gate_passed else 'FAILED'}", highlight=False)
    if result.gate_passed is False:
        raise typer.Exit(GATE_FAILED)


def _buckets(raw: str) -> list[int]:
    try:
        return [int(x) for x in raw.split(",") if x.strip()]
    except ValueError:
        raise InvalidInputError(
            f"buckets are comma-separated repetition counts, not {raw!r}", field="buckets"
        ) from None


@canaries_app.command("make")
def make(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for canaries.json (secret) and inserts.jsonl.")],
    buckets: Annotated[str, typer.Option(help="Repetition counts; 0 makes controls never inserted.")] = "0,1,4,16,64",
    per_bucket: Annotated[int, typer.Option(help="Canaries per repetition count.")] = 4,
    fmt: Annotated[str | None, typer.Option("--format", help="Text with {prefix}, ending in {secret}.")] = None,
    alphabet: Annotated[str, typer.Option(help="digits, hex, letters, or the characters themselves.")] = "digits",
    length: Annotated[int, typer.Option(help="Characters of a secret.")] = 6,
    seed: Annotated[str | None, typer.Option(help="Secret seed as hex (default: random).")] = None,
    tokenizer: Annotated[
        Path | None, typer.Option(help="Model folder whose tokenizer the secrets must survive.")
    ] = None,
    developer: Annotated[str | None, typer.Option(help="Developer the canaries are for.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Generate canaries to plant in training data; their digest is entered in the log."""
    with handled(as_json):
        try:
            seed_bytes = bytes.fromhex(seed) if seed is not None else None
        except ValueError:
            raise InvalidInputError("the seed must be hexadecimal", field="seed") from None
        ca = open_ca(ctx)
        made = ca.audit.make_canaries(
            operator(ca),
            out_dir,
            developer_id=developer,
            buckets=_buckets(buckets),
            per_bucket=per_bucket,
            fmt=fmt,
            alphabet=alphabet,
            length=length,
            seed=seed_bytes,
            tokenizer=tokenizer,
        )
    if as_json:
        emit(made.to_dict())
        return
    out.print(
        f"{made.summary['canaries']} canaries ({made.summary['insertions']} lines to insert: "
        f"{out_dir / 'inserts.jsonl'}); set {made.set_id}, sha256 {made.sha256}, log entry {made.log_index}",
        highlight=False,
    )
    out.print(f"keep {made.path} secret until the model is audited", highlight=False)


@canaries_app.command("test")
def test(
    ctx: typer.Context,
    model: Annotated[Path, typer.Argument(help="Local HuggingFace causal LM folder.")],
    canaries: Annotated[Path, typer.Option(help="canaries.json from 'audit canaries make'.")],
    developer: Annotated[str | None, typer.Option(help="Developer whose model this is.")] = None,
    device: Annotated[str, typer.Option(help="cpu, or cuda when a GPU is available.")] = "cpu",
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch (default: torch's choice).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Each canary's exposure under MODEL, and the repetition counts the model memorised."""
    with handled(as_json):
        ca = open_ca(ctx)
        result = ca.audit.test_canaries(
            operator(ca), model, canaries, developer_id=developer, device=device, threads=threads
        )
    if as_json:
        emit(result.to_dict())
        return
    for b in result.summary["by_bucket"]:
        flag = "memorised" if b["bucket_memorised"] else "not memorised"
        out.print(
            f"{b['repetitions']:>6}x  {b['memorised']}/{b['canaries']} canaries over the threshold, median exposure "
            f"{b['exposure_median']:.2f} bits: {flag}",
            highlight=False,
        )
    out.print(f"threshold {result.summary['threshold_bits']:.2f} bits; log entry {result.log_index}", highlight=False)
