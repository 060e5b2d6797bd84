"""Money: a ``Decimal`` amount with an explicit ISO 4217 currency, and the one rounding rule.

Fees and distributions are legal obligations, so no amount is ever a float and no two currencies ever mix:
adding euros to yuan raises :class:`~copyalign.errors.CurrencyMismatchError`. Amounts are carried at full
precision while they are computed and rounded **once**, at the end, to the currency's minor unit with
``ROUND_HALF_UP`` (commercial rounding: 0.005 -> 0.01), the rule invoices are read with. Distributions do
not round each share; they split a rounded total in whole minor units by the largest-remainder method
(:mod:`copyalign.core.licensing.allocation`), so the parts always add up to the whole.

Example:
    >>> fee = Money.parse("1234.5", "cny") * Decimal("0.05")
    >>> fee, fee.rounded()
    (Money('61.725', 'CNY'), Money('61.73', 'CNY'))
    >>> Money.parse("100", "JPY").minor_units()
    100
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from copyalign.errors import CurrencyMismatchError, InvalidInputError

#: Digits after the decimal point, for currencies whose minor unit is not the cent (ISO 4217).
MINOR_DIGITS = {"JPY": 0, "KRW": 0, "VND": 0, "CLP": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}
_CURRENCY = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT = Decimal("1e15")
"""Larger amounts are refused as input errors (a mistyped revenue, not a real one)."""


def parse_currency(code: str, field: str = "currency") -> str:
    c = code.strip().upper()
    if not _CURRENCY.match(c):
        raise InvalidInputError(f"currency must be a three-letter ISO 4217 code, not {code!r}", field=field)
    return c


def parse_decimal(value: object, field: str, *, allow_negative: bool = False) -> Decimal:
    """A finite decimal from a string or int (never a float: ``0.1`` has no exact binary value)."""
    if isinstance(value, float | bool):
        raise InvalidInputError(f"{field} must be given as a decimal string or an integer, not {value!r}", field=field)
    try:
        d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise InvalidInputError(f"{field} must be a number, not {value!r}", field=field) from None
    if not d.is_finite():
        raise InvalidInputError(f"{field} must be a finite number, not {value!r}", field=field)
    if d < 0 and not allow_negative:
        raise InvalidInputError(f"{field} cannot be negative ({value})", field=field)
    if abs(d) >= MAX_AMOUNT:
        raise InvalidInputError(f"{field} is implausibly large ({value})", field=field)
    return d


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def parse(cls, amount: object, currency: str, field: str = "amount") -> Money:
        return cls(parse_decimal(amount, field), parse_currency(currency))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), parse_currency(currency))

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        return cls(Decimal(units).scaleb(-minor_digits(currency)), currency)

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatchError(f"cannot combine {self.currency} with {other.currency}", field="currency")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: Decimal | int) -> Money:
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    def rounded(self) -> Money:
        """To the currency's minor unit, half up: the only rounding an amount ever gets."""
        exp = Decimal(1).scaleb(-minor_digits(self.currency))
        return Money(self.amount.quantize(exp, rounding=ROUND_HALF_UP), self.currency)

    def minor_units(self) -> int:
        """The amount in minor units (cents); the amount must already be rounded."""
        scaled = self.amount.scaleb(minor_digits(self.currency))
        if scaled != scaled.to_integral_value():
            raise InvalidInputError(f"{self} is not a whole number of minor units; round it first")
        return int(scaled)

    def to_str(self) -> str:
        """The amount as a plain decimal string (no exponent), as stored and served."""
        return format(self.amount, "f")


def minor_digits(currency: str) -> int:
    return MINOR_DIGITS.get(currency, 2)
