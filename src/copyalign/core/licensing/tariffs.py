"""Tariffs of the default licence, and the fee a usage report owes under one.

Seed 003 §4.4 proposes "tiered royalty rates adjusted dynamically by AIGC's market value (e.g. 3 %-8 %
commercial sales fees vs. 0.5 % non-profit rates) and usage proportions (1.2x rate increase per 10 % data
feature extraction increment)", with "de minimis use" (below 5 % of data features) sent to a simplified
procedure. A :class:`Tariff` in the policy profile states exactly those numbers for one currency:

* commercial use pays by **revenue tiers**, applied marginally like tax brackets (the rate of a tier applies
  to the part of the revenue inside it), so that no developer pays less by earning more, which a
  whole-revenue tier switch would allow at every boundary;
* non-profit use pays one flat rate;
* the rate is multiplied by ``feature_step`` for every full ``feature_increment`` of data features used
  (1.2 per 10 %: 25 % of features gives 1.2**2 = 1.44);
* use below ``de_minimis_feature_share`` is flagged *de minimis* for the fast-track procedure; the fee is
  still computed (the seed simplifies the dispute procedure, it does not waive the fee);
* seed 000 §4.2.1 names further factors a CMO weighs: the **type of work** (``work_weights``: a weight per kind
  of registered work, averaged over the report's measured use) and **the impact of market substitution**
  (``substitution``: a factor per purpose; generative training can substitute the works' market where
  information analysis does not, seed 002 §3.1). The seeds give no numbers for them: 1 is neutral until the
  CMO's transparent procedure sets one;
* use under the profile's research exception (:mod:`copyalign.core.licensing.research`) owes nothing: the quote
  names the exception and is zero;
* a per-work minimum and an overall cap bound the result.

The fee is computed at full precision and rounded once, half up, to the currency's minor unit
(:mod:`copyalign.core.money`). :func:`quote` returns every step, so an invoice can show its arithmetic.

Example:
    >>> t = Tariff(name="t", currency="CNY", tiers=[Tier(up_to=Decimal(1000), rate=Decimal("0.03")),
    ...            Tier(rate=Decimal("0.08"))])
    >>> q = quote(t, use=Use.COMMERCIAL, revenue=Money.parse("2000", "CNY"), feature_share=Decimal("0.1"), works=3)
    >>> q.fee, q.multiplier
    (Money('132.00', 'CNY'), Decimal('1.2'))
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from copyalign.core.money import Money, parse_currency
from copyalign.core.registry.preferences import Purpose
from copyalign.errors import CurrencyMismatchError, InvalidInputError


class Use(enum.StrEnum):
    COMMERCIAL = "commercial"
    NON_PROFIT = "non-profit"
    RESEARCH = "research"  # the research exception: free where the profile's research rules cover it
    ANALYSIS = "analysis"  # information analysis not for enjoyment: likewise


EXEMPT_USES = (Use.RESEARCH, Use.ANALYSIS)
WORK_KINDS = ("text", "image")


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to: Decimal | None = Field(default=None, gt=0, description="Upper bound of the revenue tier; none: open.")
    rate: Decimal = Field(ge=0, le=1, description="Share of the revenue inside this tier that is owed.")


class Tariff(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    currency: str
    description: str = ""
    tiers: list[Tier] = Field(min_length=1, description="Commercial revenue tiers, ascending; the last is open.")
    non_profit_rate: Decimal = Field(default=Decimal("0.005"), ge=0, le=1)
    feature_step: Decimal = Field(default=Decimal("1.2"), ge=1, le=10)
    feature_increment: Decimal = Field(default=Decimal("0.10"), gt=0, le=1)
    de_minimis_feature_share: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    min_fee_per_work: Decimal = Field(default=Decimal(0), ge=0)
    cap: Decimal | None = Field(default=None, gt=0)
    work_weights: dict[str, Decimal] = Field(
        default_factory=lambda: dict.fromkeys(WORK_KINDS, Decimal(1)),
        description="Weight per type of registered work (text, image), averaged over the measured use.",
    )
    substitution: dict[Purpose, Decimal] = Field(
        default_factory=lambda: dict.fromkeys((Purpose.TRAIN_AI, Purpose.TRAIN_GENAI, Purpose.AI_INPUT), Decimal(1)),
        description="Market-substitution factor per purpose, set by the operator.",
    )

    @field_validator("work_weights")
    @classmethod
    def _weights(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        unknown = [k for k in v if k not in WORK_KINDS]
        if unknown:
            raise ValueError(f"work_weights: unknown kind of work {unknown[0]!r}; known: {', '.join(WORK_KINDS)}")
        bad = [k for k, w in v.items() if not Decimal("0.1") <= w <= Decimal(10)]
        if bad:
            raise ValueError(f"work_weights.{bad[0]} must lie between 0.1 and 10")
        return {k: v.get(k, Decimal(1)) for k in WORK_KINDS}

    @field_validator("substitution")
    @classmethod
    def _substitution(cls, v: dict[Purpose, Decimal]) -> dict[Purpose, Decimal]:
        if Purpose.SEARCH in v:
            raise ValueError("substitution: search is not a licensed purpose")
        bad = [p.value for p, f in v.items() if not Decimal("0.1") <= f <= Decimal(10)]
        if bad:
            raise ValueError(f"substitution.{bad[0]} must lie between 0.1 and 10")
        return {p: v.get(p, Decimal(1)) for p in (Purpose.TRAIN_AI, Purpose.TRAIN_GENAI, Purpose.AI_INPUT)}

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        try:
            return parse_currency(v)
        except InvalidInputError as exc:  # pydantic reports ValueErrors with the key's path
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _tiers_ascend(self) -> Tariff:
        bounds = [t.up_to for t in self.tiers]
        if bounds[-1] is not None:
            raise ValueError("the last tier must be open (no up_to)")
        if any(b is None for b in bounds[:-1]):
            raise ValueError("only the last tier may be open")
        closed = [b for b in bounds[:-1] if b is not None]
        if closed != sorted(closed) or len(set(closed)) != len(closed):
            raise ValueError("tier bounds must ascend strictly")
        return self


@dataclass(frozen=True, slots=True)
class Quote:
    """A fee and how it was reached."""

    fee: Money  # rounded
    exact: Money  # before rounding
    base: Money  # revenue × tier rates (or the non-profit rate), before the feature multiplier
    multiplier: Decimal
    de_minimis: bool
    minimum_applied: bool
    cap_applied: bool
    work_weight: Decimal = Decimal(1)
    substitution: Decimal = Decimal(1)
    exempt: str | None = None  # the exception that makes the use free

    def to_dict(self) -> dict[str, object]:
        return {
            "fee": self.fee.to_str(),
            "currency": self.fee.currency,
            "exact": self.exact.to_str(),
            "base": self.base.to_str(),
            "multiplier": str(self.multiplier),
            "de_minimis": self.de_minimis,
            "minimum_applied": self.minimum_applied,
            "cap_applied": self.cap_applied,
            "work_weight": str(self.work_weight),
            "substitution": str(self.substitution),
            "exempt": self.exempt,
        }


def work_weight(tariff: Tariff, use_by_kind: Mapping[str, Decimal | int]) -> Decimal:
    """The type-of-work weight of a report: the kinds' weights averaged by how much of each was used.

    >>> t = Tariff(name="t", currency="CNY", tiers=[Tier(rate=Decimal("0.03"))], work_weights={"image": Decimal(2)})
    >>> work_weight(t, {"text": 300, "image": 100})
    Decimal('1.25')
    """
    total = sum((Decimal(v) for v in use_by_kind.values()), Decimal(0))
    if total <= 0:
        return Decimal(1)
    weighted = sum((Decimal(v) * tariff.work_weights.get(k, Decimal(1)) for k, v in use_by_kind.items()), Decimal(0))
    return weighted / total


def quote(
    tariff: Tariff,
    *,
    use: Use,
    revenue: Money,
    feature_share: Decimal,
    works: int,
    purpose: Purpose | None = None,
    weight: Decimal = Decimal(1),
    exemption: str | None = None,
) -> Quote:
    """The fee for ``works`` licensed works used under ``tariff`` for ``purpose`` (its substitution factor),
    with the type-of-work ``weight`` (:func:`work_weight`). A research or analysis use must name the
    ``exemption`` the profile grants it, and owes nothing."""
    if revenue.currency != tariff.currency:
        raise CurrencyMismatchError(
            f"revenue is in {revenue.currency} but tariff {tariff.name!r} is in {tariff.currency}", field="currency"
        )
    if revenue.amount < 0:
        raise InvalidInputError("revenue cannot be negative", field="revenue")
    if not Decimal(0) <= feature_share <= Decimal(1):
        raise InvalidInputError(f"feature share must be between 0 and 1, not {feature_share}", field="feature_share")
    if works < 0:
        raise InvalidInputError("the number of works cannot be negative", field="works")
    if use in EXEMPT_USES:
        if not exemption:
            raise InvalidInputError(f"use {use.value} is free only under an exception of the profile", field="use")
        zero = Money(Decimal(0), tariff.currency)
        return Quote(zero, zero, zero, Decimal(1), False, False, False, Decimal(1), Decimal(1), exemption)
    substitution = tariff.substitution.get(purpose, Decimal(1)) if purpose is not None else Decimal(1)
    if use is Use.NON_PROFIT:
        base = revenue.amount * tariff.non_profit_rate
    else:
        base, lower = Decimal(0), Decimal(0)
        for tier in tariff.tiers:
            upper = revenue.amount if tier.up_to is None else min(revenue.amount, tier.up_to)
            if upper > lower:
                base += (upper - lower) * tier.rate
            if tier.up_to is None or revenue.amount <= tier.up_to:
                break
            lower = tier.up_to
    steps = int(feature_share / tariff.feature_increment)
    multiplier = tariff.feature_step**steps
    exact = base * multiplier * weight * substitution
    minimum = tariff.min_fee_per_work * works
    minimum_applied = exact < minimum
    exact = max(exact, minimum)
    cap_applied = tariff.cap is not None and exact > tariff.cap
    if tariff.cap is not None:
        exact = min(exact, tariff.cap)
    money = Money(exact, tariff.currency)
    return Quote(
        fee=money.rounded(),
        exact=money,
        base=Money(base, tariff.currency),
        multiplier=multiplier,
        de_minimis=feature_share < tariff.de_minimis_feature_share,
        minimum_applied=minimum_applied,
        cap_applied=cap_applied,
        work_weight=weight,
        substitution=substitution,
    )
