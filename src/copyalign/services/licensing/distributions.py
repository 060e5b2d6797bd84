"""Distributions and statements: the default licence's money on its way to rights holders.

A distribution takes every paid, not yet distributed invoice in one currency, keeps the profile's
``licensing.admin_share``, and allocates the rest to works by measured use, exactly to the minor unit
(:mod:`copyalign.core.licensing.distribution`); a holder's statement is the sum of its works' parts, and says per
distribution whether the reports behind it measured their feature share or declared it. The run, and each
holder's statement total, is a log entry. :class:`~copyalign.services.licensing.royalties.LicensingService`
exposes these as ``distribute``, ``statement`` and ``statement_csv``.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, require
from copyalign.core.canonical import format_time
from copyalign.core.licensing.distribution import Contribution, distribute
from copyalign.core.licensing.invoices import InvoiceStatus
from copyalign.core.licensing.notices import ListingStatus
from copyalign.core.money import Money, parse_currency
from copyalign.errors import ConflictError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.batching import in_batches
from copyalign.store.models import Allocation, DistributionRun, Invoice, NoticeWork, UsageLine, UsageReport, Work


def _measure(text: str) -> Decimal | int:
    """A stored measure: most are whole numbers (tokens, documents), which skip Decimal entirely."""
    return int(text) if text.isdigit() else Decimal(text)


def _lines_digest(lines: Sequence[tuple[str, int]]) -> str:
    """SHA-256 over ``id,minor_units\n`` lines in the given (sorted) order: what a statement's log entry
    commits to, recomputable from a downloaded statement with a one-line script."""
    h = hashlib.sha256()
    for key, units in lines:
        h.update(f"{key},{units}\n".encode())
    return h.hexdigest()


def run_distribution(svc: ServiceBase, actor: Principal, currency: str) -> dict[str, Any]:
    """Distribute every paid, undistributed invoice in ``currency``."""
    require(actor.role, Action.DISTRIBUTION_RUN, owner=False)
    currency = parse_currency(currency)
    admin_share = svc.policy.licensing.admin_share
    with svc.store.write() as s:
        invoices = list(
            s.execute(
                select(Invoice)
                .where(
                    Invoice.status == InvoiceStatus.PAID,
                    Invoice.distribution_id.is_(None),
                    Invoice.currency == currency,
                )
                .order_by(Invoice.id)
                .with_for_update()
            ).scalars()
        )
        if not invoices:
            raise ConflictError(f"no paid invoices in {currency} are waiting for distribution", field="currency")
        contributions = []
        holder_of: dict[str, str] = {}
        conn = s.connection()  # bulk reads through Core: a million rows as plain tuples
        for inv in invoices:
            report = s.get(UsageReport, inv.report_id)
            if report is None:  # a foreign key makes this impossible; say so rather than crash later
                raise NotFoundError(f"invoice {inv.id} refers to a missing report {inv.report_id}")
            lines = conn.execute(
                select(UsageLine.work_id, UsageLine.measure).where(UsageLine.report_id == report.id)
            ).all()
            measures: dict[str, Decimal | int] = {w: _measure(m) for w, m in lines}
            licensed: list[str] = []
            if not any(measures.values()):
                licensed = sorted(
                    conn.execute(
                        select(NoticeWork.work_id).where(
                            NoticeWork.notice_id == report.notice_id, NoticeWork.status == ListingStatus.LICENSED
                        )
                    ).scalars()
                )
            # the notice's rows carry each work's holder: one query per notice, not one per 900 works
            holder_of.update(
                conn.execute(
                    select(NoticeWork.work_id, NoticeWork.holder_id).where(NoticeWork.notice_id == report.notice_id)
                ).all()
            )
            contributions.append(
                Contribution(report.id, Money.from_minor(inv.amount_minor, currency), measures, licensed)
            )
        d = distribute(contributions, currency=currency, admin_share=admin_share, holder_of=holder_of)
        now = svc.clock.now()
        did = new_id("dst")
        per_holder_sorted = sorted(d.per_holder.items())
        events = [
            Event(
                "distribution.run",
                actor.party_id,
                did,
                {
                    "distribution": did,
                    "currency": currency,
                    "collected": d.money(d.collected).to_str(),
                    "admin": d.money(d.admin).to_str(),
                    "admin_share": format(admin_share, "f"),
                    "distributable": d.money(d.distributable).to_str(),
                    "invoices": [i.id for i in invoices],
                    "fallback_reports": d.fallback_reports,
                    "holders_sha256": _lines_digest(per_holder_sorted),
                },
            )
        ]
        works_of: dict[str, list[str]] = {}
        for w in d.per_work:
            works_of.setdefault(holder_of[w], []).append(w)
        events += [
            Event(
                "statement.issue",
                actor.party_id,
                holder,
                {
                    "distribution": did,
                    "holder": holder,
                    "amount": d.money(units).to_str(),
                    "currency": currency,
                    "works": len(works_of.get(holder, [])),
                    "lines_sha256": _lines_digest(sorted((w, d.per_work[w]) for w in works_of.get(holder, []))),
                },
            )
            for holder, units in per_holder_sorted
        ]
        receipts = svc.ledger.append(s, events, at=now)
        s.add(
            DistributionRun(
                id=did,
                currency=currency,
                collected_minor=d.collected,
                admin_minor=d.admin,
                distributable_minor=d.distributable,
                admin_share=format(admin_share, "f"),
                invoices=[i.id for i in invoices],
                fallback_reports=d.fallback_reports,
                created_at=now,
                log_index=receipts[0].index,
            )
        )
        s.flush()
        rows = [
            {"distribution_id": did, "work_id": w, "holder_id": holder_of[w], "amount_minor": u}
            for w, u in d.per_work.items()
        ]
        for i in range(0, len(rows), 50_000):
            conn.execute(insert(Allocation), rows[i : i + 50_000])
        for inv in invoices:
            inv.distribution_id = did
        return {
            "id": did,
            "currency": currency,
            "collected": d.money(d.collected).to_str(),
            "admin": d.money(d.admin).to_str(),
            "distributable": d.money(d.distributable).to_str(),
            "holders": len(d.per_holder),
            "works": len(d.per_work),
            "invoices": [i.id for i in invoices],
            "fallback_reports": d.fallback_reports,
            "log_index": receipts[0].index,
        }


# -- rights holders ----------------------------------------------------------------------------------


def holder_statement(
    svc: ServiceBase, actor: Principal, holder_id: str | None = None, distribution_id: str | None = None
) -> dict[str, Any]:
    """A holder's statement: its works' parts per distribution, and the totals."""
    holder = holder_id or actor.party_id
    require(actor.role, Action.STATEMENT_READ, owner=holder == actor.party_id)
    with svc.store.read() as s:
        q = (
            select(Allocation, Work.title, DistributionRun.currency, DistributionRun.created_at)
            .join(Work, Work.id == Allocation.work_id)
            .join(DistributionRun, DistributionRun.id == Allocation.distribution_id)
            .where(Allocation.holder_id == holder)
            .order_by(DistributionRun.created_at, Allocation.distribution_id, Allocation.work_id)
        )
        if distribution_id:
            q = q.where(Allocation.distribution_id == distribution_id)
        lines = []
        totals: dict[str, int] = {}
        for a, title, currency, created in s.execute(q).all():
            lines.append(
                {
                    "distribution_id": a.distribution_id,
                    "distributed_at": format_time(created),
                    "work_id": a.work_id,
                    "title": title,
                    "amount": Money.from_minor(a.amount_minor, currency).to_str(),
                    "currency": currency,
                }
            )
            totals[currency] = totals.get(currency, 0) + a.amount_minor
        count = s.execute(select(func.count()).select_from(DistributionRun)).scalar_one()
        bases = share_bases(s, sorted({str(line["distribution_id"]) for line in lines}))
    for line in lines:
        line["share_basis"] = bases.get(str(line["distribution_id"]), "declared")
    return {
        "holder_id": holder,
        "distributions_on_record": int(count),
        "totals": {c: Money.from_minor(u, c).to_str() for c, u in sorted(totals.items())},
        "share_basis": bases,
        "lines": lines,
    }


def share_bases(s: Session, distribution_ids: Sequence[str]) -> dict[str, str]:
    """Per distribution, whether the reports it paid out measured their feature share, declared it, or both
    (``declared and measured``): what a statement tells a holder about the figures behind its money."""
    out: dict[str, str] = {}
    for did in distribution_ids:
        run = s.get(DistributionRun, did)
        invoices = list(run.invoices) if run is not None else []
        found: set[str] = set()
        for part in in_batches(invoices):
            found.update(
                s.execute(
                    select(UsageReport.share_basis)
                    .join(Invoice, Invoice.report_id == UsageReport.id)
                    .where(Invoice.id.in_(part))
                ).scalars()
            )
        out[did] = " and ".join(sorted(found)) if found else "declared"
    return out


def statement_csv(statement: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = ("distribution_id", "distributed_at", "work_id", "title", "amount", "currency", "share_basis")
    w.writerow(keys)
    for line in statement["lines"]:
        w.writerow([line.get(k, "") for k in keys])
    return buf.getvalue()


__all__ = ["holder_statement", "run_distribution", "share_bases", "statement_csv"]
