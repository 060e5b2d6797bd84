"""Measured use: a notice's licensed works' use, and their share of the data features, from a scan's manifest.

The fee rises ×1.2 for every 10 % of data features used (seed 003 §4.4), so the share must not be the
developer's word alone. A scan of the training corpus records, per kept item, its kind, size, tokens and the
registered works found in it with the tokens they share; the manifest is committed to by the scan's log entry.
From those rows, for the works a notice licensed:

* **the training set** — the items the scan kept (``keep``, ``keep-licensed``), and those it held only because a
  work in them waited for a licence (``hold`` for ``registry:unlicensed`` alone: a scan run before the notice
  was finalised), since the licence being reported on is what lets them in — so that scanning early never
  measures less;
* **per-work measures** — over the training set: ``tokens`` shared with the
  work (the located passage's tokens, or the item's own when the engine matched the whole item), ``documents``
  (items holding it), ``images`` (images holding it) and ``bytes`` (of those items);
* **the share of data features** — per modality, the licensed works' part of the kept corpus: for text, the
  tokens of kept text items that are licensed works' (per item, the tokens shared with any licensed work, at most
  the item's own) over all tokens of kept text items; for images, the kept images holding a licensed work over all
  kept images. A corpus of both weighs each modality's share by its bytes among the kept items. The figure is
  rounded up at the sixth decimal, never down.

A declared share below the measured one is refused with both figures (the service's rule); the lines of the
report are the per-work measures in one unit (``tokens`` when the licensed works were found only in text,
``images`` only in images, ``bytes`` for both), which the distribution then divides the fee by.

Example:
    >>> rows = [{"kind": "text", "tokens": 100, "bytes": 600, "decision": "keep-licensed",
    ...          "matched_works": '[{"work": "w1", "tokens": 30}]'},
    ...         {"kind": "text", "tokens": 300, "bytes": 1800, "decision": "keep", "matched_works": "[]"}]
    >>> m = measure(rows, {"w1"})
    >>> m.share, m.unit, m.lines()
    (Decimal('0.075'), 'tokens', [('w1', '30')])
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from typing import Any

from copyalign.errors import InvalidInputError

KEPT = ("keep", "keep-licensed")
WAITING = frozenset({"registry:unlicensed"})  # held only for want of a licence
UNITS = ("tokens", "documents", "images", "bytes")
METHOD = (
    "share of data features = the licensed works' part of the training set (items kept, or held only for want of "
    "a licence): text, tokens shared with licensed works (per item at most its own) over all tokens of its text "
    "items; images, images holding a licensed work over all its images; both weighed by their bytes; rounded up "
    "at the sixth decimal (copyalign.core.licensing.measure)"
)
_PLACES = Decimal("0.000001")


@dataclass
class WorkMeasure:
    work_id: str
    tokens: int = 0
    documents: int = 0
    images: int = 0
    bytes: int = 0

    def get(self, unit: str) -> int:
        return int(getattr(self, unit))


@dataclass
class Measurement:
    """What a scan's manifest says of one notice's licensed works."""

    works: dict[str, WorkMeasure] = field(default_factory=dict)
    kept_items: int = 0
    text_tokens: int = 0
    text_bytes: int = 0
    images: int = 0
    image_bytes: int = 0
    licensed_tokens: int = 0
    licensed_images: int = 0
    share: Decimal = Decimal(0)

    @property
    def unit(self) -> str:
        """The unit the report's lines take: where the licensed works were found."""
        text = any(w.tokens for w in self.works.values())
        image = any(w.images for w in self.works.values())
        return "bytes" if text and image else "images" if image else "tokens"

    def lines(self, unit: str | None = None) -> list[tuple[str, str]]:
        """(work id, measure) for every licensed work found, in ``unit`` (default :attr:`unit`), by work id."""
        u = unit or self.unit
        if u not in UNITS:
            raise InvalidInputError(f"unit must be one of {', '.join(UNITS)}, not {u!r}", field="unit")
        return [(w, str(m.get(u))) for w, m in sorted(self.works.items()) if m.get(u) > 0]

    def kinds(self) -> dict[str, int]:
        """Bytes of kept items per kind of work use, for the type-of-work weight."""
        text = sum(w.bytes for w in self.works.values() if w.tokens)
        image = sum(w.bytes for w in self.works.values() if w.images)
        return {k: v for k, v in (("text", text), ("image", image)) if v}

    def to_dict(self) -> dict[str, Any]:
        return {
            "share": format(self.share, "f"),
            "method": METHOD,
            "kept_items": self.kept_items,
            "text_tokens": self.text_tokens,
            "licensed_tokens": self.licensed_tokens,
            "images": self.images,
            "licensed_images": self.licensed_images,
            "text_bytes": self.text_bytes,
            "image_bytes": self.image_bytes,
            "works_found": len(self.works),
            "unit": self.unit,
        }


def _matches(raw: Any) -> list[Mapping[str, Any]]:
    if not raw or raw == "[]":
        return []
    found = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(found, list):
        raise InvalidInputError("a manifest row's matched_works is not a list", field="manifest")
    return [m for m in found if isinstance(m, Mapping)]


def _ratio(part: int, whole: int) -> Decimal:
    return Decimal(part) / Decimal(whole) if whole else Decimal(0)


def measure(rows: Iterable[Mapping[str, Any]], licensed: Collection[str]) -> Measurement:
    """The licensed works' measures and share over the training set of a manifest (see the module docstring)."""
    m = Measurement()
    for row in rows:
        decision = row.get("decision")
        waiting = decision == "hold" and bool(row.get("reasons")) and set(row.get("reasons") or ()) <= WAITING
        if decision not in KEPT and not waiting:
            continue
        m.kept_items += 1
        kind = row.get("kind")
        size = int(row.get("bytes") or 0)
        tokens = int(row.get("tokens") or 0)
        if kind == "image":
            m.images += 1
            m.image_bytes += size
        else:
            m.text_tokens += tokens
            m.text_bytes += size
        shared = 0
        hit = False
        for match in _matches(row.get("matched_works")):
            work = str(match.get("work"))
            if work not in licensed:
                continue
            hit = True
            w = m.works.setdefault(work, WorkMeasure(work))
            w.documents += 1
            w.bytes += size
            if kind == "image":
                w.images += 1
            else:
                used = min(tokens, int(match.get("tokens") or 0) or tokens)
                w.tokens += used
                shared += used
        if kind == "image":
            m.licensed_images += 1 if hit else 0
        else:
            m.licensed_tokens += min(tokens, shared)
    text_share, image_share = _ratio(m.licensed_tokens, m.text_tokens), _ratio(m.licensed_images, m.images)
    if m.text_tokens and m.images:
        whole = m.text_bytes + m.image_bytes
        share = (
            (Decimal(m.text_bytes) * text_share + Decimal(m.image_bytes) * image_share) / Decimal(whole)
            if whole
            else max(text_share, image_share)
        )
    else:
        share = text_share if m.text_tokens else image_share
    m.share = min(Decimal(1), share.quantize(_PLACES, rounding=ROUND_CEILING)).normalize()
    return m


__all__ = ["KEPT", "METHOD", "UNITS", "WAITING", "Measurement", "WorkMeasure", "measure"]
