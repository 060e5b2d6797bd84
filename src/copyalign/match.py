"""The matching engine as a library: which registered works are inside a text or an image.

Example:
    >>> from copyalign import connect, match  # doctest: +SKIP
    >>> ca = connect()  # doctest: +SKIP
    >>> result = match.match_text(ca, open("novel-excerpt.txt").read())  # doctest: +SKIP
    >>> [(m.title, m.match, m.spans[0].query) for m in result.matches]  # doctest: +SKIP
    [('Moby-Dick', 'passage', (120, 2048))]

Every function acts as ``actor`` when given, otherwise as the registry's operator (in-process use on one's
own registry). Batched variants return one result per input, with a :class:`~copyalign.CopyalignError` in
place of any input that could not be read.
"""

from __future__ import annotations

from collections.abc import Sequence

from copyalign.context import Copyalign
from copyalign.core.matching.results import MatchResult, Span, WorkMatch
from copyalign.errors import CopyalignError, NotFoundError
from copyalign.services.registry.parties import Principal


def _actor(ca: Copyalign, actor: Principal | None) -> Principal:
    if actor is not None:
        return actor
    op = ca.parties.operator()
    if op is None:
        raise NotFoundError("this registry has no operator yet; pass actor= or run 'copyalign init'")
    return op


def match_text(ca: Copyalign, text: str | bytes, *, actor: Principal | None = None, limit: int = 20) -> MatchResult:
    return ca.matching.match_text(_actor(ca, actor), text, limit=limit)


def match_image(ca: Copyalign, data: bytes, *, actor: Principal | None = None, limit: int = 20) -> MatchResult:
    return ca.matching.match_image(_actor(ca, actor), data, limit=limit)


def match_texts(
    ca: Copyalign, texts: Sequence[str | bytes], *, actor: Principal | None = None, limit: int = 20
) -> list[MatchResult | CopyalignError]:
    items = [t.encode() if isinstance(t, str) else t for t in texts]
    return ca.matching.match_many(_actor(ca, actor), items, kind="text", limit=limit)


def match_images(
    ca: Copyalign, images: Sequence[bytes], *, actor: Principal | None = None, limit: int = 20
) -> list[MatchResult | CopyalignError]:
    return ca.matching.match_many(_actor(ca, actor), list(images), kind="image", limit=limit)


__all__ = ["MatchResult", "Span", "WorkMatch", "match_images", "match_text", "match_texts", "match_image"]
