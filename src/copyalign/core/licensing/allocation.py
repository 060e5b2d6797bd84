"""Splitting a sum of money by weights, to the minor unit, so that the parts add up exactly to the whole.

"Precise profit-sharing" (seed 001 §3.3, seed 003 §4.4) fails on the first cent if each share is rounded on
its own: 100.00 split three ways is 33.33 + 33.33 + 33.33 = 99.99. The largest-remainder method (Hamilton's)
gives every party the floor of its exact quota in minor units and hands the units left over, one each, to
the parties with the largest fractional remainders. The result sums to the total, no share is negative,
every share is within one unit of its exact quota, and it does not depend on the order the inputs arrive
in: remainders are compared exactly (as integers, no floats), and ties go to the smaller key.

Example:
    >>> largest_remainder(10000, {"a": 1, "b": 1, "c": 1})
    {'a': 3334, 'b': 3333, 'c': 3333}
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from copyalign.errors import InvalidInputError

Weight = int | Decimal | Fraction


def _as_fraction(w: Weight, key: str) -> Fraction:
    f = Fraction(w)
    if f < 0:
        raise InvalidInputError(f"weight of {key!r} is negative ({w})")
    return f


def largest_remainder(total: int, weights: Mapping[str, Weight]) -> dict[str, int]:
    """Split ``total`` minor units in proportion to ``weights``; keys with weight 0 get 0.

    Raises ``InvalidInputError`` for a negative total or weight, or when every weight is 0 and the total is not.
    """
    if total < 0:
        raise InvalidInputError(f"cannot allocate a negative total ({total})")
    if all(type(w) is int for w in weights.values()):
        ints: Mapping[str, int] = weights  # type: ignore[assignment]
        if any(w < 0 for w in ints.values()):
            raise InvalidInputError(f"weight of {next(k for k, w in ints.items() if w < 0)!r} is negative")
    else:
        fracs = {k: _as_fraction(w, k) for k, w in weights.items()}
        # One common denominator turns every quota into an integer division: exact, and fast for many keys.
        den = math.lcm(*(f.denominator for f in fracs.values())) if fracs else 1
        ints = {k: f.numerator * (den // f.denominator) for k, f in fracs.items()}
    whole = sum(ints.values())
    if whole == 0:
        if total:
            raise InvalidInputError("every weight is zero: there is nothing to allocate by")
        return dict.fromkeys(weights, 0)
    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    given = 0
    for k, w in ints.items():
        q, r = divmod(total * w, whole)
        shares[k] = q
        given += q
        if r:
            remainders.append((-r, k))
    left = total - given  # fewer than the number of keys with a remainder
    remainders.sort()
    for _, k in remainders[:left]:
        shares[k] += 1
    return shares


def equal_split(total: int, keys: list[str]) -> dict[str, int]:
    """The documented fallback when a report carries no per-work measure: every licensed work weighs the same
    (as STIM does for blanket licences without usage data)."""
    return largest_remainder(total, dict.fromkeys(keys, 1))
