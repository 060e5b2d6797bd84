"""The default licence's money: usage reports, invoices, payments, distributions and statements.

A developer reports its use under a *finalised* notice: per licensed work the measure the tariff's
arithmetic distributes by (tokens, documents, images, bytes or a share of the training mix), the revenue
basis and the share of data features used. The fee is the tariff's (:func:`copyalign.core.licensing.tariffs.quote`),
an invoice is issued, and the operator records the payment. Reports are immutable: a correction is a new
report that names the one it supersedes, allowed while the old invoice is unpaid (its invoice is voided).

A distribution takes every paid, not yet distributed invoice in one currency, keeps the profile's
``licensing.admin_share``, and allocates the rest to works by measured use, exactly to the minor unit
(:mod:`copyalign.core.licensing.distribution`); a holder's statement is the sum of its works' parts. The run, and each
holder's statement total, is a log entry.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import canonical, format_time
from copyalign.core.licensing.distribution import Contribution, distribute
from copyalign.core.licensing.tariffs import Use, quote
from copyalign.core.money import Money, parse_currency, parse_decimal
from copyalign.errors import ConflictError, CurrencyMismatchError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.models import (
    Allocation,
    DistributionRun,
    Invoice,
    Notice,
    NoticeWork,
    Payment,
    UsageLine,
    UsageReport,
    Work,
)

UNITS = ("tokens", "documents", "images", "bytes", "share")
MAX_LINES = 1_000_000


@dataclass(frozen=True, slots=True)
class UsageInput:
    revenue: str  # a decimal string in the notice's currency
    currency: str
    period_start: datetime
    period_end: datetime
    feature_share: str = "0"
    unit: str = "tokens"
    lines: Sequence[tuple[str, str]] = ()  # (work id, measure); empty: the equal-split fallback
    supersedes: str | None = None


def _invoice_dict(inv: Invoice) -> dict[str, Any]:
    return {
        "id": inv.id,
        "report_id": inv.report_id,
        "developer_id": inv.developer_id,
        "amount": Money.from_minor(inv.amount_minor, inv.currency).to_str(),
        "currency": inv.currency,
        "status": inv.status,
        "issued_at": format_time(inv.issued_at),
        "paid_at": format_time(inv.paid_at) if inv.paid_at else None,
        "distribution_id": inv.distribution_id,
        "log_index": inv.log_index,
    }


def _report_dict(r: UsageReport, lines: int) -> dict[str, Any]:
    return {
        "id": r.id,
        "notice_id": r.notice_id,
        "developer_id": r.developer_id,
        "supersedes": r.supersedes_id,
        "period": [format_time(r.period_start), format_time(r.period_end)],
        "revenue": Money.from_minor(r.revenue_minor, r.currency).to_str(),
        "currency": r.currency,
        "feature_share": r.feature_share,
        "unit": r.unit,
        "lines": lines,
        "quote": r.quote,
        "submitted_at": format_time(r.submitted_at),
        "log_index": r.log_index,
    }


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


class LicensingService(ServiceBase):
    # -- developer ---------------------------------------------------------------------------------------
    def report_usage(self, actor: Principal, notice_id: str, inp: UsageInput) -> dict[str, Any]:
        """Submit a usage report; returns the report with its fee quote and the invoice issued for it."""
        unit = inp.unit
        if unit not in UNITS:
            raise InvalidInputError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}", field="unit")
        currency = parse_currency(inp.currency)
        revenue = Money(parse_decimal(inp.revenue, "revenue"), currency)
        if revenue.rounded() != revenue:
            raise InvalidInputError(f"revenue has more decimals than {currency} has minor units", field="revenue")
        share = parse_decimal(inp.feature_share, "feature_share")
        if share > 1:
            raise InvalidInputError(f"feature_share is a fraction between 0 and 1, not {share}", field="feature_share")
        for t in (inp.period_start, inp.period_end):
            if t.tzinfo is None:
                raise InvalidInputError("period times must carry a time zone", field="period")
        if inp.period_end <= inp.period_start:
            raise InvalidInputError("the period must end after it starts", field="period")
        if len(inp.lines) > MAX_LINES:
            raise InvalidInputError(f"a report has at most {MAX_LINES} lines", field="lines")
        measures: dict[str, Decimal] = {}
        for i, (work, measure) in enumerate(inp.lines):
            if work in measures:
                raise InvalidInputError(f"line {i + 1}: work {work} is reported twice", field="lines")
            measures[work] = parse_decimal(measure, f"lines[{i}].measure")
        with self.store.write() as s:
            notice = s.execute(select(Notice).where(Notice.id == notice_id).with_for_update()).scalar_one_or_none()
            if notice is None:
                raise NotFoundError(f"no notice {notice_id}", field="notice_id")
            require(actor.role, Action.USAGE_REPORT, owner=notice.developer_id == actor.party_id)
            if notice.status != "finalised":
                raise ConflictError(
                    f"notice {notice_id} is {notice.status}: usage is reported only under a finalised notice",
                    field="notice_id",
                )
            if currency != notice.currency:
                raise CurrencyMismatchError(
                    f"notice {notice_id} is paid in {notice.currency}, not {currency}", field="currency"
                )
            licensed = set(
                s.execute(
                    select(NoticeWork.work_id).where(NoticeWork.notice_id == notice_id, NoticeWork.status == "licensed")
                ).scalars()
            )
            if not licensed:
                raise ConflictError(
                    f"notice {notice_id} licensed no work: there is no use to report", field="notice_id"
                )
            outside = [w for w in measures if w not in licensed]
            if outside:
                raise InvalidInputError(f"work {outside[0]} is not licensed under notice {notice_id}", field="lines")
            old_invoice = None
            if inp.supersedes:
                old = s.get(UsageReport, inp.supersedes)
                if old is None or old.notice_id != notice_id:
                    raise InvalidInputError(
                        f"report {inp.supersedes} is not a report under notice {notice_id}", field="supersedes"
                    )
                taken = s.execute(
                    select(UsageReport.id).where(UsageReport.supersedes_id == old.id)
                ).scalar_one_or_none()
                if taken:
                    raise ConflictError(f"report {old.id} was already corrected by {taken}", field="supersedes")
                old_invoice = s.execute(select(Invoice).where(Invoice.report_id == old.id)).scalar_one()
                if old_invoice.status == "paid":
                    raise ConflictError(
                        f"report {old.id} is paid; a paid report is corrected through the CMO, not by a new report",
                        field="supersedes",
                    )
            tariff = self.policy.licensing.tariff(notice.tariff)
            q = quote(
                tariff, use=Use(notice.use), revenue=revenue, feature_share=share, works=len(measures or licensed)
            )
            now = self.clock.now()
            rid, iid = new_id("rpt"), new_id("inv")
            line_digest = hashlib.sha256(
                canonical(sorted([w, format(m, "f")] for w, m in measures.items()))
            ).hexdigest()
            events = [
                Event(
                    "usage.report",
                    actor.party_id,
                    rid,
                    {
                        "report": rid,
                        "notice": notice_id,
                        "supersedes": inp.supersedes,
                        "period": [format_time(inp.period_start), format_time(inp.period_end)],
                        "revenue": revenue.to_str(),
                        "currency": currency,
                        "feature_share": format(share, "f"),
                        "unit": unit,
                        "lines": len(measures),
                        "lines_sha256": line_digest,
                        "fee": q.fee.to_str(),
                    },
                ),
                Event(
                    "invoice.issue",
                    actor.party_id,
                    iid,
                    {"invoice": iid, "report": rid, "amount": q.fee.to_str(), "currency": currency},
                ),
            ]
            if old_invoice is not None:
                events.append(
                    Event("invoice.void", actor.party_id, old_invoice.id, {"invoice": old_invoice.id, "by": rid})
                )
            receipts = self.ledger.append(s, events, at=now)
            report = UsageReport(
                id=rid,
                notice_id=notice_id,
                developer_id=notice.developer_id,
                supersedes_id=inp.supersedes,
                period_start=inp.period_start,
                period_end=inp.period_end,
                revenue_minor=revenue.minor_units(),
                currency=currency,
                feature_share=format(share, "f"),
                unit=unit,
                quote=q.to_dict(),
                submitted_at=now,
                log_index=receipts[0].index,
            )
            s.add(report)
            s.flush()
            if measures:
                s.execute(
                    insert(UsageLine),
                    [{"report_id": rid, "work_id": w, "measure": format(m, "f")} for w, m in measures.items()],
                )
            invoice = Invoice(
                id=iid,
                report_id=rid,
                developer_id=notice.developer_id,
                amount_minor=q.fee.minor_units(),
                currency=currency,
                status="open",
                issued_at=now,
                log_index=receipts[1].index,
            )
            s.add(invoice)
            if old_invoice is not None:
                old_invoice.status = "void"
            s.flush()
            return {"report": _report_dict(report, len(measures)), "invoice": _invoice_dict(invoice)}

    def invoices(self, actor: Principal, *, status: str | None = None) -> list[dict[str, Any]]:
        require(actor.role, Action.INVOICE_READ, owner=True)
        with self.store.read() as s:
            q = select(Invoice).order_by(Invoice.issued_at, Invoice.id)
            if actor.role is Role.DEVELOPER:
                q = q.where(Invoice.developer_id == actor.party_id)
            if status:
                q = q.where(Invoice.status == status)
            return [_invoice_dict(i) for i in s.execute(q).scalars()]

    def invoice(self, actor: Principal, invoice_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            inv = s.get(Invoice, invoice_id)
            if inv is None:
                raise NotFoundError(f"no invoice {invoice_id}", field="invoice_id")
            require(actor.role, Action.INVOICE_READ, owner=inv.developer_id == actor.party_id)
            return _invoice_dict(inv)

    # -- operator ----------------------------------------------------------------------------------------
    def record_payment(
        self, actor: Principal, invoice_id: str, *, amount: str, currency: str, reference: str = ""
    ) -> dict[str, Any]:
        """Record that an invoice was paid in full; a partial or foreign-currency payment is refused."""
        require(actor.role, Action.PAYMENT_RECORD, owner=False)
        paid = Money.parse(amount, currency)
        if len(reference) > 200:
            raise InvalidInputError("reference is limited to 200 characters", field="reference")
        with self.store.write() as s:
            inv = s.execute(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).scalar_one_or_none()
            if inv is None:
                raise NotFoundError(f"no invoice {invoice_id}", field="invoice_id")
            if inv.status != "open":
                raise ConflictError(f"invoice {invoice_id} is {inv.status}", field="invoice_id")
            due = Money.from_minor(inv.amount_minor, inv.currency)
            if paid.currency != due.currency:
                raise CurrencyMismatchError(f"invoice {invoice_id} is in {due.currency}, not {paid.currency}")
            if paid.rounded() != paid or paid.minor_units() != inv.amount_minor:
                raise InvalidInputError(f"invoice {invoice_id} is for {due}, not {paid}", field="amount")
            now = self.clock.now()
            pid = new_id("pay")
            [rc] = self.ledger.append(
                s,
                [
                    Event(
                        "payment.record",
                        actor.party_id,
                        invoice_id,
                        {
                            "payment": pid,
                            "invoice": invoice_id,
                            "amount": due.to_str(),
                            "currency": due.currency,
                            "reference": reference,
                        },
                    )
                ],
                at=now,
            )
            s.add(
                Payment(
                    id=pid,
                    invoice_id=invoice_id,
                    amount_minor=inv.amount_minor,
                    currency=inv.currency,
                    reference=reference,
                    received_at=now,
                    log_index=rc.index,
                )
            )
            inv.status, inv.paid_at = "paid", now
            s.flush()
            return _invoice_dict(inv)

    def distribute(self, actor: Principal, currency: str) -> dict[str, Any]:
        """Distribute every paid, undistributed invoice in ``currency``."""
        require(actor.role, Action.DISTRIBUTION_RUN, owner=False)
        currency = parse_currency(currency)
        admin_share = self.policy.licensing.admin_share
        with self.store.write() as s:
            invoices = list(
                s.execute(
                    select(Invoice)
                    .where(Invoice.status == "paid", Invoice.distribution_id.is_(None), Invoice.currency == currency)
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
                                NoticeWork.notice_id == report.notice_id, NoticeWork.status == "licensed"
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
            now = self.clock.now()
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
            receipts = self.ledger.append(s, events, at=now)
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
    def statement(
        self, actor: Principal, holder_id: str | None = None, distribution_id: str | None = None
    ) -> dict[str, Any]:
        """A holder's statement: its works' parts per distribution, and the totals."""
        holder = holder_id or actor.party_id
        require(actor.role, Action.STATEMENT_READ, owner=holder == actor.party_id)
        with self.store.read() as s:
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
        return {
            "holder_id": holder,
            "distributions_on_record": int(count),
            "totals": {c: Money.from_minor(u, c).to_str() for c, u in sorted(totals.items())},
            "lines": lines,
        }

    @staticmethod
    def statement_csv(statement: dict[str, Any]) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["distribution_id", "distributed_at", "work_id", "title", "amount", "currency"])
        for line in statement["lines"]:
            w.writerow(
                [line[k] for k in ("distribution_id", "distributed_at", "work_id", "title", "amount", "currency")]
            )
        return buf.getvalue()
