"""One spelling per value: RFC 8785 canonical JSON and RFC 3339 times, for everything that is hashed.

A log entry, a notice's digest, an exclusion list, a usage report's measures and a generation trace are all
hashed, and a hash is only reproducible when every writer spells the same value the same way. Every module
that hashes structured data calls :func:`canonical` (and :func:`format_time` for instants); none calls
``json.dumps`` or ``rfc8785`` for that purpose itself.

Example:
    >>> canonical({"b": 1, "a": "é"})
    b'{"a":"\\xc3\\xa9","b":1}'
    >>> digest({"a": 1}) == digest({"a": 1})
    True
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import rfc8785

from copyalign.errors import InvalidInputError

_SAFE_INT = 2**53 - 1


def _plain(obj: Any) -> bool:
    """True when ``obj`` holds only ASCII-keyed dicts, lists, strings, ints, bools and None."""
    t = type(obj)
    if t is str or t is bool or obj is None:
        return True
    if t is int:
        return bool(-_SAFE_INT <= obj <= _SAFE_INT)  # beyond, RFC 8785 (I-JSON) has no exact form: rfc8785 refuses
    if t is dict:
        return all(type(k) is str and k.isascii() and _plain(v) for k, v in obj.items())
    if t is list:
        return all(_plain(v) for v in obj)
    return False


def canonical(obj: Any) -> bytes:
    """RFC 8785 canonical JSON.

    For what copyalign hashes (ASCII keys, no floats) RFC 8785 is exactly ``json.dumps`` with sorted keys, no
    whitespace and no ASCII escaping, which is ~20x faster than the general ``rfc8785`` encoder; anything else
    (floats, non-ASCII keys, whose rules differ) goes to ``rfc8785``. A property test holds the two equal.
    """
    try:
        return dumps_plain(obj) if _plain(obj) else rfc8785.dumps(obj)
    except (UnicodeEncodeError, rfc8785.CanonicalizationError) as exc:
        # the last net under every log entry: a lone surrogate that no boundary caught is still bad input, never
        # a 500 (the boundaries name the field: copyalign.core.content.check_text)
        if isinstance(exc, rfc8785.CanonicalizationError) and "UTF-8" not in str(exc):
            raise
        raise InvalidInputError(
            "the input contains a lone surrogate (an unpaired \\ud800-\\udfff escape): not valid Unicode text",
            code="invalid_text",
        ) from None


def dumps_plain(obj: Any) -> bytes:
    """The fast path of :func:`canonical`, for callers that know ``obj`` is plain (ASCII keys, ints, strings)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def is_canonical(obj: Any, data: bytes) -> bool:
    """Whether ``data`` is exactly the canonical form of ``obj`` (what a verifier checks of every entry)."""
    return canonical(obj) == data


def digest(obj: Any) -> str:
    """The SHA-256 (hex) of ``obj``'s canonical JSON: how a structured value is committed to."""
    return hashlib.sha256(canonical(obj)).hexdigest()


def format_time(t: datetime) -> str:
    """RFC 3339 in UTC with microseconds: one spelling per instant, so entries hash reproducibly."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


__all__ = ["canonical", "digest", "dumps_plain", "format_time", "is_canonical"]
