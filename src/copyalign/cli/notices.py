"""``copyalign notices`` and ``copyalign distribute``: the operator's side of the notice procedure and the
default licence, for a cron job or a person at a terminal (the server also closes due notices by itself)."""

from __future__ import annotations

from typing import Annotated

import typer

from copyalign.cli.common import emit, handled, open_ca, operator, out

notices_app = typer.Typer(help="Training notices: the board, the close of objection windows.", no_args_is_help=True)


@notices_app.command("list")
def list_notices(
    ctx: typer.Context,
    status: Annotated[str, typer.Option(help="open or finalised")] = "open",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The public notice board."""
    with handled(as_json):
        ca = open_ca(ctx)
        for n in ca.notices.board(status):
            if as_json:
                emit(n.to_dict())
                continue
            closes = n.closes_at.isoformat() if n.closes_at else "-"
            out.print(
                f"{n.id}  {n.title}  {n.purpose}  by {n.developer_name}  closes {closes}  {_counts(n.counts)}",
                highlight=False,
            )


def _counts(counts: dict[str, int]) -> str:
    """``{'listed': 3, 'excluded': 8}`` as people write it: ``3 listed, 8 excluded`` (``no works`` when empty)."""
    return ", ".join(f"{v} {k}" for k, v in counts.items()) or "no works"


@notices_app.command("close-due")
def close_due(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Finalise every open notice whose objection window has closed (idempotent: safe to run from cron)."""
    with handled(as_json):
        ca = open_ca(ctx)
        done = ca.notices.close_due(operator(ca))
        if as_json:
            emit({"finalised": done})
        else:
            out.print(f"finalised {len(done)} notice(s)" + (": " + ", ".join(done) if done else ""), highlight=False)


def distribute(
    ctx: typer.Context,
    currency: Annotated[str, typer.Argument(help="ISO 4217 code of the invoices to distribute, e.g. CNY.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Distribute every paid, undistributed invoice in CURRENCY to rights holders by measured use."""
    with handled(as_json):
        ca = open_ca(ctx)
        result = ca.licensing.distribute(operator(ca), currency)
        if as_json:
            emit(result)
        else:
            out.print(
                f"{result['id']}: collected {result['collected']} {result['currency']}, admin {result['admin']}, "
                f"distributed {result['distributable']} to {result['holders']} holders over {result['works']} works",
                highlight=False,
            )
