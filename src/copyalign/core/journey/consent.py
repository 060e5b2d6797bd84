"""Terms of use and their acceptance, as values that cannot be built invalid (seed 004 ¶84; seed 003 §4.3).

A provider publishes its terms in versions; each version's texts (per language) are committed to by their
digest in the version's log entry, so that what a user accepted can be shown later. Acceptances come in batches
(a provider's sign-up flow reports the users who ticked the box): the batch's log entry commits to the digest of
its sorted user pseudonyms, never to the pseudonyms in clear.

Example:
    >>> check_version("2026-01")
    '2026-01'
    >>> batch_digest(["b", "a"]) == batch_digest(["a", "b"])
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from copyalign.core.canonical import digest
from copyalign.errors import InvalidInputError

_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$")
MAX_TEXT_CHARS = 20_000
MAX_BATCH = 10_000
MAX_LANGUAGES = 30


def check_version(version: object) -> str:
    """A terms version: 1-40 letters, digits, dots, dashes or underscores, starting with a letter or digit."""
    if not isinstance(version, str) or not _VERSION.match(version):
        raise InvalidInputError(
            f"not a terms version: {version!r} (1-40 letters, digits, '.', '-' or '_')", field="version"
        )
    return version


def check_texts(texts: Mapping[str, str]) -> dict[str, str]:
    """The terms' texts per language: at least one, none empty, none over :data:`MAX_TEXT_CHARS`."""
    if not isinstance(texts, Mapping) or not texts:
        raise InvalidInputError("give the terms' text in at least one language", field="texts")
    if len(texts) > MAX_LANGUAGES:
        raise InvalidInputError(f"{len(texts)} languages; at most {MAX_LANGUAGES}", field="texts")
    out: dict[str, str] = {}
    for lang, text in texts.items():
        if not isinstance(lang, str) or not re.match(r"^[A-Za-z]{2,8}(-[0-9A-Za-z]{1,8})*$", lang):
            raise InvalidInputError(f"not a language tag: {lang!r}", field="texts")
        if not isinstance(text, str) or not text.strip():
            raise InvalidInputError(f"the {lang} text of the terms is empty", field="texts")
        if len(text) > MAX_TEXT_CHARS:
            raise InvalidInputError(
                f"the {lang} text is {len(text)} characters; at most {MAX_TEXT_CHARS}", field="texts"
            )
        out[lang] = text.strip()
    return dict(sorted(out.items()))


def texts_digest(texts: Mapping[str, str]) -> str:
    """The digest a terms version's log entry commits to (canonical JSON of the texts)."""
    return digest(dict(texts))


def batch_digest(user_refs: Iterable[str]) -> str:
    """The digest of an acceptance batch: its sorted, distinct pseudonyms."""
    return digest(sorted(set(user_refs)))


def clean_users(users: Iterable[object]) -> list[str]:
    """The users of an acceptance batch: non-empty strings, at most :data:`MAX_BATCH`, duplicates dropped."""
    if isinstance(users, str):
        raise InvalidInputError("give a list of users, not one string", field="users")
    out: list[str] = []
    for i, u in enumerate(users):
        if not isinstance(u, str) or not u.strip():
            raise InvalidInputError(f"user {i + 1} is empty", field="users")
        if len(u) > 200:
            raise InvalidInputError(f"user {i + 1} is {len(u)} characters; at most 200", field="users")
        out.append(u.strip())
    if not out:
        raise InvalidInputError("the batch names no user", field="users")
    if len(out) > MAX_BATCH:
        raise InvalidInputError(f"{len(out)} users; at most {MAX_BATCH} per batch", field="users")
    return list(dict.fromkeys(out))


__all__ = ["MAX_BATCH", "MAX_TEXT_CHARS", "batch_digest", "check_texts", "check_version", "clean_users", "texts_digest"]
