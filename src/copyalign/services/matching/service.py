"""``matching``: which registered works are inside this text or image, where, and what do they allow.

One answer for every duty that touches content (the corpus scanner, the output filter, the takedown desk):
the engine's evidence (:mod:`copyalign.services.matching.engine`) joined with the registry's facts — holder,
title, preferences as resolved now — as :class:`~copyalign.core.matching.results.MatchResult` (the kinds of
match and their order are documented there). ``semantic`` matches need an embedding model configured
(:mod:`~copyalign.services.matching.embeddings`): a passage of the query (or the image) whose embedding is at
least ``matching.semantic_min_similarity`` (``image_semantic_min_similarity``) cosine-similar to one of the
work's.

The index is refreshed from the store before a query when ``refresh_seconds`` have passed since the last
check (a new registration is therefore visible within that time); preferences are read from the store on
every answer, so a changed preference is visible at once. A refresh fingerprints large batches on a process
pool of ``workers`` (:mod:`copyalign.engines`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from sqlalchemy import func, select

from copyalign.core.authz import Action, require
from copyalign.core.content import Limits, decode_text, encode_text, guess_kind, open_image
from copyalign.core.matching import textfp
from copyalign.core.matching.imagefp import PDQ_MIN_QUALITY, ImageHash, registered_hashes
from copyalign.core.matching.query import TextQuery, image_query, pixel_sha256
from copyalign.core.matching.results import MATCH_ORDER, Evidence, MatchResult, Span, WorkMatch
from copyalign.core.policy import MatchingSection
from copyalign.core.registry.conflicts import Conflict, conflicts_in
from copyalign.core.registry.preferences import parse_jurisdiction, resolve_all
from copyalign.engines import LocalExecutor, chunked, in_order
from copyalign.errors import ContentTooLargeError, CopyalignError, InvalidInputError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.matching.embeddings import MAX_QUERY_CHUNKS, Embedder, text_chunks
from copyalign.services.matching.engine import (
    find_image,
    find_text,
    gather_image,
    gather_text,
    index_entry,
    merge_shards,
    shard_image,
    shard_text,
)
from copyalign.services.matching.index import MatchIndex
from copyalign.services.matching.segment import IndexedWork, Segment
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import statements_for
from copyalign.store.models import Party, Work

if TYPE_CHECKING:
    from copyalign.services.matching.distributed import RayShards

ImageChecked = tuple[bytes, np.ndarray, list[ImageHash], list[dict[str, Evidence]] | None]
TextChecked = tuple[bytes, int, list[dict[str, Evidence]]]
POOL_MIN = 64
"""Works of a kind from which a registration's conflict check goes to the process pool."""
REFRESH_BATCH = 2000
IMAGE_HASHES_KEPT = 10_000
"""Images of a bulk import whose index hashes its conflict check computed, kept until the index takes them
(the oldest dropped first: the index computes those again). At most ~65 MB (19 hashes an image), also when a
refused batch leaves its hashes behind."""
#: Works a registration probes from memory before the index is refreshed on disk instead (_pending); under the
#: 64 from which a refresh starts a process pool, so that the refresh it triggers stays in this process.
PENDING_MAX = 48
MAX_SEMANTIC_SPANS = 5


def _entries(limits: Limits, rows: Sequence[tuple[str, str, str, str | None, bytes]]) -> list[IndexedWork | None]:
    """Index entries for a batch of works (in a worker process or this one); None for a work that cannot be
    read (the registry accepted it, so this only happens to a blob damaged since)."""
    out: list[IndexedWork | None] = []
    for row in rows:
        try:
            out.append(index_entry(*row, limits))
        except CopyalignError:
            out.append(None)
    return out


@dataclass(frozen=True, slots=True)
class PoolCheck:
    """What a pool worker needs to check a bulk import's works: the limits to decode them with and, for the
    worker to search the index as well, its directory, its shard count and the matching settings."""

    limits: Limits
    index: tuple[str, int] | None = None
    cfg: MatchingSection | None = None


_READERS: dict[tuple[str, int], MatchIndex] = {}
"""The index each worker process searches, by (directory, shards): opened once, its manifest re-read a task."""


def _reader(directory: str, shards: int) -> MatchIndex:
    idx = _READERS.get((directory, shards))
    if idx is None or len(idx.shards) != shards:
        while len(_READERS) >= 4:  # a worker serves one index; tests and tools may open several in turn
            del _READERS[next(iter(_READERS))]
        idx = _READERS[(directory, shards)] = MatchIndex.reader(Path(directory))
    idx.reload()
    return idx


def text_checks(check: PoolCheck, texts: Sequence[bytes]) -> list[TextChecked]:
    """For each text: its digest, its token count and each shard's evidence for it (``check`` must name the
    index), as :func:`image_checks` for images. Only that comes back: the query's arrays (12-16 KB a text) cost
    more to send than to compute, and the registering process needs them only for works the index has not
    taken yet, whose search it makes itself."""
    if check.index is None or check.cfg is None:
        raise ValueError("a text check on the pool searches the index: name it")
    idx = _reader(*check.index)
    out: list[TextChecked] = []
    for data in texts:
        q = TextQuery.of(decode_text(data), data)
        out.append((q.sha, int(q.fp.size), [shard_text(shard, q, check.cfg) for shard in idx.shards]))
    return out


def image_checks(check: PoolCheck, images: Sequence[bytes]) -> list[ImageChecked]:
    """For each image: its digest and the PDQ words a registration's conflict check searches, the hashes the
    index will keep of it once registered (with its crops), and, where ``check`` names the index, each shard's
    evidence for it (:func:`~copyalign.services.matching.engine.shard_image`). One decoding for all of it, in
    a worker process for a bulk import, so that the index search, most of an image's check in a large
    registry, runs on the pool beside the hashing instead of after it in the registering process.

    The index is read as it is when the task starts, which is at least as new as what the caller saw before it
    handed the task over: works added since are found twice (here and in the caller's pending segment), which
    the merge of evidence absorbs, and none is missed."""
    idx = None if check.index is None else _reader(*check.index)
    out: list[ImageChecked] = []
    for data in images:
        img, _ = open_image(data, check.limits)
        sha, q = hashlib.sha256(data).digest(), image_query(img)
        parts = None
        if idx is not None and check.cfg is not None:
            parts = [shard_image(shard, q, sha, check.cfg) for shard in idx.shards]
        out.append((sha, q, registered_hashes(img), parts))
    return out


X = TypeVar("X")
Y = TypeVar("Y")


def _images_on_pool(
    pool: Callable[[], LocalExecutor] | None,
    fn: Callable[[Limits, Sequence[X]], list[Y]],
    limits: Limits,
    items: Sequence[X],
    kinds: Sequence[str],
    size: int,
) -> list[Y]:
    """``fn(limits, items)``, in order: the images' part on the pool (``pool()``, when given and there are at
    least 64 of them), the texts' in this process.

    An image is worth a worker process (decoding and PDQ hashes: ~1 ms for a query, ~6 ms for an index entry
    with its crops); a text is not: its query or index entry costs less to compute here (~0.02 to 0.09 ms) than
    its arrays (12 to 16 KB) cost to pickle in the worker and unpickle here, and the pool's time was spent
    twice over on sending them back."""
    away = [i for i, kind in enumerate(kinds) if kind != "text"]
    if pool is None or len(away) < 64:
        return fn(limits, items)
    here = [i for i, kind in enumerate(kinds) if kind == "text"]
    out: dict[int, Y] = dict(zip(here, fn(limits, [items[i] for i in here]), strict=True))
    done = (r for part in in_order(pool(), fn, limits, chunked([items[i] for i in away], size)) for r in part)
    out.update(zip(away, done, strict=True))
    return [out[i] for i in range(len(items))]


@contextmanager
def _closing(get: Callable[[], LocalExecutor | None]) -> Iterator[None]:
    """Close the executor ``get`` returns at the end of the block, if one was started in it."""
    try:
        yield
    finally:
        ex = get()
        if ex is not None:
            ex.close()


class MatchService(ServiceBase):
    def __init__(
        self,
        deps: Deps,
        index: MatchIndex,
        *,
        refresh_seconds: float = 1.0,
        workers: int = 1,
        embedders: Sequence[Embedder] = (),
        remote: RayShards | None = None,
    ) -> None:
        super().__init__(deps)
        self.remote = remote  # the shards served over Ray (distributed.py), or None: this process's index
        self.deps = deps
        self.index = index
        self.refresh_seconds = refresh_seconds
        self.workers = workers
        self.embedders = {e.kind: e for e in embedders}
        self._checked = float("-inf")
        # registration's view of the works the index has not taken yet (duplicates, _pending)
        self._pending_lock = threading.Lock()
        self._pending_entries: dict[str, IndexedWork] = {}
        self._pending_segment: tuple[tuple[str, ...], Segment] | None = None
        # the index hashes of images a conflict check decoded, by SHA-256 (hex), until the index takes them
        self._image_hashes: dict[str, list[ImageHash]] = {}
        self._image_hashes_lock = threading.Lock()

    def _keep_image_hashes(self, sha: bytes, hashes: list[ImageHash]) -> None:
        with self._image_hashes_lock:
            self._image_hashes[sha.hex()] = hashes
            while len(self._image_hashes) > IMAGE_HASHES_KEPT:
                del self._image_hashes[next(iter(self._image_hashes))]  # the oldest (dicts keep insertion order)

    def _kept_entry(self, work_id: str, kind: str, sha256: str, norm_sha256: str | None) -> IndexedWork | None:
        """The index entry of an image whose hashes a conflict check left here (taken: each is used once), or
        None. Not with an image model: its embedding needs the image itself."""
        if kind != "image" or "image" in self.embedders:
            return None
        with self._image_hashes_lock:
            hashes = self._image_hashes.pop(sha256, None)
        if hashes is None:
            return None
        norm = bytes.fromhex(norm_sha256) if norm_sha256 else None
        return IndexedWork(work_id, kind, bytes.fromhex(sha256), norm, images=hashes)

    # -- keeping the index fresh -----------------------------------------------------------------------
    def refresh(self) -> int:
        """Index every work registered since the watermark; returns how many were added."""
        added = batches = 0
        pool: LocalExecutor | None = None  # started on the first large batch, for every batch after it
        with self.index.lock(), _closing(lambda: pool):
            while True:
                mark = self.index.watermark
                with self.store.read() as s:
                    rows = s.execute(
                        select(Work.id, Work.kind, Work.sha256, Work.norm_sha256, Work.log_index)
                        .where(Work.log_index > mark)
                        .order_by(Work.log_index)
                        .limit(REFRESH_BATCH)
                    ).all()
                if not rows:
                    break
                kept: dict[str, IndexedWork | None] = {
                    r.id: e for r in rows if (e := self._kept_entry(r.id, r.kind, r.sha256, r.norm_sha256))
                }
                todo = [r for r in rows if r.id not in kept]
                args = [(r.id, r.kind, r.sha256, r.norm_sha256, self.blobs.get(r.sha256)) for r in todo]

                def started() -> LocalExecutor:
                    nonlocal pool
                    if pool is None:
                        pool = LocalExecutor(self.workers, shared=True)  # refreshed after every import batch
                    return pool

                workers = started if self.workers > 1 else None
                made = _images_on_pool(workers, _entries, self.limits, args, [r.kind for r in todo], 16)
                kept.update(zip((r.id for r in todo), made, strict=True))
                entries = [kept[r.id] for r in rows]
                self.index.add(self._embed([e for e in entries if e is not None], {a[0]: a[4] for a in args}))
                self.index.set_watermark(int(rows[-1].log_index))
                added += len(rows)
                batches += 1
            if batches > 1:
                # a bulk load leaves one segment per batch: merging them now makes every later query probe
                # few segments (at 1.8M image hashes each extra batch-sized segment, too small for a bucket
                # table, added ~0.7 ms to the guard's image check). By size tiers, not into one: a bulk
                # import refreshes after every batch, and merging the whole index each time was quadratic
                self.index.settle()
        self._checked = time.monotonic()
        return added

    def _embed(self, entries: list[IndexedWork], data: dict[str, bytes]) -> list[IndexedWork]:
        """Add embedding vectors to the entries, in one batch per model (here, not in the workers: a model
        is loaded once, not once per process)."""
        text_model, image_model = self.embedders.get("text"), self.embedders.get("image")
        if text_model is not None:
            texts = [e for e in entries if e.kind == "text"]
            decoded = {e.work_id: decode_text(data[e.work_id]) for e in texts}
            spans = {wid: text_chunks(text) for wid, text in decoded.items()}
            vectors = text_model.embed([decoded[e.work_id][a:b] for e in texts for a, b in spans[e.work_id]])
            at, out = 0, {}
            for e in texts:
                n = len(spans[e.work_id])
                out[e.work_id] = replace(
                    e, vectors=vectors[at : at + n], vector_spans=np.array(spans[e.work_id], dtype=np.int64)
                )
                at += n
            entries = [out.get(e.work_id, e) for e in entries]
        if image_model is not None:
            images = [e for e in entries if e.kind == "image"]
            vectors = image_model.embed([open_image(data[e.work_id], self.limits)[0] for e in images])
            done = {e.work_id: replace(e, vectors=vectors[i : i + 1]) for i, e in enumerate(images)}
            entries = [done.get(e.work_id, e) for e in entries]
        return entries

    def refresh_due(self) -> bool:
        """Whether the next :meth:`maybe_refresh` asks the store and may refresh (seconds, under the index lock)."""
        return time.monotonic() - self._checked >= self.refresh_seconds

    def maybe_refresh(self) -> None:
        self.index.reload()
        if time.monotonic() - self._checked < self.refresh_seconds:
            return
        with self.store.read() as s:
            latest = s.execute(select(func.max(Work.log_index))).scalar()
        self._checked = time.monotonic()
        if latest is not None and int(latest) > self.index.watermark:
            self.refresh()

    def rebuild(self) -> int:
        """Empty the index and index the whole registry again."""
        with self.index.lock():
            for shard in self.index.shards:
                shard.clear()
            self.index.set_watermark(0)
        n = self.refresh()
        self.index.compact()  # also when the registry fitted in one batch: no stale segment is left
        return n

    # -- queries ---------------------------------------------------------------------------------------
    def match_text(self, actor: Principal, text: str | bytes, *, limit: int = 20) -> MatchResult:
        require(actor.role, Action.LOOKUP, owner=False)
        raw = encode_text(text, field="text") if isinstance(text, str) else text
        if len(raw) > self.limits.max_bytes:
            raise ContentTooLargeError(
                f"text is {len(raw)} bytes, over the limit of {self.limits.max_bytes}; split it", field="text"
            )
        decoded = decode_text(raw, field="text")
        self.maybe_refresh()
        return self.search_text(decoded, raw, limit)

    def match_image(self, actor: Principal, data: bytes, *, limit: int = 20) -> MatchResult:
        require(actor.role, Action.LOOKUP, owner=False)
        if len(data) > self.limits.max_bytes:
            raise ContentTooLargeError(f"image is {len(data)} bytes, over the limit of {self.limits.max_bytes}")
        img, _ = open_image(data, self.limits, field="image")
        self.maybe_refresh()
        return self.search_image(img, data, limit)

    def match(self, actor: Principal, data: bytes, *, kind: str | None = None, limit: int = 20) -> MatchResult:
        """Match content of either kind (guessed from its magic bytes when ``kind`` is None)."""
        kind = kind or guess_kind(data)
        if kind == "text":
            return self.match_text(actor, data, limit=limit)
        if kind == "image":
            return self.match_image(actor, data, limit=limit)
        raise InvalidInputError(f"unknown kind {kind!r}; expected text or image", field="kind")

    def match_many(
        self, actor: Principal, items: Sequence[bytes], *, kind: str | None = None, limit: int = 20
    ) -> list[MatchResult | CopyalignError]:
        """Match each item; an item that cannot be read yields its error in place, the others still match."""
        out: list[MatchResult | CopyalignError] = []
        for data in items:
            try:
                out.append(self.match(actor, data, kind=kind, limit=limit))
            except CopyalignError as exc:
                out.append(exc)
        return out

    def duplicates(self, contents: Iterable[tuple[str, bytes]], holder_id: str) -> list[list[Conflict]]:
        """For each ``(kind, data)`` about to be registered for ``holder_id``, the works of other holders it
        duplicates (the registry's ``find_conflicts`` hook; the registry authorised its caller).

        Every registered work counts, a work registered a moment ago too, whatever ``refresh_seconds`` says:
        the works the index has not taken yet are probed from a segment built in memory (:meth:`_pending`),
        so that a registration does not pay for saving a segment to disk (~0.3 s with its fsyncs).

        ``contents`` may be a generator: a bulk registration hands each part of its batch over as its pool
        fingerprints it. With a pool (``workers`` > 1) and the index in this process, a batch's texts and its
        images (64 or more of a kind) are checked on the pool once all are in: each worker computes a part's
        queries and searches the index with them (:func:`text_checks`, :func:`image_checks`), and this process
        gathers the evidence; otherwise the texts are probed here as they come."""
        if isinstance(contents, Sequence) and not contents:
            return []
        extra = self._pending()
        # the registration this check precedes adds works right after it: the next query must look for them,
        # whatever refresh_seconds says (else a scan or a guard check a moment later would miss them)
        self._checked = float("-inf")
        share = self.policy.registry.conflict_min_share
        probes: list[tuple[dict[str, Evidence], bytes, int | None] | None] = []
        texts: list[tuple[int, bytes]] = []
        images: list[tuple[int, bytes]] = []
        cfg = self.policy.matching
        # with a pool, the workers search this process's index too; shards served over Ray are asked from here
        where = None if self.remote is not None else (str(self.index.directory), len(self.index.shards))
        pooled = self.workers > 1
        for kind, data in contents:
            if kind != "text":
                images.append((len(probes), data))
                probes.append(None)
            elif pooled and where is not None:  # sent to the pool once all are in, if there are enough
                texts.append((len(probes), data))
                probes.append(None)
            else:
                q = TextQuery.of(decode_text(data), data)
                probes.append((self.find_text(q, extra=extra), q.sha, q.fp.size))
        if len(texts) >= POOL_MIN and where is not None:
            # a bulk import of texts on a local index: each worker computes a part's queries and searches the
            # index with them, the registering process gathers (with the works the index has not taken yet)
            checked_texts = self._on_pool(text_checks, PoolCheck(self.limits, where, cfg), [d for _, d in texts])
            for (at, data), (sha, tokens, parts) in zip(texts, checked_texts, strict=True):
                if extra:  # works registered a moment ago (rare in a bulk import): searched here, with the query
                    found = gather_text(parts, TextQuery.of(decode_text(data), data), cfg, extra=extra)
                else:
                    found = merge_shards(parts)
                probes[at] = (found, sha, tokens)
        else:
            for at, data in texts:
                q = TextQuery.of(decode_text(data), data)
                probes[at] = (self.find_text(q, extra=extra), q.sha, q.fp.size)
        if images:  # a bulk import of images: their queries on the pool, each part probed here as it comes back
            if pooled and len(images) >= POOL_MIN:
                checked = self._on_pool(image_checks, PoolCheck(self.limits, where, cfg), [d for _, d in images])
                for (at, _), (sha, pdq, hashes, parts_i) in zip(images, checked, strict=True):
                    if parts_i is None:
                        found = self.find_image(None, sha, query=pdq, extra=extra)
                    else:
                        found = gather_image(parts_i, pdq, sha, cfg, extra=extra)
                    probes[at] = (found, sha, None)
                    self._keep_image_hashes(sha, hashes)
            else:
                for at, data in images:
                    img, _ = open_image(data, self.limits)
                    sha = hashlib.sha256(data).digest()
                    probes[at] = (self.find_image(None, sha, query=image_query(img), extra=extra), sha, None)
        found_all = [p for p in probes if p is not None]
        # the registry's facts for every work found in the batch at once: a query per item with a match was
        # a round trip each (on PostgreSQL ~0.5 ms; most items of a bulk import of related texts match some)
        holders = self._holders({wid for found, _sha, _t in found_all for wid in found})
        return [
            conflicts_in(self._conflict_facts(found, sha, holders), holder_id, query_tokens=tokens, min_share=share)
            for found, sha, tokens in found_all
        ]

    def _on_pool(
        self, fn: Callable[[PoolCheck, Sequence[bytes]], list[Y]], check: PoolCheck, datas: list[bytes]
    ) -> Iterator[Y]:
        """``fn(check, part)`` over ``datas`` in parts on the shared pool, each result in ``datas``' order as soon
        as its part is done."""
        size = max(16, len(datas) // (self.workers * 8))
        pool = LocalExecutor(self.workers, shared=True)
        return (r for part in in_order(pool, fn, check, chunked(datas, size)) for r in part)

    def _holders(self, work_ids: set[str]) -> dict[str, tuple[Work, str]]:
        """Each of ``work_ids``'s row and its holder's name, in one query per thousand."""
        out: dict[str, tuple[Work, str]] = {}
        ids = sorted(work_ids)
        with self.store.read() as s:
            for i in range(0, len(ids), 1000):
                rows = s.execute(
                    select(Work, Party.name)
                    .join(Party, Party.id == Work.holder_id)
                    .where(Work.id.in_(ids[i : i + 1000]))
                ).all()
                out.update({w.id: (w, name) for w, name in rows})
        return out

    def _conflict_facts(
        self, found: dict[str, Evidence], sha: bytes, holders: dict[str, tuple[Work, str]]
    ) -> list[WorkMatch]:
        """:meth:`_facts` without the preferences (a conflict does not report them), from :meth:`_holders`."""
        out = []
        for wid, ev in found.items():
            if wid not in holders:
                continue
            work, holder_name = holders[wid]
            if ev.match == "exact" and work.sha256 != sha.hex():  # an 8-byte key collision, not a copy
                continue
            out.append(_work_match(work, holder_name, ev))
        out.sort(key=lambda m: (MATCH_ORDER[m.match], -m.score, m.work_id))
        return out[:20]

    def _pending(self) -> list[Segment]:
        """The works registered since the index's watermark, as one segment in memory (their entries cached
        from one registration to the next); past :data:`PENDING_MAX` of them the index is refreshed instead."""
        with self._pending_lock:
            self.index.reload()
            with self.store.read() as s:
                rows = s.execute(
                    select(Work.id, Work.kind, Work.sha256, Work.norm_sha256)
                    .where(Work.log_index > self.index.watermark)
                    .order_by(Work.log_index)
                    .limit(PENDING_MAX + 1)
                ).all()
            if len(rows) > PENDING_MAX:
                self.refresh()
                self._pending_entries.clear()
                return []
            wanted = {r.id for r in rows}
            cache = {wid: e for wid, e in self._pending_entries.items() if wid in wanted}
            for r in rows:
                if r.id not in cache and (e := self._kept_entry(r.id, r.kind, r.sha256, r.norm_sha256)):
                    cache[r.id] = e
                if r.id not in cache:
                    try:
                        cache[r.id] = index_entry(
                            r.id, r.kind, r.sha256, r.norm_sha256, self.blobs.get(r.sha256), self.limits
                        )
                    except CopyalignError:  # a blob damaged since registration: the index skips it too
                        continue
            self._pending_entries = cache
            if not cache:
                return []
            key = tuple(sorted(cache))
            if self._pending_segment is None or self._pending_segment[0] != key:
                self._pending_segment = (key, Segment.build(list(cache.values()), min_quality=PDQ_MIN_QUALITY))
            return [self._pending_segment[1]]

    # -- the engine: on this process's index, or on the shards served over Ray ----------------------------
    def find_text(self, q: TextQuery, *, extra: Sequence[Segment] = ()) -> dict[str, Evidence]:
        """The engine's evidence for a text (:func:`~copyalign.services.matching.engine.find_text`), from the
        index in this process or from its shards over Ray: the same merge, so the same answer."""
        if self.remote is None:
            return find_text(self.index, q, self.policy.matching, extra=extra)
        return gather_text(self.remote.text_parts(q, self.policy.matching), q, self.policy.matching, extra=extra)

    def find_image(
        self, img: Any, sha: bytes, *, query: np.ndarray | None = None, extra: Sequence[Segment] = ()
    ) -> dict[str, Evidence]:
        """As :meth:`find_text`, for a decoded image (``query``: see :func:`find_image`)."""
        cfg = self.policy.matching
        if self.remote is None:
            return find_image(self.index, img, sha, cfg, query=query, extra=extra)
        q = image_query(img) if query is None else query
        return gather_image(self.remote.image_parts(q, sha, cfg), q, sha, cfg, extra=extra)

    def close(self) -> None:
        if self.remote is not None:
            self.remote.close()

    # -- the engine without authorisation (the guard and the scanner authorise their own callers) --------
    def search_text(self, text: str, raw: bytes, limit: int = 20, *, query: TextQuery | None = None) -> MatchResult:
        """The engine and the registry's facts for a decoded text, with no authorisation: for services that
        authorise their own callers (the guard), which may pass the :class:`TextQuery` they already made."""
        q = query or TextQuery.of(text, raw)
        found = self.find_text(q)
        if "text" in self.embedders:
            self._semantic_text(text, found, q.fp)
        return MatchResult("text", q.sha.hex(), self._facts(found, q.sha, "text", limit), len(text), q.fp.size)

    def _semantic_text(self, text: str, found: dict[str, Evidence], fp: textfp.TextFingerprint | None = None) -> None:
        """Add the embedding model's evidence to ``found`` (a passage of the query close to one of a work's)."""
        chunks = text_chunks(text, fingerprint=fp)[:MAX_QUERY_CHUNKS]
        if not chunks:
            return
        vectors = self.embedders["text"].embed([text[a:b] for a, b in chunks])
        best: dict[str, list[tuple[float, Span]]] = {}
        for shard in self.index.shards:
            for seg in shard.live():
                rows, qi, sims = seg.nearest("text", vectors, self.policy.matching.semantic_min_similarity)
                for r, i, sim in zip(rows.tolist(), qi.tolist(), sims.tolist(), strict=True):
                    wid = seg.work_id(int(seg.arrays["tvec_work"][r]))
                    if wid in shard.tombstones:
                        continue
                    w0, w1 = (int(v) for v in seg.arrays["tvec_span"][r])
                    best.setdefault(wid, []).append((sim, Span(chunks[i], (w0, w1), 0)))
        for wid, hits in best.items():
            hits.sort(key=lambda h: -h[0])
            ev = Evidence("semantic", min(1.0, hits[0][0]), [sp for _, sp in hits[:MAX_SEMANTIC_SPANS]])
            cur = found.get(wid)
            found[wid] = ev if cur is None else cur.merge(ev)

    def search_image(
        self,
        img: Any,
        data: bytes | None,
        limit: int = 20,
        *,
        query: np.ndarray | None = None,
        sha: bytes | None = None,
    ) -> MatchResult:
        """As :meth:`search_text`, for a decoded image and its encoded bytes (``query``: see :func:`find_image`).

        An image that was never a file (``data`` None) is searched by its pixels alone, under ``sha`` (by
        default :func:`pixel_sha256`): no registered file can equal it byte for byte.
        """
        cfg = self.policy.matching
        if sha is None:
            sha = hashlib.sha256(data).digest() if data is not None else pixel_sha256(img)
        found = self.find_image(img, sha, query=query)
        if "image" in self.embedders:
            vector = self.embedders["image"].embed([img])
            for shard in self.index.shards:
                for seg in shard.live():
                    rows, _qi, sims = seg.nearest("image", vector, cfg.image_semantic_min_similarity)
                    for r, sim in zip(rows.tolist(), sims.tolist(), strict=True):
                        wid = seg.work_id(int(seg.arrays["ivec_work"][r]))
                        if wid in shard.tombstones:
                            continue
                        ev = Evidence("semantic", min(1.0, sim), region=(0.0, 0.0, 1.0, 1.0))
                        cur = found.get(wid)
                        found[wid] = ev if cur is None else cur.merge(ev)
        return MatchResult("image", sha.hex(), self._facts(found, sha, "image", limit))

    def _facts(self, found: dict[str, Evidence], sha: bytes, kind: str, limit: int) -> list[WorkMatch]:
        """Join the index's evidence with the registry: holder, title, preferences as of now."""
        if not found:
            return []
        now = self.clock.now()
        juris = parse_jurisdiction(self.policy.profile.jurisdiction)
        with self.store.read() as s:
            rows = s.execute(
                select(Work, Party.name).join(Party, Party.id == Work.holder_id).where(Work.id.in_(list(found)))
            ).all()
            stmts = statements_for(s, [w for w, _ in rows])
        out = []
        for work, holder_name in rows:
            ev = found[work.id]
            if ev.match == "exact" and work.sha256 != sha.hex():  # an 8-byte key collision, not a copy
                continue
            resolved = resolve_all(
                stmts[work.id], at=now, jurisdiction=juris, defaults=self.policy.preferences.defaults
            )
            prefs = {p.value: {"value": r.value.value, "source": r.source.value} for p, r in resolved.items()}
            out.append(_work_match(work, holder_name, ev, prefs))
        out.sort(key=lambda m: (MATCH_ORDER[m.match], -m.score, m.work_id))
        return out[:limit]


def _work_match(
    work: Work, holder_name: str, ev: Evidence, prefs: dict[str, dict[str, Any]] | None = None
) -> WorkMatch:
    """The match of one registered work, from the engine's evidence (and its resolved preferences, for lookup)."""
    return WorkMatch(
        work.id, work.title, work.kind, work.holder_id, holder_name, ev.match, ev.score, ev.spans, ev.region,
        ev.distance, prefs or {},
    )  # fmt: skip
