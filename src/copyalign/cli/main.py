"""``copyalign``: the command line. Every command takes ``--json`` for one JSON object per line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.text import Text

from copyalign import __version__
from copyalign.cli import admin, audit, blobs, guard, journey, log, match, model, notices, scan, takedown, works
from copyalign.cli.common import State, emit, err, handled, operator, out, state
from copyalign.errors import CopyalignError

if TYPE_CHECKING:
    from copyalign.context import Copyalign

app = typer.Typer(
    name="copyalign",
    help="Copyright alignment for generative AI: a registry of works, AI-use preferences and a verifiable log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(works.app, name="works")
app.add_typer(admin.parties, name="parties")
app.add_typer(admin.keys, name="keys")
app.add_typer(admin.policy, name="policy")
app.add_typer(log.app, name="log")
app.add_typer(match.index_app, name="index")
app.command("match")(match.match)
app.add_typer(notices.notices_app, name="notices")
app.command("distribute")(notices.distribute)
app.command("scan")(scan.scan)
app.add_typer(scan.signals_app, name="signals")
app.add_typer(audit.app, name="audit")
app.add_typer(guard.guard_app, name="guard")
app.add_typer(blobs.app, name="blobs")
app.command("label")(guard.label)
app.command("trace")(guard.trace)
app.add_typer(takedown.app, name="takedown")
app.add_typer(journey.app, name="journey")
app.add_typer(model.app, name="model")
app.command("model-card")(model.card)


def _version(value: bool) -> None:
    if value:
        out.print(f"copyalign {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="Database URL (env COPYALIGN_DATABASE_URL).")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Blob and key directory (env COPYALIGN_DATA_DIR).")] = None,
    policy: Annotated[str | None, typer.Option(help="Policy preset or TOML file (env COPYALIGN_POLICY).")] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True)] = False,
) -> None:
    ctx.obj = State(db=db, data_dir=data_dir, policy=policy)


def _init(ctx: typer.Context, operator_name: str) -> tuple[Copyalign, str | None]:
    from copyalign.context import connect

    ca = connect(state(ctx).settings())
    op = ca.parties.operator()
    secret = None
    if op is None:
        party = ca.parties.create(None, name=operator_name, role="operator")
        secret = ca.parties.issue_key(None, party.id, label="created by init").secret
    ca.ledger.checkpoint()
    _c2pa_identity(ca, operator_name)
    return ca, secret


def _c2pa_identity(ca: Copyalign, organisation: str) -> None:
    """With the ``c2pa`` extra, the certificate that signs the guard's C2PA manifests (made once, offline)."""
    from copyalign.services.guard import c2pa

    if c2pa.available() and not (ca.settings.c2pa_dir / c2pa.CERT_FILE).exists():
        c2pa.make_signing_identity(ca.settings.c2pa_dir, organisation=organisation)


@app.command()
def init(
    ctx: typer.Context,
    operator_name: Annotated[
        str, typer.Option(help="Name of the operator (the CMO running the registry).")
    ] = "Registry operator",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create the database, the log signing key and the operator with its first API key (shown once)."""
    with handled(as_json):
        ca, secret = _init(ctx, operator_name)
        vkey = ca.ledger.verifier_key
        if as_json:
            emit(
                {
                    "database": ca.store.safe_url,
                    "operator_key": secret,
                    "verifier_key": vkey,
                    "initialised": secret is not None,
                }
            )
            return
        out.print(f"database      {ca.store.safe_url}")
        out.print(f"data dir      {ca.settings.data_dir}")
        out.print(f"verifier key  {vkey}")
        if (ca.settings.c2pa_dir / "c2pa-cert.pem").exists():
            out.print(f"c2pa signer   {ca.settings.c2pa_dir / 'c2pa-cert.pem'}")
        if secret:
            out.print(Text.assemble("operator key  ", (secret, "bold"), "  (shown once: keep it safe)"))
        else:
            out.print("already initialised; no new key issued")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Seed a small sample registry first.")] = False,
    workers: Annotated[
        int, typer.Option(help="Worker processes (0: one per CPU core). Each maps the same index files.", min=0)
    ] = 0,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs CPU under load).")] = False,
) -> None:
    """Serve the API (/v1, docs at /v1/docs) and the rights holders' portal (/)."""
    import signal

    import uvicorn

    from copyalign.server import check_port, cpu_cores, create_app, prepare_workers, settle_heap

    with handled():
        n = workers or cpu_cores()
        check_port(host, port)
        ca, secret = _init(ctx, "Registry operator")
        if secret:
            out.print(Text.assemble("operator key  ", (secret, "bold"), "  (shown once: keep it safe)"))
        if demo:
            from copyalign.cli.demo import seed

            reg = seed(ca, operator(ca))
            out.print(
                Text.assemble(
                    f"demo rights holder {reg.holder_id} with {reg.works} works; sign in with ", (reg.api_key, "bold")
                )
            )
        if n > 1:
            prepare_workers(ca)  # the index on disk, the settings exported, the scheduled work here
        else:
            app_ = create_app(ca)
            settle_heap()
        out.print(
            f"serving on http://{host}:{port}/  (API docs: http://{host}:{port}/v1/docs), "
            f"{n} worker process{'es' if n > 1 else ''}"
        )
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again for the handler it found: ours says
    # that a stop asked for is a clean exit (0), as a service manager expects, not a death by signal (-15)
    signal.signal(signal.SIGTERM, _stopped)
    try:
        if n > 1:
            uvicorn.run(
                "copyalign.server:worker_app",
                factory=True,
                host=host,
                port=port,
                workers=n,
                log_level="info",
                access_log=access_log,
            )
        else:
            uvicorn.run(app_, host=host, port=port, log_level="info", access_log=access_log)
    finally:
        ca.close()


def _stopped(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def main() -> None:
    try:
        app()
    except CopyalignError as exc:  # raised outside a command's own handler
        err.print(Text.assemble(("error:", "bold red"), " ", exc.message), highlight=False)
        raise SystemExit(1) from None


__all__ = ["app", "main"]
