"""The default licence's money: usage reports, invoices, payments, distributions and statements.

A developer reports its use under a *finalised* notice: per licensed work the measure the tariff's
arithmetic distributes by (tokens, documents, images, bytes or a share of the training mix), the revenue
basis and the share of data features used. The fee is the tariff's (:func:`copyalign.core.licensing.tariffs.quote`),
an invoice is issued, and the operator records the payment. Reports are immutable: a correction is a new
report that names the one it supersedes, allowed while the old invoice is unpaid (its invoice is voided).

The share of data features is *measured* when the report is made from a logged scan of the training corpus
(:meth:`LicensingService.report_from_scan`: the lines and the share come from the scan's manifest, proven by its
log entry; a declared share below the measured one is refused with both figures), and *declared* otherwise —
which the report, the invoice and the statement say. A declared report that gives no share is taken to use all
data features (1): a missing figure never makes use cheaper. De-minimis use (below the tariff's
``de_minimis_feature_share``) is queued for the simplified procedure (seed 003 §4.4 ③): the invoice says
``procedure: simplified`` and :meth:`LicensingService.simplified_queue` lists them. A notice under the research
exception owes nothing: its invoices are ``exempt``.

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
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import canonical, format_time
from copyalign.core.licensing.distribution import Contribution, distribute
from copyalign.core.licensing.measure import Measurement, measure
from copyalign.core.licensing.tariffs import Use, quote, work_weight
from copyalign.core.money import Money, parse_currency, parse_decimal
from copyalign.core.registry.preferences import Purpose
from copyalign.errors import ConflictError, CurrencyMismatchError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.licensing.measured import ScanManifest, verified_rows
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.batching import in_batches
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
PROCEDURES = ("standard", "simplified")
MAX_LINES = 1_000_000


@dataclass(frozen=True, slots=True)
class UsageInput:
    revenue: str  # a decimal string in the notice's currency
    currency: str
    period_start: datetime
    period_end: datetime
    feature_share: str | None = None  # None: measured from a scan, or (declared) all features
    unit: str | None = None  # None: tokens, or the measured lines' unit
    lines: Sequence[tuple[str, str]] = ()  # (work id, measure); empty: the equal-split fallback
    supersedes: str | None = None


@dataclass(frozen=True, slots=True)
class _Measured:
    measurement: Measurement
    scan: dict[str, Any]  # log_index, scan id, manifest digest


def _invoice_dict(inv: Invoice, report: UsageReport | None = None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if report is not None:
        extra = {
            "notice_id": report.notice_id,
            "feature_share": report.feature_share,
            "share_basis": report.share_basis,
            "de_minimis": bool(report.quote.get("de_minimis")),
            "exempt": report.quote.get("exempt"),
        }
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
        "procedure": inv.procedure,
        "log_index": inv.log_index,
        **extra,
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
        "share_basis": r.share_basis,
        "measured_share": r.measured_share,
        "scan": r.scan,
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
        """Submit a declared usage report; returns the report with its fee quote and the invoice issued for it."""
        return self._submit(actor, notice_id, inp, None)

    def report_from_scan(
        self, actor: Principal, notice_id: str, manifest: ScanManifest, inp: UsageInput
    ) -> dict[str, Any]:
        """Submit a usage report measured from a logged scan of the training corpus: the lines are the notice's
        licensed works found in the scan's kept items, the feature share is computed from the same rows
        (:mod:`copyalign.core.licensing.measure`); a declared share below the measured one is refused."""
        if inp.lines:
            raise InvalidInputError("a measured report takes its lines from the scan; give none", field="lines")
        with self.store.read() as s:
            notice = s.get(Notice, notice_id)
            if notice is None:
                raise NotFoundError(f"no notice {notice_id}", field="notice_id")
            require(actor.role, Action.USAGE_REPORT, owner=notice.developer_id == actor.party_id)
            payload, rows = verified_rows(s, manifest, developer_id=notice.developer_id)
            licensed = set(
                s.execute(
                    select(NoticeWork.work_id).where(NoticeWork.notice_id == notice_id, NoticeWork.status == "licensed")
                ).scalars()
            )
        m = measure(rows, licensed)
        scan = {"log_index": manifest.log_index, "scan": payload.get("scan"),
                "manifest_sha256": payload.get("manifest_sha256"), **m.to_dict()}  # fmt: skip
        return self._submit(actor, notice_id, inp, _Measured(m, scan))

    def _submit(self, actor: Principal, notice_id: str, inp: UsageInput, measured: _Measured | None) -> dict[str, Any]:
        unit = inp.unit or (measured.measurement.unit if measured else "tokens")
        if unit not in UNITS:
            raise InvalidInputError(f"unit must be one of {', '.join(UNITS)}, not {unit!r}", field="unit")
        currency = parse_currency(inp.currency)
        revenue = Money(parse_decimal(inp.revenue, "revenue"), currency)
        if revenue.rounded() != revenue:
            raise InvalidInputError(f"revenue has more decimals than {currency} has minor units", field="revenue")
        declared = None if inp.feature_share is None else parse_decimal(inp.feature_share, "feature_share")
        if declared is not None and declared > 1:
            raise InvalidInputError(
                f"feature_share is a fraction between 0 and 1, not {declared}", field="feature_share"
            )
        if measured is not None:
            found = measured.measurement.share
            if declared is not None and declared < found:
                raise InvalidInputError(
                    f"the declared feature share {declared} is below the measured {found} "
                    f"(scan {measured.scan.get('scan')}, log entry {measured.scan.get('log_index')})",
                    field="feature_share",
                )
            share = found if declared is None else declared
        else:
            share = Decimal(1) if declared is None else declared  # nothing declared: every feature was used
        for t in (inp.period_start, inp.period_end):
            if t.tzinfo is None:
                raise InvalidInputError("period times must carry a time zone", field="period")
        if inp.period_end <= inp.period_start:
            raise InvalidInputError("the period must end after it starts", field="period")
        lines = measured.measurement.lines(unit) if measured is not None else list(inp.lines)
        if len(lines) > MAX_LINES:
            raise InvalidInputError(f"a report has at most {MAX_LINES} lines", field="lines")
        measures: dict[str, Decimal] = {}
        for i, (work, amount) in enumerate(lines):
            if work in measures:
                raise InvalidInputError(f"line {i + 1}: work {work} is reported twice", field="lines")
            measures[work] = parse_decimal(amount, f"lines[{i}].measure")
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
            kinds: dict[str, str] = {}
            for part in in_batches(sorted(measures or licensed)):
                kinds.update({w: k for w, k in s.execute(select(Work.id, Work.kind).where(Work.id.in_(part))).all()})
            use_by_kind: dict[str, Decimal] = {}
            for w in measures or licensed:
                k = kinds.get(w, "text")
                use_by_kind[k] = use_by_kind.get(k, Decimal(0)) + (measures[w] if measures else Decimal(1))
            exemption = (notice.research or {}).get("exception")
            q = quote(
                tariff,
                use=Use(notice.use),
                revenue=revenue,
                feature_share=share,
                works=len(measures or licensed),
                purpose=Purpose(notice.purpose),
                weight=work_weight(tariff, use_by_kind),
                exemption=exemption,
            )
            basis = "measured" if measured is not None else "declared"
            now = self.clock.now()
            if inp.period_end > now:
                raise InvalidInputError("the period cannot end in the future: report use that happened", field="period")
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
                        "share_basis": basis,
                        "measured_share": format(measured.measurement.share, "f") if measured else None,
                        "scan": {k: measured.scan[k] for k in ("log_index", "scan", "manifest_sha256")}
                        if measured
                        else None,
                        "unit": unit,
                        "lines": len(measures),
                        "lines_sha256": line_digest,
                        "fee": q.fee.to_str(),
                        "de_minimis": q.de_minimis,
                        "exempt": q.exempt,
                    },
                ),
                Event(
                    "invoice.issue",
                    actor.party_id,
                    iid,
                    {
                        "invoice": iid,
                        "report": rid,
                        "amount": q.fee.to_str(),
                        "currency": currency,
                        "procedure": "simplified" if q.de_minimis else "standard",
                        "status": "exempt" if q.exempt else "open",
                    },
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
                share_basis=basis,
                measured_share=format(measured.measurement.share, "f") if measured else None,
                scan=measured.scan if measured else None,
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
                status="exempt" if q.exempt else "open",
                procedure="simplified" if q.de_minimis else "standard",
                issued_at=now,
                log_index=receipts[1].index,
            )
            s.add(invoice)
            if old_invoice is not None:
                old_invoice.status = "void"
            s.flush()
            return {"report": _report_dict(report, len(measures)), "invoice": _invoice_dict(invoice, report)}

    def invoices(
        self, actor: Principal, *, status: str | None = None, procedure: str | None = None
    ) -> list[dict[str, Any]]:
        require(actor.role, Action.INVOICE_READ, owner=True)
        if procedure is not None and procedure not in PROCEDURES:
            raise InvalidInputError(f"procedure must be one of {', '.join(PROCEDURES)}", field="procedure")
        with self.store.read() as s:
            q = (
                select(Invoice, UsageReport)
                .join(UsageReport, UsageReport.id == Invoice.report_id)
                .order_by(Invoice.issued_at, Invoice.id)
            )
            if actor.role is Role.DEVELOPER:
                q = q.where(Invoice.developer_id == actor.party_id)
            if status:
                q = q.where(Invoice.status == status)
            if procedure:
                q = q.where(Invoice.procedure == procedure)
            return [_invoice_dict(i, r) for i, r in s.execute(q).all()]

    def invoice(self, actor: Principal, invoice_id: str) -> dict[str, Any]:
        with self.store.read() as s:
            inv = s.get(Invoice, invoice_id)
            if inv is None:
                raise NotFoundError(f"no invoice {invoice_id}", field="invoice_id")
            require(actor.role, Action.INVOICE_READ, owner=inv.developer_id == actor.party_id)
            return _invoice_dict(inv, s.get(UsageReport, inv.report_id))

    def simplified_queue(self, actor: Principal) -> list[dict[str, Any]]:
        """The de-minimis cases for the simplified procedure (seed 003 §4.4 ③: use below the tariff's
        ``de_minimis_feature_share``, a simplified decision within ``takedown.simplified_decide``), oldest first:
        every invoice issued for such use and not voided. The desk's dispute channel reads this queue."""
        within = self.policy.takedown.simplified_decide
        return [
            {**inv, "queued_at": inv["issued_at"], "decide_within": within}
            for inv in self.invoices(actor, procedure="simplified")
            if inv["status"] != "void"
        ]

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
            bases = self._bases(s, sorted({str(line["distribution_id"]) for line in lines}))
        for line in lines:
            line["share_basis"] = bases.get(str(line["distribution_id"]), "declared")
        return {
            "holder_id": holder,
            "distributions_on_record": int(count),
            "totals": {c: Money.from_minor(u, c).to_str() for c, u in sorted(totals.items())},
            "share_basis": bases,
            "lines": lines,
        }

    @staticmethod
    def _bases(s: Session, distribution_ids: Sequence[str]) -> dict[str, str]:
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

    @staticmethod
    def statement_csv(statement: dict[str, Any]) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        keys = ("distribution_id", "distributed_at", "work_id", "title", "amount", "currency", "share_basis")
        w.writerow(keys)
        for line in statement["lines"]:
            w.writerow([line.get(k, "") for k in keys])
        return buf.getvalue()
