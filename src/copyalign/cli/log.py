"""``copyalign log``: checkpoints, proofs, export and offline verification."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from copyalign.cli.common import emit, err, handled, open_ca, operator, out
from copyalign.errors import NotFoundError

app = typer.Typer(help="The transparency log: checkpoints, proofs, export, verify.", no_args_is_help=True)
proof = typer.Typer(help="Inclusion and consistency proofs.", no_args_is_help=True)
app.add_typer(proof, name="proof")

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line on stdout.")]


def _b64(items: list[bytes]) -> list[str]:
    return [base64.b64encode(b).decode() for b in items]


@app.command()
def checkpoint(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    """Sign a checkpoint now (if the log grew) and print the latest signed note."""
    with handled(as_json):
        cp = open_ca(ctx).ledger.checkpoint()
        if as_json:
            emit({"size": cp.size, "root": base64.b64encode(cp.root).decode(), "note": cp.note})
        else:
            out.print(cp.note, end="", highlight=False, markup=False)


@app.command()
def key(ctx: typer.Context) -> None:
    """Print the public verifier key, to publish and to pin when verifying."""
    with handled():
        print(open_ca(ctx).ledger.verifier_key)


@proof.command("inclusion")
def proof_inclusion(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help="Leaf index.")],
    size: Annotated[int | None, typer.Option(help="Signed tree size (default: latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    from copyalign.core.log import merkle

    with handled(as_json):
        ca = open_ca(ctx)
        cp = ca.ledger.checkpoint_at(size) if size is not None else ca.ledger.latest_checkpoint()
        if cp is None:
            raise NotFoundError("no checkpoint yet: run 'copyalign log checkpoint'")
        p = ca.ledger.inclusion_proof(index, cp.size)
        entry = ca.ledger.entries(index, index + 1)[0][1]
        merkle.verify_inclusion(merkle.leaf_hash(entry), index, cp.size, p, cp.root)
        obj = {"index": index, "size": cp.size, "proof": _b64(p), "entry": base64.b64encode(entry).decode()}
        emit(obj) if as_json else out.print_json(data=obj)


@proof.command("consistency")
def proof_consistency(
    ctx: typer.Context,
    first: Annotated[int, typer.Argument(help="Older signed tree size.")],
    second: Annotated[int, typer.Argument(help="Newer signed tree size.")],
    as_json: JsonOpt = False,
) -> None:
    from copyalign.core.log import merkle

    with handled(as_json):
        ca = open_ca(ctx)
        p = ca.ledger.consistency_proof(first, second)
        a, b = ca.ledger.checkpoint_at(first), ca.ledger.checkpoint_at(second)
        merkle.verify_consistency(first, second, a.root, b.root, p)
        obj = {"first": first, "second": second, "proof": _b64(p)}
        emit(obj) if as_json else out.print_json(data=obj)


@app.command()
def export(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="Bundle file to write (JSON Lines).")],
    as_json: JsonOpt = False,
) -> None:
    """Write entries, signed checkpoints and the verifier key to a bundle that verifies with no server."""
    from copyalign.services.log.bundle import export_bundle

    with handled(as_json):
        ca = open_ca(ctx)
        ca.ledger.checkpoint()
        tmp = path.with_name(path.name + ".partial")
        with tmp.open("w", encoding="utf-8") as fh:
            n = export_bundle(ca.ledger, fh)
        tmp.replace(path)
        emit({"path": str(path), "entries": n}) if as_json else out.print(f"wrote {n} entries to {path}")


@app.command()
def verify(
    ctx: typer.Context,
    bundle: Annotated[Path | None, typer.Argument(help="A bundle to verify offline (default: the database).")] = None,
    key: Annotated[str | None, typer.Option(help="Pin this verifier key instead of trusting the bundle's.")] = None,
    against: Annotated[Path | None, typer.Option(help="An earlier bundle you kept: detects a forked history.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check signatures, that no entry is missing or altered, and that entries hash to every signed root."""
    from copyalign.services.log.bundle import verify_bundle, verify_store

    with handled(as_json):
        if bundle is None:
            report = verify_store(open_ca(ctx).ledger)
        else:
            if key is None:
                err.print(
                    Text.assemble(("note:", "yellow"), " using the verifier key inside the bundle; pin it with --key")
                )
            report = verify_bundle(bundle, key=key, against=against)
        obj = {
            "ok": True,
            "entries": report.entries,
            "checkpoints": len(report.checkpoints),
            "root": base64.b64encode(report.root).decode(),
        }
        emit(obj) if as_json else out.print(
            f"ok: {report.entries} entries, {len(report.checkpoints)} signed checkpoints verified"
        )


@app.command()
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Show at most this many findings.", min=1)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Check every row the log speaks for against what its entries committed to (exit 1 on a divergence).

    Verifies the log first, then replays it: works (digest, title, holder, kind), parties and keys,
    preferences, notices, objections and exclusion lists, usage reports, invoices, payments, distributions
    and statements, guard terms, the blocklist and sealed traces; and every stored payload against its digest.
    """
    from copyalign.services.log.audit import audit_store

    with handled(as_json):
        ca = open_ca(ctx)
        report = audit_store(ca.ledger, role=operator(ca).role)
        if as_json:
            emit(report.to_dict(limit=limit))
        elif report.ok:
            out.print(f"ok: {report.entries} entries replayed, {report.rows} rows agree with the log", highlight=False)
        else:
            err.print(
                Text(
                    f"{len(report.findings)} divergence(s) between the database and its log; the first is at entry "
                    f"{report.first.index if report.first else '?'}:"
                )
            )
            for f in report.findings[:limit]:
                out.print(Text(f"  {f.message}"), highlight=False)
        if not report.ok:
            raise typer.Exit(1)


@app.command("prove-preference")
def prove_preference(
    ctx: typer.Context,
    work: Annotated[str, typer.Argument(help="Work id.")],
    at: Annotated[int | None, typer.Option("--at", help="Checkpoint size (default: latest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Inclusion proofs of the latest preference statements for WORK inside a signed checkpoint."""
    from copyalign.core.log import merkle
    from copyalign.core.log.checkpoint import open_note
    from copyalign.services.registry.preferences import prove_preferences

    with handled(as_json):
        ca = open_ca(ctx)
        cp = ca.ledger.checkpoint_at(at) if at is not None else ca.ledger.latest_checkpoint()
        if cp is None:
            raise NotFoundError("no checkpoint yet: run 'copyalign log checkpoint'")
        opened = open_note(cp.note.encode(), [ca.ledger.verifier()])
        proofs = prove_preferences(ca.preferences, operator(ca), work, cp.size)
        for p in proofs:
            merkle.verify_inclusion(merkle.leaf_hash(p.entry), p.index, cp.size, p.proof, opened.root)
        obj = {
            "work_id": work,
            "checkpoint": cp.note,
            "statements": [
                {
                    "purpose": p.statement.purpose.value,
                    "value": p.statement.value.value,
                    "scope": p.statement.scope.value,
                    "jurisdiction": p.statement.jurisdiction,
                    "index": p.statement.log_index,
                    "entry": p.entry.decode(),
                    "proof": _b64(p.proof),
                }
                for p in proofs
            ],
        }
        if as_json:
            emit(obj)
        elif not proofs:
            out.print(f"no preference for {work} is logged inside the checkpoint of size {cp.size}")
        else:
            for p in proofs:
                out.print(
                    f"{p.statement.scope.value} {p.statement.purpose.value} = {p.statement.value.value} "
                    f"logged at index {p.statement.log_index}, inside the checkpoint of size {cp.size} "
                    "(proof verified)",
                    highlight=False,
                )
