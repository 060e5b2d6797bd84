"""An invoice's life under the default licence (seed 001 §3.3, 003 §4.4): its states and the steps between them.

An invoice is ``open`` when a usage report is made, ``paid`` when the operator records the exact amount, ``void``
when a correction supersedes its report before payment (a paid report is corrected through the CMO, never by a
new report), and ``exempt`` from the start when the use falls under the profile's research exception (nothing is
owed; the claim is recorded). Only a paid invoice is distributed. Each invoice is also filed for the ``standard``
or, below the tariff's de minimis share, the ``simplified`` procedure.

Example:
    >>> pay(InvoiceStatus.OPEN, "inv_1")
    <InvoiceStatus.PAID: 'paid'>
    >>> issued(exempt=True)
    <InvoiceStatus.EXEMPT: 'exempt'>
"""

from __future__ import annotations

import enum

from copyalign.errors import ConflictError


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"  # superseded by a corrected report before payment
    EXEMPT = "exempt"  # the research exception: nothing owed


class Procedure(enum.StrEnum):
    STANDARD = "standard"
    SIMPLIFIED = "simplified"  # de minimis use (seed 003 §4.4 ③)


def issued(*, exempt: bool) -> InvoiceStatus:
    """The state a new invoice starts in."""
    return InvoiceStatus.EXEMPT if exempt else InvoiceStatus.OPEN


def procedure(*, de_minimis: bool) -> Procedure:
    return Procedure.SIMPLIFIED if de_minimis else Procedure.STANDARD


def pay(status: InvoiceStatus, invoice_id: str) -> InvoiceStatus:
    """Only an open invoice takes a payment."""
    if status is not InvoiceStatus.OPEN:
        raise ConflictError(f"invoice {invoice_id} is {status.value}", field="invoice_id")
    return InvoiceStatus.PAID


def supersede(status: InvoiceStatus, report_id: str) -> InvoiceStatus:
    """A correction voids the invoice of the report it supersedes, unless that invoice was paid."""
    if status is InvoiceStatus.PAID:
        raise ConflictError(
            f"report {report_id} is paid; a paid report is corrected through the CMO, not by a new report",
            field="supersedes",
        )
    return InvoiceStatus.VOID


def distributable(status: InvoiceStatus) -> bool:
    """What a distribution shares out: paid invoices only."""
    return status is InvoiceStatus.PAID


__all__ = ["InvoiceStatus", "Procedure", "distributable", "issued", "pay", "procedure", "supersede"]
