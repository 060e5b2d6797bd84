"""Registration conflicts: a new work that is a copy or near-duplicate of a work another holder registered.

Two holders claiming one work is the conflict a collective management organisation must resolve before it
licenses or pays for the work (``works lookup`` would otherwise list two owners with different preferences).
Registration asks the matching engine which registered works the new content duplicates; the ones held by
someone else are conflicts, and the profile's ``registry.conflict_action`` says what follows:

=========  ================================================================================================
``allow``  registered; the answer carries a warning naming the other work and holder (status ``noted``)
``flag``   registered with the warning, and put on the operator's queue (status ``open``) until resolved
``refuse`` not registered: 409 ``registration_conflict`` naming the other work and holder
=========  ================================================================================================

Only whole-work matches count (:data:`DUPLICATE_MATCHES`), and shared passages that cover most of both texts
(``registry.conflict_min_share``: a few words edited, which the MinHash estimate can miss): a text that quotes a
passage of another, or quotes it whole inside a longer text, or an image merely alike in embedding space, is not
a second claim on the same work.

Example:
    >>> c = Conflict("wrk_a", "Sonnet", "pty_alice", "Alice", "near_duplicate", 0.91)
    >>> warning(c, "flag").split(";")[0]
    "a near-duplicate of 'Sonnet' (wrk_a), registered by Alice (pty_alice)"
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from copyalign.errors import InvalidInputError

#: The kinds of match that make a second claim on the same work (see :mod:`copyalign.core.matching.results`).
DUPLICATE_MATCHES = ("exact", "normalized", "near_duplicate", "perceptual")
ACTIONS = ("allow", "flag", "refuse")

_SAID = {
    "exact": "an exact copy",
    "normalized": "the same text",
    "near_duplicate": "a near-duplicate",
    "perceptual": "a near-identical image",
}


class ConflictStatus(enum.StrEnum):
    NOTED = "noted"  # registered under `allow`: on record, not queued
    OPEN = "open"  # registered under `flag`: on the operator's queue
    RESOLVED = "resolved"


class Resolution(enum.StrEnum):
    """What the operator decided; a record of the CMO's decision (ownership transfers happen elsewhere)."""

    BOTH_STAND = "both-stand"  # e.g. a licensed edition, a co-owned work: both registrations are right
    FIRST_HOLDER = "first-holder"  # the work belongs to the holder who registered it first
    SECOND_HOLDER = "second-holder"  # the work belongs to the holder whose registration was flagged

    @classmethod
    def parse(cls, value: str) -> Resolution:
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown decision {value!r}; expected one of {', '.join(r.value for r in cls)}", field="decision"
            ) from None


@dataclass(frozen=True, slots=True)
class Conflict:
    """The registered work (another holder's) that a new registration duplicates."""

    work_id: str
    title: str
    holder_id: str
    holder_name: str
    match: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "work_id": self.work_id,
            "title": self.title,
            "holder": {"id": self.holder_id, "name": self.holder_name},
            "match": self.match,
            "score": round(self.score, 4),
        }


class _Span(Protocol):
    @property
    def tokens(self) -> int: ...


class Match(Protocol):
    """What the matching engine says of one matched work (its ``WorkMatch``; the registry sits below matching,
    so it names the fields it reads rather than importing the class)."""

    @property
    def spans(self) -> Sequence[_Span]: ...

    @property
    def work_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def holder_id(self) -> str: ...
    @property
    def holder_name(self) -> str: ...
    @property
    def match(self) -> str: ...
    @property
    def score(self) -> float: ...


def is_duplicate(m: Match, *, query_tokens: int | None, min_share: float) -> bool:
    """A whole-work match, or passages covering at least ``min_share`` of the work (the engine's passage score)
    and of the query (its ``query_tokens``)."""
    if m.match in DUPLICATE_MATCHES:
        return True
    if m.match != "passage" or not query_tokens:
        return False
    return m.score >= min_share and sum(s.tokens for s in m.spans) / query_tokens >= min_share


def conflicts_in(
    matches: Iterable[Match], holder_id: str, *, query_tokens: int | None = None, min_share: float = 0.8
) -> list[Conflict]:
    """The duplicates (:func:`is_duplicate`) held by someone other than ``holder_id``, strongest first (as the
    engine ranks them); a passage match is reported as ``near_duplicate``."""
    return [
        Conflict(
            m.work_id,
            m.title,
            m.holder_id,
            m.holder_name,
            "near_duplicate" if m.match == "passage" else m.match,
            m.score,
        )
        for m in matches
        if m.holder_id != holder_id and is_duplicate(m, query_tokens=query_tokens, min_share=min_share)
    ]


def warning(c: Conflict, action: str) -> str:
    """The warning a registration carries, in words: what it duplicates, whose it is, what happens next."""
    said = _SAID.get(c.match, f"a {c.match} match")
    what = f"{said} of {c.title!r} ({c.work_id}), registered by {c.holder_name} ({c.holder_id})"
    follow = {
        "allow": "registered all the same, as this registry's policy allows",
        "flag": "flagged for the registry operator to resolve",
        "refuse": "this registry refuses a second claim on a registered work; ask its operator",
    }[action]
    return f"{what}; {follow}"


__all__ = [
    "ACTIONS",
    "DUPLICATE_MATCHES",
    "Conflict",
    "ConflictStatus",
    "Match",
    "Resolution",
    "conflicts_in",
    "is_duplicate",
    "warning",
]
