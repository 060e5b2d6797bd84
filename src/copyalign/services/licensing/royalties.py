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

Distributions and statements (:mod:`copyalign.services.licensing.distributions`) are this service's methods too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select

from copyalign.core.authz import Action, Role, require
from copyalign.core.canonical import canonical, format_time
from copyalign.core.licensing import invoices
from copyalign.core.licensing.invoices import InvoiceStatus
from copyalign.core.licensing.measure import Measurement, measure
from copyalign.core.licensing.notices import ListingStatus, NoticeStatus
from copyalign.core.licensing.tariffs import Use, quote, work_weight
from copyalign.core.money import Money, parse_currency, parse_decimal
from copyalign.core.registry.preferences import Purpose
from copyalign.errors import ConflictError, CurrencyMismatchError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import ServiceBase
from copyalign.services.licensing.distributions import holder_statement, run_distribution, statement_csv
from copyalign.services.licensing.measured import ScanManifest, verified_rows
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.batching import in_batches
from copyalign.store.models import (
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
                    select(NoticeWork.work_id).where(
                        NoticeWork.notice_id == notice_id, NoticeWork.status == ListingStatus.LICENSED
                    )
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
            if notice.status != NoticeStatus.FINALISED:
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
                    select(NoticeWork.work_id).where(
                        NoticeWork.notice_id == notice_id, NoticeWork.status == ListingStatus.LICENSED
                    )
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
                invoices.supersede(InvoiceStatus(old_invoice.status), old.id)  # a paid report is not corrected here
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
                        "status": invoices.issued(exempt=bool(q.exempt)),
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
                status=invoices.issued(exempt=bool(q.exempt)),
                procedure=invoices.procedure(de_minimis=q.de_minimis),
                issued_at=now,
                log_index=receipts[1].index,
            )
            s.add(invoice)
            if old_invoice is not None:
                old_invoice.status = invoices.supersede(InvoiceStatus(old_invoice.status), old_invoice.report_id)
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
            if inv["status"] != InvoiceStatus.VOID
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
            paid_status = invoices.pay(InvoiceStatus(inv.status), invoice_id)
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
            inv.status, inv.paid_at = paid_status, now
            s.flush()
            return _invoice_dict(inv)

    # -- distributions and statements (services/licensing/distributions.py) ------------------------------
    def distribute(self, actor: Principal, currency: str) -> dict[str, Any]:
        """Distribute every paid, undistributed invoice in ``currency``."""
        return run_distribution(self, actor, currency)

    def statement(
        self, actor: Principal, holder_id: str | None = None, distribution_id: str | None = None
    ) -> dict[str, Any]:
        """A holder's statement: its works' parts per distribution, the totals, and each distribution's basis."""
        return holder_statement(self, actor, holder_id, distribution_id)

    @staticmethod
    def statement_csv(statement: dict[str, Any]) -> str:
        return statement_csv(statement)
