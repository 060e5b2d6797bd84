"""``copyalign notices`` and ``copyalign distribute``: the operator's side of the notice procedure and the
default licence, for a cron job or a person at a terminal (the server also closes due notices by itself)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from copyalign.cli.common import emit, handled, open_ca, operator, out
from copyalign.errors import InvalidInputError

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


def _when(raw: str, name: str) -> datetime:
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(f"{name} must be an ISO 8601 date-time, not {raw!r}", field=name) from None
    if t.tzinfo is None:
        raise InvalidInputError(f"{name} must carry a time zone (…Z or +08:00)", field=name)
    return t


@notices_app.command("report")
def report(
    ctx: typer.Context,
    notice: Annotated[str, typer.Argument(help="The finalised notice the use was under.")],
    revenue: Annotated[str, typer.Option(help="Revenue basis, a decimal in the notice's currency.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code of the notice's currency.")],
    period_start: Annotated[str, typer.Option(help="Start of the period reported, ISO 8601 with a zone.")],
    period_end: Annotated[str, typer.Option(help="End of the period reported (not in the future).")],
    from_scan: Annotated[
        Path | None, typer.Option("--from-scan", help="A scan's --out folder: measure the use from its manifest.")
    ] = None,
    feature_share: Annotated[
        str | None,
        typer.Option(help="Declared share of data features (0-1); with --from-scan, refused below the measured."),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="tokens, documents, images or bytes.")] = None,
    supersedes: Annotated[str | None, typer.Option(help="The unpaid report this one corrects.")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Report use under a notice. With --from-scan the lines and the share of data features are measured from the
    scan's manifest (proven by its log entry); without it the report is declared (no share given: all features)."""
    from copyalign.services.licensing.measured import ScanManifest
    from copyalign.services.licensing.royalties import UsageInput

    with handled(as_json):
        ca = open_ca(ctx)
        actor = operator(ca)
        inp = UsageInput(
            revenue=revenue,
            currency=currency,
            period_start=_when(period_start, "period_start"),
            period_end=_when(period_end, "period_end"),
            feature_share=feature_share,
            unit=unit,
            supersedes=supersedes,
        )
        if from_scan is not None:
            done = ca.licensing.report_from_scan(actor, notice, ScanManifest.from_dir(from_scan), inp)
        else:
            done = ca.licensing.report_usage(actor, notice, inp)
        if as_json:
            emit(done)
            return
        r, inv = done["report"], done["invoice"]
        measured = f" (measured {r['measured_share']} from scan {r['scan']['scan']})" if r["scan"] else " (declared)"
        out.print(
            f"{r['id']}: feature share {r['feature_share']}{measured}, {r['lines']} lines in {r['unit']}; invoice "
            f"{inv['id']} {inv['amount']} {inv['currency']} ({inv['status']}, {inv['procedure']} procedure)",
            highlight=False,
        )


@notices_app.command("overdue")
def overdue(
    ctx: typer.Context,
    remind: Annotated[bool, typer.Option("--remind", help="Also queue a reminder in each developer's outbox.")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Usage reports past their due date (seed 002 §3.2: periodic reports), oldest first."""
    with handled(as_json):
        ca = open_ca(ctx)
        op = operator(ca)
        late = ca.reporting.overdue(op)
        reminded = {r["subject"] for r in ca.reporting.remind(op)} if remind else set()
        for d in late:
            if as_json:
                emit({**d, "reminded": d["notice_id"] in reminded})
                continue
            out.print(
                f"{d['notice_id']}  {d['title']}  by {d['developer']['name']}: period {d['period'][0][:10]} to "
                f"{d['period'][1][:10]} due {d['due_at'][:10]}, {d['days_overdue']} days overdue"
                + ("; reminded" if d["notice_id"] in reminded else ""),
                highlight=False,
            )
        if not as_json and not late:
            out.print("no usage report is overdue", highlight=False)


@notices_app.command("simplified")
def simplified(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The simplified-procedure queue: invoices for de-minimis use (seed 003 §4.4 ③)."""
    with handled(as_json):
        ca = open_ca(ctx)
        for inv in ca.licensing.simplified_queue(operator(ca)):
            if as_json:
                emit(inv)
                continue
            out.print(
                f"{inv['id']}  notice {inv['notice_id']}  share {inv['feature_share']} ({inv['share_basis']})  "
                f"{inv['amount']} {inv['currency']}  queued {inv['queued_at'][:10]}, "
                f"decide within {inv['decide_within']}",
                highlight=False,
            )


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
