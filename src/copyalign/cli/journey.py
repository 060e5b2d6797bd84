"""``copyalign journey``: a provider's terms of use, its users' acceptances and standing, and user-trained models
(seed 004 ¶84, ¶26), acting as the registry's operator for the provider named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from copyalign.cli.common import emit, handled, open_ca, operator, out
from copyalign.errors import InvalidInputError

app = typer.Typer(
    help="Terms of use, users' standing and user-trained models (the user journey).", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
Provider = Annotated[str, typer.Option(help="The provider's party id.")]


def _show(obj: dict[str, Any], as_json: bool, line: str) -> None:
    if as_json:
        emit(obj)
    else:
        out.print(line, highlight=False)


@app.command("publish-terms")
def publish_terms(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="The version's name, e.g. 2026-03.")],
    provider: Provider,
    texts: Annotated[
        Path | None, typer.Option(help="A JSON file {language: text}; omitted: the profile's commitments.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Publish a version of a provider's terms of use (one log entry committing to the texts' digest)."""
    with handled(as_json):
        body: dict[str, str] | None = None
        if texts is not None:
            try:
                body = json.loads(texts.read_text("utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise InvalidInputError(f"cannot read {texts} as UTF-8 JSON: {exc}", field="texts") from exc
        ca = open_ca(ctx)
        v = ca.journey.publish_terms(operator(ca), version, texts=body, provider_id=provider).to_dict()
        _show(v, as_json, f"{v['version']}  {', '.join(v['texts'])}  log entry {v['log_index']}")


@app.command("terms")
def terms(ctx: typer.Context, provider: Provider, as_json: Json = False) -> None:
    """A provider's terms of use, oldest first (the last is current)."""
    with handled(as_json):
        ca = open_ca(ctx)
        for t in ca.journey.list_terms(operator(ca), provider):
            d = t.to_dict()
            _show(d, as_json, f"{d['version']}  {'current' if d['current'] else '       '}  {d['published_at']}")


@app.command("accept")
def accept(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="The terms version accepted.")],
    provider: Provider,
    users: Annotated[Path, typer.Option(help="A file with one user id per line.")],
    as_json: Json = False,
) -> None:
    """Record a batch of a provider's users who accepted a terms version (one log entry per batch)."""
    with handled(as_json):
        try:
            names = [line.strip() for line in users.read_text("utf-8").splitlines() if line.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read {users}: {exc}", field="users") from exc
        ca = open_ca(ctx)
        b = ca.journey.accept_terms(operator(ca), version, users=names, provider_id=provider).to_dict()
        b.pop("user_refs", None)
        _show(b, as_json, f"{b['batch']}  {b['new']} new of {b['users']}  users_sha256 {b['users_sha256']}")


@app.command("standing")
def standing(
    ctx: typer.Context,
    provider: Provider,
    user_ref: Annotated[str, typer.Option(help="The user's pseudonym (as traces show it).")],
    as_json: Json = False,
) -> None:
    """A user's standing: terms accepted and the dynamic warnings' level."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.journey.standing(operator(ca), user_ref=user_ref, provider_id=provider).to_dict()
        e = v["escalation"]
        line = f"{v['user']}  terms {v['terms']['accepted'] or '-'}  {e['response']}  {e['flags_in_window']} flag(s)"
        _show(v, as_json, line)


@app.command("register-model")
def register_model(
    ctx: typer.Context,
    training_set: Annotated[Path, typer.Argument(help="The folder of the user's training set.")],
    provider: Provider,
    name: Annotated[str, typer.Option(help="The user model's name.")],
    base_model: Annotated[str, typer.Option(help="The model it fine-tunes.")],
    user: Annotated[str, typer.Option(help="The provider's user who trains it.")],
    method: Annotated[str, typer.Option(help="lora or full.")] = "lora",
    as_json: Json = False,
) -> None:
    """Register a user model; its training set is scanned before training is allowed."""
    with handled(as_json):
        ca = open_ca(ctx)
        v = ca.journey.register_adapter(
            operator(ca),
            name=name,
            base_model=base_model,
            training_set=training_set,
            user=user,
            method=method,
            provider_id=provider,
        ).to_dict()
        f = v["findings"]
        line = (
            f"{v['id']}  {v['status']}  {f['items']} item(s): {f['unreadable']} unreadable, {f['opted_out']} opted "
            f"out, {f['unlicensed']} unlicensed, {f['characters']} character(s)  scan log entry "
            f"{v['provenance']['scan_log_entry']}"
        )
        _show(v, as_json, line)
        if v["status"] != "allowed":
            raise typer.Exit(11)


@app.command("models")
def models(ctx: typer.Context, provider: Provider, as_json: Json = False) -> None:
    """A provider's user models; one removed by a takedown measure is marked REMOVED."""
    with handled(as_json):
        ca = open_ca(ctx)
        for a in ca.journey.list_adapters(operator(ca), provider):
            d = a.to_dict()
            mark = "REMOVED" if d["removed"] else d["status"]
            _show(d, as_json, f"{d['id']}  {mark:8}  {d['name']}  on {d['base_model']}")
