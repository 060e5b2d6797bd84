"""``copyalign parties``, ``copyalign keys`` and ``copyalign policy``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from copyalign.cli.common import emit, handled, open_ca, operator, out
from copyalign.policy import PRESETS

parties = typer.Typer(help="Parties: rights holders, developers, providers, auditors.", no_args_is_help=True)
keys = typer.Typer(help="API keys: issue and revoke.", no_args_is_help=True)
policy = typer.Typer(help="Policy profiles: presets and operator files.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="One JSON object per line on stdout.")]


@parties.command("add")
def party_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The party's name.")],
    role: Annotated[str, typer.Option(help="rights_holder, developer, provider, auditor or operator.")],
    email: Annotated[str | None, typer.Option(help="Contact address.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a party and its first API key (shown once)."""
    with handled(as_json):
        ca = open_ca(ctx)
        op = operator(ca)
        party = ca.parties.create(op, name=name, role=role, email=email)
        key = ca.parties.issue_key(op, party.id, label="first key")
        if as_json:
            emit(
                {
                    "id": party.id,
                    "name": party.name,
                    "role": party.role.value,
                    "api_key": key.secret,
                    "log_index": party.receipt.index if party.receipt else None,
                }
            )
        else:
            out.print(
                Text.assemble(
                    f"created {party.id} ({party.role.value}); API key ", (key.secret, "bold"), " (shown once)"
                ),
                highlight=False,
            )


@parties.command("list")
def party_list(ctx: typer.Context, as_json: JsonOpt = False) -> None:
    from rich.table import Table

    with handled(as_json):
        ca = open_ca(ctx)
        rows = ca.parties.list(operator(ca))
        if as_json:
            for p in rows:
                emit({"id": p.id, "name": p.name, "role": p.role.value})
            return
        table = Table("id", "role", "name")
        for p in rows:
            table.add_row(p.id, p.role.value, p.name)
        out.print(table)


@keys.command("issue")
def key_issue(
    ctx: typer.Context,
    party: Annotated[str, typer.Argument(help="Party id.")],
    label: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
    as_json: JsonOpt = False,
) -> None:
    with handled(as_json):
        ca = open_ca(ctx)
        key = ca.parties.issue_key(operator(ca), party, label=label)
        if as_json:
            emit({"key_id": key.key_id, "party_id": key.party_id, "api_key": key.secret})
        else:
            out.print(Text.assemble(f"{key.key_id}: ", (key.secret, "bold"), " (shown once)"), highlight=False)


@keys.command("revoke")
def key_revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Key id (key_…).")],
    as_json: JsonOpt = False,
) -> None:
    with handled(as_json):
        ca = open_ca(ctx)
        receipt = ca.parties.revoke_key(operator(ca), key_id)
        if as_json:
            emit({"key_id": key_id, "revoked": True, "log_index": receipt.index})
        else:
            out.print(f"revoked {key_id}", highlight=False)


@policy.command("show")
def policy_show(
    name: Annotated[str, typer.Argument(help=f"A preset ({', '.join(PRESETS)}) or a TOML file.")] = "cn",
    as_json: JsonOpt = False,
) -> None:
    """Print a profile's settings with their legal sources."""
    from rich.table import Table

    from copyalign.core.policy import settings_table
    from copyalign.policy import load_policy

    with handled(as_json):
        prof = load_policy(name)
        departures = [d.to_dict() for d in prof.departures()]
        if as_json:
            emit({**prof.model_dump(mode="json"), "over_preset": prof.over_preset, "departures": departures})
            return
        out.print(
            Text.assemble((prof.profile.name, "bold"), f" ({prof.profile.jurisdiction}): {prof.profile.rule}"),
            highlight=False,
        )
        out.print(f"source: {prof.profile.source}", highlight=False)
        if prof.over_preset:
            out.print(f"read over the {prof.over_preset} preset: every setting the file omits is the preset's")
        dumped = prof.model_dump(mode="json")
        table = Table("setting", "value", "source")
        for key, _default, _doc, source in settings_table():
            section, _, field = key.partition(".")
            if section in ("profile", "floors", "overrides"):
                continue
            table.add_row(key, str(dumped[section][field]), source)
        out.print(table)
        floors = Table("legal floor", "bound", "source", title=f"floors of {prof.profile.jurisdiction}")
        for setting, floor in sorted(prof.floors.items()):
            floors.add_row(setting, floor.describe(), floor.source)
        out.print(floors if prof.floors else "no legal floor bounds these settings in this jurisdiction")
        for d in departures:
            out.print(
                Text.assemble(
                    ("OVERRIDE", "bold red"),
                    f" {d['setting']} = {d['value']} departs from the floor ({d['floor']}; {d['source']}): "
                    f"{d['reason']}",
                ),
                highlight=False,
            )


@policy.command("validate")
def policy_validate(path: Annotated[str, typer.Argument(help="A TOML profile.")], as_json: JsonOpt = False) -> None:
    """Check a profile file; exits 1 naming the key at fault."""
    from copyalign.policy import load_policy

    with handled(as_json):
        prof = load_policy(path)
        overrides = [d.to_dict() for d in prof.departures()]
        if as_json:
            emit({"valid": True, "name": prof.profile.name, "over_preset": prof.over_preset, "overrides": overrides})
        else:
            note = f", read over the {prof.over_preset} preset" if prof.over_preset else ""
            out.print(f"{path}: valid ({prof.profile.name}, {prof.profile.jurisdiction}{note})", highlight=False)
            for d in overrides:
                out.print(f"override: {d['setting']} = {d['value']} ({d['floor']}): {d['reason']}", highlight=False)


@policy.command("docs")
def policy_docs() -> None:
    """Print the settings reference (docs/policy.md) generated from the profile model."""
    from copyalign.policy import docs_markdown

    print(docs_markdown(), end="")
