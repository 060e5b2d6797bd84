"""Standard work identifiers, validated (check digits included) and put in canonical form.

A registry whose ISBNs have typos cannot be joined with a publisher's catalogue, so identifiers are checked
at the boundary and stored canonically: ISBN as 13 digits, ISRC upper case without hyphens, ISWC as
``T-123.456.789-C``'s bare ``T1234567890``, DOI lower-cased (DOIs are case-insensitive), URL as given once it
parses as http(s).

Example:
    >>> canonical("isbn", "0-306-40615-2")
    '9780306406157'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from copyalign.errors import InvalidInputError


def _isbn(raw: str) -> str | None:
    s = re.sub(r"[\s-]", "", raw).upper()
    if re.fullmatch(r"\d{9}[\dX]", s):
        total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(s))
        if total % 11:
            return None
        s = "978" + s[:9]
        return s + str((10 - sum((1, 3)[i % 2] * int(c) for i, c in enumerate(s)) % 10) % 10)
    if re.fullmatch(r"97[89]\d{10}", s):
        if sum((1, 3)[i % 2] * int(c) for i, c in enumerate(s)) % 10:
            return None
        return s
    return None


def _isrc(raw: str) -> str | None:
    s = raw.replace("-", "").upper()
    return s if re.fullmatch(r"[A-Z]{2}[A-Z0-9]{3}\d{7}", s) else None


def _iswc(raw: str) -> str | None:
    s = re.sub(r"[\s.\-]", "", raw).upper()
    if not re.fullmatch(r"T\d{10}", s):
        return None
    digits = s[1:10]
    check = (10 - (1 + sum((i + 1) * int(d) for i, d in enumerate(digits))) % 10) % 10
    return s if check == int(s[10]) else None


def _doi(raw: str) -> str | None:
    s = raw.strip()
    s = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:)", "", s, flags=re.IGNORECASE)
    return s.lower() if re.fullmatch(r"10\.\d{4,9}/\S+", s) else None


def _url(raw: str) -> str | None:
    s = raw.strip()
    try:
        parts = urlsplit(s)
    except ValueError:
        return None
    return s if parts.scheme in {"http", "https"} and parts.netloc else None


_CANON: Mapping[str, Callable[[str], str | None]] = {
    "isbn": _isbn,
    "isrc": _isrc,
    "iswc": _iswc,
    "doi": _doi,
    "url": _url,
}

SCHEMES = tuple(_CANON)


def canonical(scheme: str, value: str) -> str:
    """The canonical form of ``value`` under ``scheme``; raises :class:`InvalidInputError` if invalid."""
    key = scheme.lower()
    check = _CANON.get(key)
    if check is None:
        raise InvalidInputError(
            f"unknown identifier scheme {scheme!r}; expected one of {', '.join(SCHEMES)}",
            field=f"identifiers.{scheme}",
        )
    out = check(value) if isinstance(value, str) else None
    if out is None:
        raise InvalidInputError(f"{value!r} is not a valid {key.upper()}", field=f"identifiers.{scheme}")
    return out


def canonical_all(identifiers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): canonical(k, v) for k, v in sorted(identifiers.items())}
