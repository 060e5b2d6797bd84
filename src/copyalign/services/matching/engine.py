"""The matching engine: a query against the index's segments, evidence per work, no database.

What the match service, the corpus scanner's workers and the guard share. Each function probes every live
segment of every shard and merges the evidence per work (tombstoned works dropped); the registry's facts
(holder, title, preferences) are joined by :class:`~copyalign.services.matching.service.MatchService`.
:func:`index_entry` fingerprints one registered work for the index (it runs in worker processes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from copyalign.core.content import Limits, decode_text, open_image
from copyalign.core.matching import textfp
from copyalign.core.matching.imagefp import registered_hashes
from copyalign.core.matching.passages import Passage, passages, shared_tokens_bound
from copyalign.core.matching.query import TextQuery, image_query
from copyalign.core.matching.results import Evidence, Span
from copyalign.core.policy import MatchingSection
from copyalign.core.text import token_weight
from copyalign.errors import CopyalignError
from copyalign.services.matching.index import MatchIndex
from copyalign.services.matching.segment import IndexedWork, Segment
from copyalign.services.matching.shard import Shard

MAX_GAP = 10
"""Tokens a passage may skip (substituted, inserted or OCR-damaged words) and still be one passage."""
MAX_POSTINGS = 2000
"""A fingerprint found in more works than this is a stock phrase and is not used as evidence."""


def probe_text(seg: Segment, q: TextQuery, cfg: MatchingSection) -> list[tuple[int, Evidence]]:
    """The matching engine on one segment: evidence per local work number, before the registry is asked."""
    out: list[tuple[int, Evidence]] = []
    raw_hits, norm_hits = seg.exact(q.sha, q.norm)
    out += [(i, Evidence("exact", 1.0)) for i in raw_hits]
    out += [(i, Evidence("normalized", 1.0)) for i in norm_hits]
    if q.signature is not None:
        out += [
            (i, Evidence("near_duplicate", j))
            for i, j in seg.near_duplicates(q.signature, cfg.near_duplicate_jaccard, q.lsh)
        ]
    works, wpos, qpos = seg.fingerprint_hits(q.fp.fingerprints, q.fp.winnowed, MAX_POSTINGS)
    if works.size == 0:
        return out
    # Winnowing: a shared run of T tokens shares at least (T - K + 1) // W fingerprints. Capped at two per
    # weight, as passages may be pieced together across small edits.
    weight = q.passage_weight(cfg.min_passage_tokens)
    min_hits = min(2 * weight, max(1, (cfg.min_passage_tokens * weight - textfp.K + 1) // textfp.W))
    # Only the works with enough hits are verified, chosen on the sorted postings without a Python loop: common
    # k-grams (a language's stock phrases, each under MAX_POSTINGS) give a Chinese query a thousand works or
    # more with a hit or two, and looping over them was most of a Chinese scan's matching time.
    order = np.argsort(works)  # not stable: passages() and the bound do not depend on the hits' order (3x faster)
    works = works[order]
    first = np.flatnonzero(np.concatenate(([True], works[1:] != works[:-1])))
    counts = np.diff(np.append(first, works.size))
    enough = counts >= min_hits
    if not enough.any():
        return out
    first, counts = first[enough], counts[enough]
    wpos, qpos = wpos[order], qpos[order]
    need = cfg.min_passage_tokens * weight  # the fewest tokens a reportable passage matches (passage_weight)
    first, counts = _may_hold_a_passage(seg, q, works, wpos, qpos, first, counts, need)
    for w, f, c in zip(works[first].tolist(), first.tolist(), counts.tolist(), strict=True):
        wtok, wstart, wend = seg.tokens(w)
        found = passages(
            q.tokens32, np.asarray(wtok), qpos[f : f + c], wpos[f : f + c], min_run=textfp.K, max_gap=MAX_GAP
        )
        spans = [
            _span(p, q.fp, wstart, wend)
            for p in found
            if p.matched >= cfg.min_passage_tokens * _token_weight(q.text, q.fp, p)
        ]
        if spans:
            score = min(1.0, sum(s.tokens for s in spans) / max(1, int(wtok.shape[0])))
            out.append((w, Evidence("passage", score, spans)))
    return out


def _may_hold_a_passage(
    seg: Segment,
    q: TextQuery,
    works: np.ndarray,
    wpos: np.ndarray,
    qpos: np.ndarray,
    first: np.ndarray,
    counts: np.ndarray,
    need: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate works (runs ``first``/``counts`` of the sorted postings) whose hits lie on runs of equal
    tokens long enough, together, for a passage of ``need`` tokens: a work that shares only scattered stock
    phrases is dropped here, for all candidates in one pass, instead of by :func:`passages` one by one."""
    if first.size == 0:
        return first, counts
    group = np.repeat(np.arange(first.size), counts)
    rows = np.arange(int(counts.sum())) + np.repeat(first - (np.cumsum(counts) - counts), counts)  # their postings
    w = works[rows]
    offsets = seg.arrays["tok_offsets"]
    lo, hi = np.asarray(offsets[w], dtype=np.int64), np.asarray(offsets[w + 1], dtype=np.int64)
    bound = shared_tokens_bound(
        q.tokens32, seg.arrays["tok_hash"], lo, hi, qpos[rows], lo + wpos[rows], group, first.size, need
    )
    keep = bound >= need
    return first[keep], counts[keep]


def _span(p: Passage, fp: textfp.TextFingerprint, wstart: np.ndarray, wend: np.ndarray) -> Span:
    return Span(
        (int(fp.starts[p.query_start]), int(fp.ends[p.query_end - 1])),
        (int(wstart[p.work_start]), int(wend[p.work_end - 1])),
        p.matched,
    )


def find_text(
    index: MatchIndex, q: TextQuery, cfg: MatchingSection, *, extra: Sequence[Segment] = ()
) -> dict[str, Evidence]:
    """The fingerprint evidence for a text over every shard: what the service, the corpus scanner and the
    guard share. It needs no database (scanner workers call it with a read-only index). ``extra`` segments
    (in memory, not yet saved: the works a registration must see at once) are probed after the shards."""
    return gather_text([shard_text(shard, q, cfg) for shard in index.shards], q, cfg, extra=extra)


def shard_text(shard: Shard, q: TextQuery, cfg: MatchingSection) -> dict[str, Evidence]:
    """:func:`find_text` on one shard: its live segments' evidence merged, its tombstoned works dropped (what a
    shard group of :mod:`~copyalign.services.matching.distributed` answers, shard by shard)."""
    found: dict[str, Evidence] = {}
    for seg in shard.live():
        _probe_text(found, seg, q, cfg)
    for wid in shard.tombstones & found.keys():
        del found[wid]
    return found


def gather_text(
    parts: Sequence[dict[str, Evidence]], q: TextQuery, cfg: MatchingSection, *, extra: Sequence[Segment] = ()
) -> dict[str, Evidence]:
    """The answer from every shard's answer (in shard order), then the ``extra`` segments probed: one function
    for the index in this process and for shards answered over Ray, so that both answer alike by construction."""
    found = merge_shards(parts)
    for seg in extra:
        _probe_text(found, seg, q, cfg)
    return found


def merge_shards(parts: Sequence[dict[str, Evidence]]) -> dict[str, Evidence]:
    """The shards' answers as one, in shard order (a work lives in one shard, so this merges only in theory)."""
    found: dict[str, Evidence] = {}
    for part in parts:
        for wid, ev in part.items():
            cur = found.get(wid)
            found[wid] = ev if cur is None else cur.merge(ev)
    return found


def _probe_text(found: dict[str, Evidence], seg: Segment, q: TextQuery, cfg: MatchingSection) -> None:
    for i, ev in probe_text(seg, q, cfg):
        wid = seg.work_id(i)
        cur = found.get(wid)
        found[wid] = ev if cur is None else cur.merge(ev)


def find_image(
    index: MatchIndex,
    img: Any,
    sha: bytes,
    cfg: MatchingSection,
    *,
    query: np.ndarray | None = None,
    extra: Sequence[Segment] = (),
) -> dict[str, Evidence]:
    """Exact and perceptual evidence for a decoded image over every shard; ``query`` is
    :func:`image_query`'s result when the caller searches several indexes with one image; ``extra`` as in
    :func:`find_text`."""
    q = image_query(img) if query is None else query
    return gather_image([shard_image(shard, q, sha, cfg) for shard in index.shards], q, sha, cfg, extra=extra)


def shard_image(shard: Shard, q: np.ndarray, sha: bytes, cfg: MatchingSection) -> dict[str, Evidence]:
    """:func:`find_image` on one shard, for :func:`image_query`'s hashes ``q`` (as :func:`shard_text`)."""
    found: dict[str, Evidence] = {}
    for seg in shard.live():
        _probe_image(found, seg, q, sha, cfg)
    for wid in shard.tombstones & found.keys():
        del found[wid]
    return found


def gather_image(
    parts: Sequence[dict[str, Evidence]],
    q: np.ndarray,
    sha: bytes,
    cfg: MatchingSection,
    *,
    extra: Sequence[Segment] = (),
) -> dict[str, Evidence]:
    """As :func:`gather_text`, for an image."""
    found = merge_shards(parts)
    for seg in extra:
        _probe_image(found, seg, q, sha, cfg)
    return found


def _probe_image(found: dict[str, Evidence], seg: Segment, q: np.ndarray, sha: bytes, cfg: MatchingSection) -> None:
    raw_hits, _ = seg.exact(sha, None)
    for i in raw_hits:
        found[seg.work_id(i)] = Evidence("exact", 1.0)
    rows, _qi, dist = seg.image_candidates(q, cfg.pdq_max_distance)
    for r, d in zip(rows.tolist(), dist.tolist(), strict=True):
        wid = seg.work_id(int(seg.arrays["pdq_work"][r]))
        region = tuple(float(v) for v in seg.arrays["pdq_region"][r])
        ev = Evidence("perceptual", 1 - d / 256, region=region, distance=d)  # type: ignore[arg-type]
        cur = found.get(wid)
        if cur is None or ev.better_than(cur):
            found[wid] = ev


def index_entry(
    work_id: str, kind: str, sha256: str, norm_sha256: str | None, data: bytes, limits: Limits
) -> IndexedWork:
    norm = bytes.fromhex(norm_sha256) if norm_sha256 else None
    if kind == "text":
        return IndexedWork(work_id, kind, bytes.fromhex(sha256), norm, text=textfp.text_fingerprint(decode_text(data)))
    img, _ = open_image(data, limits)
    return IndexedWork(work_id, kind, bytes.fromhex(sha256), norm, images=registered_hashes(img))


def _entry_star(args: tuple[str, str, str, str | None, bytes, Limits]) -> IndexedWork | None:
    try:
        return index_entry(*args)
    except CopyalignError:
        return None


def _token_weight(text: str, fp: textfp.TextFingerprint, p: Passage) -> int:
    """How many tokens count as one word in this passage (:func:`copyalign.core.text.token_weight`)."""
    span = text[int(fp.starts[p.query_start]) : int(fp.ends[p.query_end - 1])]
    return token_weight(span, p.query_end - p.query_start)


__all__ = [
    "MAX_GAP",
    "MAX_POSTINGS",
    "find_image",
    "find_text",
    "gather_image",
    "gather_text",
    "index_entry",
    "merge_shards",
    "probe_text",
    "shard_image",
    "shard_text",
]
