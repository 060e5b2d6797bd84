"""What the matching engine answers: which registered works are inside a query, how, and where.

Plain records, shared by every duty that touches content (the corpus scanner, the output filter, the takedown
desk): :class:`WorkMatch` per matched work with the kind of match, a score, the matched spans (text) or
region (image) and the registry facts needed downstream; :class:`MatchResult` for one query. The index's raw
finding for one work, before the registry is asked, is an :class:`Evidence`.

Kinds of match, strongest first (:data:`MATCH_ORDER`): ``exact`` (the same bytes), ``normalized`` (the same
text after normalisation), ``near_duplicate`` (the whole text is a near copy), ``passage`` (passages of the
work appear in the query), ``perceptual`` (an image within the PDQ distance), ``semantic`` (an embedding
close enough; the weakest evidence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MATCH_ORDER = {"exact": 0, "normalized": 1, "near_duplicate": 2, "passage": 3, "perceptual": 4, "semantic": 5}
"""Kinds of match, strongest first."""


@dataclass(frozen=True, slots=True)
class Span:
    query: tuple[int, int]  # character offsets, end exclusive
    work: tuple[int, int]
    tokens: int  # tokens equal on both sides (0 for a semantic match: the words may all differ)

    def to_dict(self) -> dict[str, Any]:
        return {"query": list(self.query), "work": list(self.work), "tokens": self.tokens}


@dataclass(frozen=True, slots=True)
class WorkMatch:
    work_id: str
    title: str
    kind: str
    holder_id: str
    holder_name: str
    match: str
    score: float
    spans: list[Span] = field(default_factory=list)
    region: tuple[float, float, float, float] | None = None
    distance: int | None = None
    preferences: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "work_id": self.work_id,
            "title": self.title,
            "kind": self.kind,
            "holder": {"id": self.holder_id, "name": self.holder_name},
            "match": self.match,
            "score": round(self.score, 4),
            "spans": [s.to_dict() for s in self.spans],
            "region": [round(v, 4) for v in self.region] if self.region else None,
            "distance": self.distance,
            "preferences": self.preferences,
        }
        return out


@dataclass(frozen=True, slots=True)
class MatchResult:
    kind: str
    sha256: str
    matches: list[WorkMatch]
    characters: int | None = None
    tokens: int | None = None

    @property
    def matched(self) -> bool:
        return bool(self.matches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sha256": self.sha256,
            "characters": self.characters,
            "tokens": self.tokens,
            "matches": [m.to_dict() for m in self.matches],
        }


@dataclass
class Evidence:
    """What one segment says about one work; several are merged into the answer for that work."""

    match: str
    score: float
    spans: list[Span] = field(default_factory=list)
    region: tuple[float, float, float, float] | None = None
    distance: int | None = None

    def better_than(self, other: Evidence) -> bool:
        return (MATCH_ORDER[self.match], -self.score) < (MATCH_ORDER[other.match], -other.score)

    def merge(self, other: Evidence) -> Evidence:
        """The strongest kind of match, with the passages' spans whichever kind wins."""
        best, rest = (other, self) if other.better_than(self) else (self, other)
        if not best.spans and rest.spans:
            best.spans = rest.spans
        return best


__all__ = ["MATCH_ORDER", "Evidence", "MatchResult", "Span", "WorkMatch"]
