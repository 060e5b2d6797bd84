"""One way to send a long list of keys to the database: in batches that every backend accepts.

SQLite refuses a statement with more bound parameters than its compile-time limit (999 before 3.32, and
builds with the old default still ship), so an ``IN (...)`` over 100,000 work ids must be split; PostgreSQL
takes 65,535. Every query over a caller-sized list goes through :func:`in_batches`, with the one size below,
so the limit is handled in one place.

Example:
    >>> [len(b) for b in in_batches(list(range(2000)))]
    [900, 900, 200]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

IN_BATCH = 900
"""Keys per ``IN (...)``: under SQLite's historical 999-parameter limit, with room for a statement's own."""


def in_batches(items: Sequence[T], size: int = IN_BATCH) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size`` (none for an empty list)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


__all__ = ["IN_BATCH", "in_batches"]
