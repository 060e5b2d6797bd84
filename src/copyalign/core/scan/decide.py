"""The decision for every scanned item, taken in one place from the shards' evidence and the registry.

Per item, every reason that applies is recorded, and the decision is the most severe of them:

====================  ===========  ===============================================================
reason                decision     when
====================  ===========  ===============================================================
``unreadable``        drop         the record could not be decoded (bad UTF-8, a broken image, …)
``reserved:NAME``     drop         an opt-out signal NAME denies the use (robots, tdmrep, aipref, …)
``signal-error:NAME`` hold         a signal was present but could not be evaluated: never "allowed"
``signals:not-captured`` policy    a web item whose site's files were never captured: its reservations were
                                   not read (``scan.uncaptured_action``, hold by default): never "allowed"
``registry:opted-out`` drop        a matched work's preference denies the purpose
``registry:objected`` drop         a matched work is on one of the developer's exclusion lists
``registry:unlicensed`` policy     a matched work needs remuneration and no finalised notice licenses it
``duplicate:exact``   drop         the same normalised text (or image bytes) as an earlier kept item
``duplicate:near``    drop         a near duplicate (MinHash / PDQ) of an earlier kept item
``registry:licensed`` keep-licensed every matched work that needs a licence is licensed by a notice
``research:exempt``   keep         under a research claim: a work that needs remuneration is used free
``research:reservation-not-binding`` keep  under a research claim where opt-outs do not bind (EU Art. 3):
                                   the reservations above are recorded, not applied
====================  ===========  ===============================================================

A research claim (:mod:`copyalign.core.licensing.research`) changes two rows: works needing remuneration are
kept (``research:exempt``) instead of waiting for a licence, and where the profile's exception does not honour
opt-outs, reservations, registry denies, objections and unread signals are recorded with the decision ``keep``.

Deduplication runs last, over the items still kept, in corpus order: the first copy is kept, later ones
point to it (``duplicate_of``), so the result does not depend on how shards were spread over workers.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEVERITY = {"drop": 3, "hold": 2, "keep-licensed": 1, "keep": 0}


@dataclass(frozen=True, slots=True)
class WorkFacts:
    """What the registry says of a matched work, as of the scan."""

    holder_id: str
    title: str
    value: str  # the preference for the scan's purpose: allow | deny | allow-with-remuneration
    licensed_by: str | None = None  # the developer's finalised notice that licenses it
    excluded: str | None = None  # why one of the developer's finalised notices excluded it


@dataclass(slots=True)
class Decision:
    decision: str
    reasons: list[str] = field(default_factory=list)
    duplicate_of: str | None = None

    def add(self, reason: str, decision: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        if SEVERITY[decision] > SEVERITY[self.decision]:
            self.decision = decision


NOT_CAPTURED = "signals:not-captured"


def decide_item(
    row: Mapping[str, Any],
    facts: Mapping[str, WorkFacts],
    *,
    unlicensed_action: str,
    uncaptured_action: str = "hold",
    exempt: bool = False,
    opt_outs_bind: bool = True,
) -> Decision:
    """Signals, registry and readability: everything but deduplication. ``exempt`` and ``opt_outs_bind`` come
    from a research claim (see the module docstring)."""
    d = Decision("keep")
    if row["error"]:
        d.add("unreadable", "drop")
        return d
    remove, wait = ("drop", "hold") if opt_outs_bind else ("keep", "keep")
    not_binding = False
    if row.get("site") == "not-captured":
        d.add(NOT_CAPTURED, uncaptured_action if opt_outs_bind else "keep")
        not_binding = not opt_outs_bind
    for s in json.loads(row["signals"]):
        if s["verdict"] == "deny":
            d.add(f"reserved:{s['name']}", remove)
            not_binding = not opt_outs_bind
        elif s["verdict"] == "error":
            d.add(f"signal-error:{s['name']}", wait)
            not_binding = not opt_outs_bind
    needs_licence = licensed = 0
    for m in json.loads(row["matches"]):
        f = facts.get(m["work"])
        if f is None:  # removed from the registry since the index was read
            continue
        if f.value == "deny":
            d.add("registry:opted-out", remove)
            not_binding = not opt_outs_bind
        elif f.excluded is not None:
            d.add("registry:objected" if f.excluded == "objected" else "registry:opted-out", remove)
            not_binding = not opt_outs_bind
        elif f.licensed_by is not None:
            licensed += 1
        elif f.value == "allow-with-remuneration":
            needs_licence += 1
    if needs_licence:
        d.add("research:exempt" if exempt else "registry:unlicensed", "keep" if exempt else unlicensed_action)
    elif licensed:
        d.add("registry:licensed", "keep-licensed")
    if not_binding:
        d.add("research:reservation-not-binding", "keep")
    return d


def _jaccard(a: bytes, b: bytes) -> float:
    return float(np.mean(np.frombuffer(a, np.uint32) == np.frombuffer(b, np.uint32)))


def _pdq_distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def deduplicate(
    rows: Sequence[Mapping[str, Any]], decisions: Sequence[Decision], *, jaccard: float, pdq_distance: int
) -> None:
    """Mark later copies of kept items as duplicates, in place (see the module docstring)."""
    exact: dict[tuple[str, int], int] = {}
    near: dict[tuple[str, int], list[int]] = {}
    for i, (row, d) in enumerate(zip(rows, decisions, strict=True)):
        if d.decision not in ("keep", "keep-licensed") or not row["dedup_keys"]:
            continue
        kind = row["kind"]
        keys = row["dedup_keys"]
        first = exact.get((kind, keys[0]))
        if first is not None:
            d.add("duplicate:exact", "drop")
            d.duplicate_of = rows[first]["id"]
            continue
        mine = row["dedup_sig"]
        hit = None
        if mine is not None:
            seen: set[int] = set()
            for k in keys[1:]:
                for j in near.get((kind, k), ()):
                    if j in seen:
                        continue
                    seen.add(j)
                    other = rows[j]["dedup_sig"]
                    close = (
                        _jaccard(mine, other) >= jaccard
                        if kind == "text"
                        else _pdq_distance(mine, other) <= pdq_distance
                    )
                    if close:
                        hit = j
                        break
                if hit is not None:
                    break
        if hit is not None:
            d.add("duplicate:near", "drop")
            d.duplicate_of = rows[hit]["id"]
            continue
        exact[(kind, keys[0])] = i
        if mine is not None:
            for k in keys[1:]:
                near.setdefault((kind, k), []).append(i)


@dataclass
class WorkUse:
    """How much of one registered work a scan found, and what became of the items holding it."""

    work_id: str
    items: int = 0
    kept_items: int = 0
    tokens: int = 0  # matched tokens in kept items (what a usage report measures)
    bytes: int = 0
    decisions: dict[str, int] = field(default_factory=dict)


def work_use(rows: Iterable[Mapping[str, Any]], decisions: Iterable[Decision]) -> dict[str, WorkUse]:
    out: dict[str, WorkUse] = {}
    for row, d in zip(rows, decisions, strict=True):
        for m in json.loads(row["matches"]):
            u = out.setdefault(m["work"], WorkUse(m["work"]))
            u.items += 1
            u.decisions[d.decision] = u.decisions.get(d.decision, 0) + 1
            if d.decision in ("keep", "keep-licensed"):
                u.kept_items += 1
                # the tokens shared with the work when the engine located them, else the item's own
                u.tokens += int(m["tokens"]) or int(row["tokens"] or 0)
                u.bytes += int(row["bytes"])
    return out
