"""Construction checks shared by the takedown modules; each raises InvalidInputError naming the field."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import TypeVar

from copyalign.errors import InvalidInputError

E = TypeVar("E", bound=enum.Enum)


def aware(instant: datetime, field: str = "time") -> datetime:
    """``instant`` if it carries a time zone; naive datetimes are refused (whose midnight would they mean?)."""
    if not isinstance(instant, datetime) or instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInputError(f"{field} must be a timezone-aware datetime, not {instant!r}", field=field)
    return instant


def utc(instant: datetime, field: str = "time") -> datetime:
    """``instant`` in UTC. Aware datetimes that share a tzinfo compare and subtract by wall time, which is wrong
    across a fall-back hour; every instant the takedown modules keep or return is therefore in UTC."""
    if instant.__class__ is datetime and instant.tzinfo is UTC:
        return instant  # what the store returns: already UTC (the report builds 10^5 records from such)
    return aware(instant, field).astimezone(UTC)


def to_utc_fields(obj: object, *names: str) -> None:
    """Replace the named optional datetime fields of a frozen dataclass with their UTC instants."""
    for name in names:
        value = getattr(obj, name)
        if value is not None:
            instant = utc(value, name)
            if instant is not value:
                object.__setattr__(obj, name, instant)


def parse_enum(cls: type[E], value: object, field: str) -> E:
    """``value`` as a member of ``cls`` (members pass through), or an error listing the allowed values."""
    if value.__class__ is cls:
        return value
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in cls)
        raise InvalidInputError(f"{field}: unknown value {value!r}; expected one of {allowed}", field=field) from None


def text(value: object, field: str, *, limit: int, optional: bool = True) -> None:
    """Non-blank text of at most ``limit`` characters (``None`` allowed when optional)."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(f"{field} must be non-blank text", field=field)
    if len(value) > limit:
        raise InvalidInputError(f"{field} is longer than {limit} characters", field=field)


def fraction(value: object, field: str, *, lo: float = 0.0, hi: float = 1.0, optional: bool = True) -> None:
    """A real number in [lo, hi] (bools and NaN refused)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidInputError(f"{field} must be a number from {lo} to {hi}, not {value!r}", field=field)
