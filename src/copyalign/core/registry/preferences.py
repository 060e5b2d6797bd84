"""AI-use preferences over the IETF AIPREF vocabulary, and how they resolve at a point in time.

A preference is never overwritten: each statement is a new, timestamped row, so that "what did the registry
say about work W at time T?" has one exact answer. Two times matter and both are kept:

* ``effective_at`` — from when the rights holder wants the statement to apply (may be in the future);
* ``recorded_at`` — when the registry learned it (its log entry's time).

Resolution *as of T* only looks at statements recorded at or before T (the registry cannot be held to what
it did not yet know) and in effect at T. Among those, the most specific wins: a work-level statement beats
the holder's default, a jurisdiction-specific statement beats the ``*`` scope, and for the same specificity
the latest effective (then latest recorded, then latest in the log) wins. ``train-genai`` is a subset of
``train-ai`` in the AIPREF vocabulary, so when nothing is said about ``train-genai`` the ``train-ai``
statement applies to it.

Example:
    >>> from datetime import datetime, UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> s = Statement(Scope.HOLDER, Purpose.TRAIN_AI, Value.DENY, "*", t0, t0)
    >>> resolve([s], Purpose.TRAIN_GENAI, at=t0, jurisdiction="EU").value
    <Value.DENY: 'deny'>
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from copyalign.errors import InvalidInputError

#: Jurisdiction scopes a statement may carry; ``*`` applies everywhere.
JURISDICTIONS = frozenset({"*", "CN", "EU", "JP", "US"})


class Purpose(enum.StrEnum):
    """AIPREF usage categories (draft-ietf-aipref-vocab)."""

    TRAIN_AI = "train-ai"
    TRAIN_GENAI = "train-genai"
    AI_INPUT = "ai-input"
    SEARCH = "search"


#: A purpose that falls back to a broader one when nothing is said about it.
PARENT: Mapping[Purpose, Purpose] = {Purpose.TRAIN_GENAI: Purpose.TRAIN_AI}


class Value(enum.StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    ALLOW_WITH_REMUNERATION = "allow-with-remuneration"


class Scope(enum.StrEnum):
    WORK = "work"
    HOLDER = "holder"
    POLICY = "policy"  # the policy profile's default, when nobody said anything


def parse_purpose(raw: str, *, field: str = "purpose") -> Purpose:
    try:
        return Purpose(raw)
    except ValueError:
        allowed = ", ".join(p.value for p in Purpose)
        raise InvalidInputError(f"unknown purpose {raw!r}; expected one of {allowed}", field=field) from None


def parse_value(raw: str, *, field: str = "value") -> Value:
    try:
        return Value(raw)
    except ValueError:
        allowed = ", ".join(v.value for v in Value)
        raise InvalidInputError(f"unknown value {raw!r}; expected one of {allowed}", field=field) from None


def parse_jurisdiction(raw: str, *, field: str = "jurisdiction") -> str:
    if raw not in JURISDICTIONS:
        allowed = ", ".join(sorted(JURISDICTIONS))
        raise InvalidInputError(f"unknown jurisdiction {raw!r}; expected one of {allowed}", field=field)
    return raw


@dataclass(frozen=True, slots=True)
class Statement:
    """One recorded preference statement (a row of the preference history)."""

    scope: Scope
    purpose: Purpose
    value: Value
    jurisdiction: str
    effective_at: datetime
    recorded_at: datetime
    log_index: int | None = None

    def __post_init__(self) -> None:
        parse_jurisdiction(self.jurisdiction)
        if self.effective_at.tzinfo is None or self.recorded_at.tzinfo is None:
            raise InvalidInputError("preference times must be timezone-aware", field="effective_at")


@dataclass(frozen=True, slots=True)
class Resolved:
    """The answer for one purpose: the value and the statement it came from (``None`` for the default)."""

    purpose: Purpose
    value: Value
    source: Scope
    statement: Statement | None


#: On an exact tie (same scope, time and log position, as only hand-built statements can have) the more
#: protective value wins, so resolution never depends on the order statements were read in.
_RESTRICTIVENESS = {Value.ALLOW: 0, Value.ALLOW_WITH_REMUNERATION: 1, Value.DENY: 2}


def _rank(s: Statement) -> tuple[int, int, datetime, datetime, int, int]:
    return (
        1 if s.scope is Scope.WORK else 0,
        1 if s.jurisdiction != "*" else 0,
        s.effective_at,
        s.recorded_at,
        -1 if s.log_index is None else s.log_index,
        _RESTRICTIVENESS[s.value],
    )


def resolve(
    statements: Iterable[Statement],
    purpose: Purpose,
    *,
    at: datetime,
    jurisdiction: str = "*",
    default: Value = Value.ALLOW,
) -> Resolved:
    """The value in force for ``purpose`` at ``at`` in ``jurisdiction``.

    ``jurisdiction="*"`` asks for the statements that apply everywhere only. ``default`` is the policy
    profile's answer when nothing applicable was recorded.
    """
    candidates = [
        s
        for s in statements
        if s.recorded_at <= at and s.effective_at <= at and (s.jurisdiction == "*" or s.jurisdiction == jurisdiction)
    ]
    own = [s for s in candidates if s.purpose is purpose]
    if own:
        best = max(own, key=_rank)
        return Resolved(purpose, best.value, best.scope, best)
    parent = PARENT.get(purpose)
    if parent is not None:
        inherited = resolve(candidates, parent, at=at, jurisdiction=jurisdiction, default=default)
        return Resolved(purpose, inherited.value, inherited.source, inherited.statement)
    return Resolved(purpose, default, Scope.POLICY, None)


def resolve_all(
    statements: Iterable[Statement],
    *,
    at: datetime,
    jurisdiction: str = "*",
    defaults: Mapping[Purpose, Value] | None = None,
) -> dict[Purpose, Resolved]:
    """Every purpose's resolved value, for lookups and receipts."""
    items = list(statements)
    defaults = defaults or {}
    return {
        p: resolve(items, p, at=at, jurisdiction=jurisdiction, default=defaults.get(p, Value.ALLOW)) for p in Purpose
    }
