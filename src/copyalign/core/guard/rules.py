"""How the output filter turns the matching engine's evidence into allow, warn or block.

Seed 004 ¶74-75: an output is screened before delivery by hash matching for exact reproductions and by
similarity for substantial ones, and the measure must not be broader than it needs to be (¶73). So the
strength of the evidence decides the action: a copy (exact, normalised or near-duplicate) always blocks; a
contained passage blocks once it is as long as the policy's smallest reportable passage (GitHub Copilot's
duplicate filter uses about 150 characters), and so does a shorter one once the output is more than
``max_copied_share`` copied (seed 003 §4.3: outputs with over 15 % protected features are restricted; counted
from ``min_copied_chars``, so that a quoted title is not a copy); below both it only warns. Perceptual and
semantic matches do what the policy says. An output that a takedown marked blocks, and so do its near copies.

Pure: the service gathers the evidence and the registry's facts, this module decides.

Example:
    >>> hit = OutputHit("w1", "passage", 0.1, spans=((0, 135),))
    >>> judge_output([hit], OutputRules(), output_chars=135)[0].value  # 135 characters, all copied
    'block'
    >>> judge_output([hit], OutputRules(), output_chars=2000)[0].value  # 6.75 % of a long answer
    'warn'
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from copyalign.errors import InvalidInputError


class GuardAction(enum.StrEnum):
    ALLOW = "allow"
    WARN = "warn"
    BLOCK = "block"


_RANK = {GuardAction.ALLOW: 0, GuardAction.WARN: 1, GuardAction.BLOCK: 2}


class TraceState(enum.StrEnum):
    """Where a generation's output stands: delivered, refused by the guard, or delivered and later disabled by a
    takedown measure (seed 004 ¶87: the provider no longer serves it)."""

    DELIVERED = "delivered"
    REFUSED = "refused"
    TAKEN_DOWN = "taken_down"


def trace_state(decision: GuardAction, *, taken_down: bool) -> TraceState:
    """The state of a trace from the guard's decision and whether a takedown measure disabled its output."""
    if decision is GuardAction.BLOCK:
        return TraceState.REFUSED
    return TraceState.TAKEN_DOWN if taken_down else TraceState.DELIVERED


COPY_MATCHES = frozenset({"exact", "normalized", "near_duplicate"})


def strongest(actions: Iterable[GuardAction]) -> GuardAction:
    """The most restrictive action of several (allow when there are none)."""
    return max(actions, key=_RANK.__getitem__, default=GuardAction.ALLOW)


@dataclass(frozen=True, slots=True)
class OutputRules:
    min_passage_chars: int = 150
    perceptual: GuardAction = GuardAction.BLOCK
    semantic: GuardAction = GuardAction.WARN
    max_copied_share: float = 0.15
    min_copied_chars: int = 40

    @classmethod
    def from_profile(cls, guard: Any) -> OutputRules:
        """The rules of a policy profile's ``guard`` section."""
        return cls(guard.min_passage_chars, GuardAction(guard.perceptual_action), GuardAction(guard.semantic_action),
                   guard.max_copied_share, guard.min_copied_chars)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutputHit:
    """One matched work (or one blocked output) with the engine's evidence.

    ``spans`` are character spans of the *output*, end exclusive.
    """

    ref_id: str
    match: str
    score: float
    title: str = ""
    spans: tuple[tuple[int, int], ...] = ()
    distance: int | None = None
    blocklist: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an item got its decision: the rule, the action it asks for, what matched and the evidence."""

    rule: str
    action: GuardAction
    refs: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action.value,
            "refs": list(self.refs),
            "titles": list(self.titles),
            "evidence": self.evidence,
        }


def covered_chars(spans: Sequence[tuple[int, int]]) -> int:
    """Characters of the output inside the union of ``spans`` (overlaps counted once).

    A re-punctuated passage can come back as two spans on either side of a changed word; what the reader
    sees reproduced is their union.
    """
    total, end = 0, -1
    for a, b in sorted(spans):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def judge_output(
    hits: Iterable[OutputHit], rules: OutputRules, *, output_chars: int | None = None
) -> tuple[GuardAction, tuple[Reason, ...]]:
    """The decision for one output and a reason per matched work, strongest first.

    ``output_chars`` is the length of a text output (None for an image): the share rule needs it. The share
    is that of the union of every registered work's passages, since what the reader gets is the output.
    """
    hits = list(hits)
    copied = covered_chars([sp for h in hits if h.match == "passage" and not h.blocklist for sp in h.spans])
    share = copied / output_chars if output_chars else 0.0
    too_much = copied >= rules.min_copied_chars and share > rules.max_copied_share
    reasons: list[Reason] = []
    for h in hits:
        evidence: dict[str, Any] = {"match": h.match, "score": round(h.score, 4), **h.detail}
        if h.spans:
            evidence["spans"] = [list(s) for s in h.spans]
        if h.distance is not None:
            evidence["distance"] = h.distance
        if h.blocklist:
            rule, action = "output.blocklist", GuardAction.BLOCK
        elif h.match in COPY_MATCHES:
            rule, action = f"output.{h.match}", GuardAction.BLOCK
        elif h.match == "passage":
            chars = covered_chars(h.spans)
            evidence["chars"] = chars
            if output_chars:
                evidence["copied_share"] = round(share, 4)
            if chars >= rules.min_passage_chars:
                rule, action = "output.passage", GuardAction.BLOCK
            elif too_much:
                rule, action = "output.copied_share", GuardAction.BLOCK
            else:
                rule, action = "output.short_passage", GuardAction.WARN
        elif h.match == "perceptual":
            rule, action = "output.perceptual", rules.perceptual
        elif h.match == "semantic":
            rule, action = "output.semantic", rules.semantic
        else:
            raise InvalidInputError(f"unknown match kind {h.match!r}", field="match")
        if action is GuardAction.ALLOW:
            continue
        reasons.append(Reason(rule, action, (h.ref_id,), (h.title,) if h.title else (), evidence))
    reasons.sort(key=lambda r: (-_RANK[r.action], r.rule, r.refs))
    return strongest(r.action for r in reasons), tuple(reasons)
