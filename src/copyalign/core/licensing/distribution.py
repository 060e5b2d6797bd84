"""A distribution: the fees collected in a period, less the CMO's share, allocated to works by measured use
and summed per rights holder — exactly, to the minor unit.

Each paid usage report contributes its amount to the works it covers, in proportion to the measure the
report gives each work (tokens, documents, images, bytes or a share of the training mix: any non-negative
number, compared only within that report). A report that gives no per-work measure is split equally over
the works its notice licensed: the documented fallback, as STIM does for blanket licences without usage
data. Every work's claim is kept as an exact fraction of the money; one largest-remainder pass
(:func:`~copyalign.core.licensing.allocation.largest_remainder`) then turns the claims into minor units that sum to
the distributable amount, whatever the order the reports came in. A holder's statement is the sum of its
works' parts.

The administration share is rounded half up once; the distributable amount is what remains, so
``admin + distributable == collected`` holds to the unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from copyalign.core.licensing.allocation import largest_remainder
from copyalign.core.money import Money
from copyalign.errors import CurrencyMismatchError, InvalidInputError


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one paid report brings to the distribution."""

    report_id: str
    paid: Money  # rounded
    measures: Mapping[str, Decimal | int] = field(default_factory=dict)  # work id -> measured use; empty: fallback
    licensed: Sequence[str] = ()  # the notice's licensed works, for the equal-split fallback


@dataclass(frozen=True, slots=True)
class Distribution:
    currency: str
    collected: int  # minor units
    admin: int
    distributable: int
    per_work: dict[str, int]
    per_holder: dict[str, int]
    fallback_reports: list[str]

    def money(self, units: int) -> Money:
        return Money.from_minor(units, self.currency)


def distribute(
    contributions: Sequence[Contribution], *, currency: str, admin_share: Decimal, holder_of: Mapping[str, str]
) -> Distribution:
    """Allocate the contributions' money; ``holder_of`` maps every work that appears to its rights holder."""
    if not Decimal(0) <= admin_share < Decimal(1):
        raise InvalidInputError(f"admin share must be in [0, 1), not {admin_share}", field="admin_share")
    collected = 0
    # Every claim is an exact fraction of the money; they share the denominator ``den`` (the least common
    # multiple of the reports' measure totals), so only integer numerators are kept: a million works cost
    # integer multiplications, not a million fraction normalisations.
    parts: list[tuple[int, dict[str, int], int]] = []  # (paid units, integer measures, their total)
    fallback: list[str] = []
    for c in sorted(contributions, key=lambda c: c.report_id):  # sorted: the same input, the same answer
        if c.paid.currency != currency:
            raise CurrencyMismatchError(
                f"report {c.report_id} was paid in {c.paid.currency}, the distribution is in {currency}",
                field="currency",
            )
        units = c.paid.minor_units()
        collected += units
        if units == 0:
            continue
        measured = _integer_measures(c)
        total = sum(measured.values())
        if total == 0:
            if not c.licensed:
                raise InvalidInputError(
                    f"report {c.report_id} has neither per-work measures nor licensed works to split over",
                    field="measures",
                )
            fallback.append(c.report_id)
            measured = dict.fromkeys(c.licensed, 1)
            total = len(measured)
        parts.append((units, measured, total))
    den = math.lcm(*(total for _, _, total in parts)) if parts else 1
    claims: dict[str, int] = {}
    for units, measured, total in parts:
        factor = units * (den // total)
        for w, m in measured.items():
            claims[w] = claims.get(w, 0) + m * factor
    admin = int((Decimal(collected) * admin_share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    distributable = collected - admin
    unknown = [w for w in claims if w not in holder_of]
    if unknown:
        raise InvalidInputError(f"{len(unknown)} works have no rights holder, e.g. {unknown[0]}", field="works")
    per_work = largest_remainder(distributable, claims) if claims else {}
    per_holder: dict[str, int] = {}
    for w, units in per_work.items():
        h = holder_of[w]
        per_holder[h] = per_holder.get(h, 0) + units
    return Distribution(currency, collected, admin, distributable, per_work, per_holder, fallback)


def _integer_measures(c: Contribution) -> dict[str, int]:
    """The report's measures scaled to integers (only their ratios within the report matter)."""
    out: dict[str, int] = {}
    decimals = [Decimal(m) for m in c.measures.values() if not isinstance(m, int)]
    if not all(d.is_finite() for d in decimals):
        raise InvalidInputError(f"report {c.report_id} has a measure that is not a number", field="measures")
    places = max((max(0, -int(d.as_tuple().exponent)) for d in decimals), default=0)
    scale = 10**places
    for w, m in c.measures.items():
        v = m * scale if isinstance(m, int) else int(Decimal(m).scaleb(places))
        if v < 0:
            raise InvalidInputError(f"report {c.report_id} has a negative measure for {w}", field="measures")
        if v:
            out[w] = v
    return out
