"""Registering, reading and updating works.

Registration is all-or-nothing at every size: a single upload and a 10,000-line manifest go through the same
:meth:`WorkService.register_many`, which fingerprints everything first (in a process pool when asked),
refuses the whole batch on the first bad item (naming it), writes the blobs, and then inserts every row and
every log entry in one transaction (a ``COPY`` per table on PostgreSQL: :mod:`copyalign.store.bulk`). A crash
at any point leaves either the whole batch or none of it.

Before writing, each item is checked against the works other holders registered (``find_conflicts``, the
matching engine's hook): a copy or near-duplicate is allowed with a warning, flagged for the operator, or
refused, as the profile's ``registry.conflict_action`` says (:mod:`copyalign.core.registry.conflicts`). A bulk
registration probes each part of its batch as soon as the pool has fingerprinted it, while the pool goes on
with the next parts; what it refuses is still decided after every item is fingerprinted and checked.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, Role, require
from copyalign.core.content import Limits, check_text
from copyalign.core.registry.conflicts import Conflict, warning
from copyalign.core.registry.fingerprint import Fingerprint, fingerprint
from copyalign.core.registry.identifiers import canonical_all
from copyalign.core.registry.iscc import bands
from copyalign.engines import LocalExecutor, chunked, in_order
from copyalign.errors import ConflictError, CopyalignError, InvalidInputError, ItemError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.log.ledger import Event, Receipt
from copyalign.services.registry.blobgc import discard_unreferenced
from copyalign.services.registry.conflicts import record_conflicts
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import PreferenceInput, record_preferences
from copyalign.store.batching import in_batches
from copyalign.store.blobs import digest_of
from copyalign.store.bulk import insert_rows
from copyalign.store.models import Party, Work, WorkRevision

MAX_CREATORS = 100
#: From this many items on, registration fingerprints in a process pool and overlaps the blob writes.
BULK = 64

#: ``find_conflicts(contents, holder_id)``: for each ``(kind, data)``, the registered works of other holders it
#: duplicates (set by :func:`copyalign.context.connect` to the matching engine's check). ``contents`` may be a
#: generator, which a bulk registration feeds as its pool fingerprints.
FindConflicts = Callable[[Iterable[tuple[str, bytes]], str], list[list[Conflict]]]


def to_signed64(u: int) -> int:
    return u - (1 << 64) if u >= 1 << 63 else u


@dataclass(frozen=True, slots=True)
class WorkInput:
    """One work to register, as parsed at the boundary (API body, CLI arguments or manifest line)."""

    data: bytes
    title: str
    kind: str | None = None
    creators: tuple[str, ...] = ()
    identifiers: dict[str, str] = field(default_factory=dict)
    preferences: tuple[PreferenceInput, ...] = ()


@dataclass(frozen=True, slots=True)
class WorkView:
    id: str
    holder_id: str
    kind: str
    title: str
    creators: list[str]
    identifiers: dict[str, str]
    media_type: str
    size_bytes: int
    sha256: str
    iscc: str
    revision: int
    created_at: datetime
    updated_at: datetime
    log_index: int
    receipt: Receipt | None = None
    #: other holders' works this registration duplicates, and what the profile did about it
    conflicts: tuple[Conflict, ...] = ()
    conflict_action: str | None = None

    @property
    def warnings(self) -> list[str]:
        """The registration's warnings in words (one per duplicated work)."""
        return [warning(c, self.conflict_action or "allow") for c in self.conflicts]

    @classmethod
    def of_row(
        cls,
        row: dict[str, Any],
        receipt: Receipt | None = None,
        conflicts: Sequence[Conflict] = (),
        conflict_action: str | None = None,
    ) -> WorkView:
        skip = ("receipt", "conflicts", "conflict_action")
        return cls(
            **{f: row[f] for f in cls.__dataclass_fields__ if f not in skip},
            receipt=receipt,
            conflicts=tuple(conflicts),
            conflict_action=conflict_action if conflicts else None,
        )

    @classmethod
    def of(cls, w: Work, receipt: Receipt | None = None) -> WorkView:
        return cls(
            w.id,
            w.holder_id,
            w.kind,
            w.title,
            list(w.creators),
            dict(w.identifiers),
            w.media_type,
            w.size_bytes,
            w.sha256,
            w.iscc,
            w.revision,
            w.created_at,
            w.updated_at,
            w.log_index,
            receipt,
        )


def _check_meta(title: str, creators: Sequence[str], identifiers: dict[str, str]) -> tuple[str, dict[str, str]]:
    # the library and the CLI reach here without a pydantic boundary (a title from argv may hold surrogates)
    check_text(title, field="title")
    check_text(list(creators), field="creators")
    check_text(identifiers, field="identifiers")
    title = title.strip()
    if not title or len(title) > 1000:
        raise InvalidInputError("title must be 1 to 1000 characters", field="title")
    if len(creators) > MAX_CREATORS or any(not c.strip() or len(c) > 300 for c in creators):
        raise InvalidInputError(
            "creators must be up to 100 non-empty names of at most 300 characters", field="creators"
        )
    return title, canonical_all(identifiers)


def _fingerprint_one(args: tuple[bytes, str | None, Limits]) -> Fingerprint:
    data, kind, limits = args
    return fingerprint(data, limits, kind=kind)


def fingerprint_all(
    items: Sequence[WorkInput],
    limits: Limits,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> list[Fingerprint]:
    """Fingerprint in order; raises :class:`ItemError` naming the first item that fails.

    ``progress`` is called with the number of items done so far (every 1% or so).
    """
    with closing(fingerprint_parts(items, limits, workers=workers, progress=progress)) as parts:
        return [fp for part in parts for fp in part]


def fingerprint_parts(
    items: Sequence[WorkInput],
    limits: Limits,
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Generator[list[Fingerprint], None, None]:
    """:func:`fingerprint_all`'s fingerprints in consecutive parts, each as soon as the pool has it (all at once
    without a pool), so that the caller can work on one while the pool works on the next."""
    step = max(1, len(items) // 100)
    args = [(it.data, it.kind, limits) for it in items]
    if workers <= 1 or len(items) < BULK:
        out = []
        for i, a in enumerate(args):
            try:
                out.append(_fingerprint_one(a))
            except CopyalignError as exc:
                raise ItemError(i, exc) from exc
            if progress is not None and (i + 1) % step == 0:
                progress(i + 1)
        yield out
        return
    done = 0
    with LocalExecutor(workers, shared=True) as ex:  # a bulk import calls this batch after batch
        for batch in in_order(ex, _fingerprint_batch, limits, chunked(items, max(1, len(items) // (workers * 8)))):
            part: list[Fingerprint] = []
            for r in batch:
                if isinstance(r, CopyalignError):
                    raise ItemError(done + len(part), r) from r
                part.append(r)
            done += len(part)
            if progress is not None:
                progress(done)
            yield part


def _fingerprint_batch(limits: Limits, items: Sequence[WorkInput]) -> list[Fingerprint | CopyalignError]:
    """A worker's share of :func:`fingerprint_all`: each item's fingerprint, or its error in its place."""
    out: list[Fingerprint | CopyalignError] = []
    for it in items:
        try:
            out.append(fingerprint(it.data, limits, kind=it.kind))
        except CopyalignError as exc:
            out.append(exc)
    return out


class WorkService(ServiceBase):
    def __init__(self, deps: Deps, *, find_conflicts: FindConflicts | None = None) -> None:
        super().__init__(deps)
        self.find_conflicts = find_conflicts

    def _find(self, fps: Sequence[Fingerprint], items: Sequence[WorkInput], holder: str) -> list[list[Conflict]]:
        """Each item's conflicts with other holders' works."""
        if self.find_conflicts is None:
            return [[] for _ in items]
        return self.find_conflicts([(fp.kind, it.data) for fp, it in zip(fps, items, strict=True)], holder)

    def _fingerprint_and_probe(
        self, items: Sequence[WorkInput], holder: str, workers: int, progress: Callable[[int], None] | None
    ) -> tuple[list[Fingerprint], list[list[Conflict]] | None]:
        """The items' fingerprints (on the pool) and their conflicts, each part of the batch probed here as soon
        as the pool has fingerprinted it, while the pool works on the next parts: this process and the pool
        otherwise waited for each other in turn. The conflicts are ``None`` without a conflict check.

        Nothing is refused here: a bad item raises as it would have (its :class:`ItemError`, which comes first),
        and what the conflicts refuse is decided after the batch's other checks, in their order."""
        fps: list[Fingerprint] = []
        with closing(fingerprint_parts(items, self.limits, workers=workers, progress=progress)) as parts:
            if self.find_conflicts is None:
                return [fp for part in parts for fp in part], None
            first = next(parts, [])  # the pool is at work before the check's first step (the index catches up)

            def contents() -> Iterator[tuple[str, bytes]]:
                for part in chain([first], parts):
                    for fp in part:
                        fps.append(fp)
                        yield fp.kind, items[len(fps) - 1].data

            fed = contents()
            found = self.find_conflicts(fed, holder)
            for _ in fed:  # every item is fingerprinted, even past a check that stopped early (refused below)
                pass
        if len(found) != len(fps):
            raise RuntimeError(f"the conflict check answered for {len(found)} of {len(fps)} items")
        return fps, found

    def _refuse(self, found: list[list[Conflict]]) -> list[list[Conflict]]:
        """``found`` as it is, unless the profile refuses registrations that duplicate another holder's work."""
        action = self.policy.registry.conflict_action
        if action == "refuse":
            for i, conflicts in enumerate(found):
                if conflicts:
                    raise ItemError(
                        i,
                        ConflictError(
                            "this content is " + warning(conflicts[0], action),
                            field="content",
                            code="registration_conflict",
                        ),
                    )
        return found

    def register(self, actor: Principal, item: WorkInput, *, holder_id: str | None = None) -> WorkView:
        try:
            [view] = self.register_many(actor, [item], holder_id=holder_id)
        except ItemError as exc:
            raise exc.error from None
        return view

    def register_many(
        self,
        actor: Principal,
        items: Sequence[WorkInput],
        *,
        holder_id: str | None = None,
        workers: int = 1,
        fingerprints: Sequence[Fingerprint] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[WorkView]:
        """Register every item for ``holder_id`` (default: the actor), or none of them.

        The blobs are written under a lease before the rows commit; a refused batch deletes those of its blobs
        that no row refers to and no other writer leases (:func:`discard_unreferenced`), so a refusal leaves no
        files behind (a killed import's are collected by ``copyalign blobs gc`` after the grace period).
        """
        holder = holder_id or actor.party_id
        require(actor.role, Action.WORK_REGISTER, owner=holder == actor.party_id)
        digests = sorted({digest_of(it.data) for it in items})
        try:
            with self.blobs.lease(digests):
                return self._register_many(
                    actor, items, holder, workers=workers, fingerprints=fingerprints, progress=progress
                )
        except BaseException:
            discard_unreferenced(self.store, self.blobs, digests)
            raise

    def _register_many(
        self,
        actor: Principal,
        items: Sequence[WorkInput],
        holder: str,
        *,
        workers: int,
        fingerprints: Sequence[Fingerprint] | None,
        progress: Callable[[int], None] | None,
    ) -> list[WorkView]:
        probed: list[list[Conflict]] | None = None  # the conflicts, where probed while fingerprinting
        metas = []
        for i, it in enumerate(items):
            try:
                metas.append(_check_meta(it.title, it.creators, it.identifiers))
            except CopyalignError as exc:
                raise ItemError(i, exc) from exc
        if fingerprints is not None:
            fps = list(fingerprints)
            self.blobs.put_many([it.data for it in items])
        elif len(items) < BULK:
            fps = fingerprint_all(items, self.limits, workers=1)
            self.blobs.put_many([it.data for it in items])
        else:
            # Blobs are content-addressed, so a bulk import writes them while the pool fingerprints (this
            # process would otherwise only wait). A batch refused below discards them (register_many).
            with ThreadPoolExecutor(max_workers=1) as io:
                written = io.submit(self.blobs.put_many, [it.data for it in items])
                try:
                    fps, probed = self._fingerprint_and_probe(items, holder, workers, progress)
                finally:
                    written.result()
        seen: dict[str, int] = {}
        for i, fp in enumerate(fps):
            if fp.sha256 in seen:
                raise ItemError(
                    i,
                    ConflictError(
                        f"same content as item {seen[fp.sha256] + 1} of this batch",
                        field="content",
                        code="duplicate_in_batch",
                    ),
                )
            seen[fp.sha256] = i
        with self.store.read() as s:
            party = s.get(Party, holder)
            if party is None:
                raise NotFoundError(f"no party {holder}", field="holder_id")
            if party.role not in (Role.RIGHTS_HOLDER.value, Role.OPERATOR.value):
                raise InvalidInputError(f"party {holder} is a {party.role}, who cannot hold works", field="holder_id")
        conflicts = self._refuse(probed if probed is not None else self._find(fps, items, holder))
        action = self.policy.registry.conflict_action
        with self.store.write() as s:
            existing = self._existing(s, list(seen), sqlite=self.store.is_sqlite)
            if existing:
                sha = min(existing, key=seen.__getitem__)  # the first item of the batch that is registered
                work_id = existing[sha]
                raise ItemError(
                    seen[sha],
                    ConflictError(
                        f"this content is already registered as {work_id}",
                        field="content",
                        code="already_registered",
                    ),
                )
            now = self.clock.now()
            ids = [new_id("wrk") for _ in items]
            events = []
            for wid, it, (title, idents), fp, found in zip(ids, items, metas, fps, conflicts, strict=True):
                payload: dict[str, Any] = {
                    "holder": holder,
                    "kind": fp.kind,
                    "title": title,
                    "creators": list(it.creators),
                    "identifiers": idents,
                    "sha256": fp.sha256,
                    "iscc": fp.iscc,
                    "size": fp.size_bytes,
                    "fingerprint_version": fp.version,
                }
                if found:  # the log says, at registration, that another holder claims this work
                    payload["conflicts"] = {
                        "action": action,
                        "works": [{"work": c.work_id, "holder": c.holder_id, "match": c.match} for c in found],
                    }
                events.append(Event("work.registered", actor.party_id, wid, payload))
            receipts = self.ledger.append(s, events, at=now)
            rows: list[dict[str, Any]] = []
            revisions: list[dict[str, Any]] = []
            for wid, it, (title, idents), fp, r in zip(ids, items, metas, fps, receipts, strict=True):
                b = bands(fp.iscc_content)
                rows.append(
                    {
                        "id": wid,
                        "holder_id": holder,
                        "kind": fp.kind,
                        "title": title,
                        "creators": list(it.creators),
                        "identifiers": idents,
                        "media_type": fp.media_type,
                        "size_bytes": fp.size_bytes,
                        "sha256": fp.sha256,
                        "norm_sha256": fp.norm_sha256,
                        "iscc": fp.iscc,
                        "iscc_content": to_signed64(fp.iscc_content),
                        "band0": b[0],
                        "band1": b[1],
                        "band2": b[2],
                        "band3": b[3],
                        "width": fp.width,
                        "height": fp.height,
                        "characters": fp.characters,
                        "fingerprint_version": fp.version,
                        "revision": 1,
                        "created_at": now,
                        "updated_at": now,
                        "log_index": r.index,
                    }
                )
                revisions.append(
                    {
                        "work_id": wid,
                        "revision": 1,
                        "actor_id": actor.party_id,
                        "recorded_at": now,
                        "log_index": r.index,
                        "metadata_json": {
                            "title": title,
                            "creators": list(it.creators),
                            "identifiers": idents,
                        },
                    }
                )
            conn = s.connection()
            insert_rows(conn, Work, rows)
            insert_rows(conn, WorkRevision, revisions)
            record_preferences(
                s,
                self.ledger,
                actor=actor.party_id,
                holder_id=holder,
                work_ids=ids,
                prefs=[it.preferences for it in items],
                now=now,
            )
            if any(conflicts):
                record_conflicts(
                    s,
                    work_ids=ids,
                    holder_id=holder,
                    conflicts=conflicts,
                    action=action,
                    log_indexes=[r.index for r in receipts],
                    now=now,
                )
            return [
                WorkView.of_row(row, r, found, action) for row, r, found in zip(rows, receipts, conflicts, strict=True)
            ]

    @staticmethod
    def _existing(s: Session, digests: list[str], *, sqlite: bool) -> dict[str, str]:
        """The registered work of each of ``digests`` that has one.

        On PostgreSQL one statement joins the digests, as one array, against the unique index: the ``IN``
        batches below, prepared by psycopg after five runs, got a generic plan that compares each row with
        every parameter (no hashed array, a sequential scan while the table has no statistics yet): ~0.5 s a
        batch of 900 against 10^4 works, a quarter of a bulk import's time.
        """
        found: dict[str, str] = {}
        if not sqlite:
            rows = s.connection().exec_driver_sql(
                "SELECT w.sha256, w.id FROM unnest(%s::text[]) AS k(sha256) JOIN works w ON w.sha256 = k.sha256",
                (digests,),
            )
            return {sha: wid for sha, wid in rows}
        for part in in_batches(digests):
            for sha, wid in s.execute(select(Work.sha256, Work.id).where(Work.sha256.in_(part))):
                found[sha] = wid
        return found

    def get(self, actor: Principal, work_id: str) -> WorkView:
        with self.store.read() as s:
            w = s.get(Work, work_id)
            if w is None:
                raise NotFoundError(f"no work {work_id}", field="work_id")
            require(actor.role, Action.WORK_READ, owner=w.holder_id == actor.party_id)
            return WorkView.of(w)

    def content(self, actor: Principal, work_id: str) -> tuple[bytes, str]:
        view = self.get(actor, work_id)
        return self.blobs.get(view.sha256), view.media_type

    def list(
        self, actor: Principal, *, holder_id: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[WorkView]:
        """Works of ``holder_id`` (default: the actor's own), by id, ``limit`` at a time after ``after``."""
        holder = holder_id or actor.party_id
        require(actor.role, Action.WORK_READ, owner=holder == actor.party_id)
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit must be between 1 and 1000", field="limit")
        stmt = select(Work).where(Work.holder_id == holder).order_by(Work.id).limit(limit)
        if after:
            stmt = stmt.where(Work.id > after)
        with self.store.read() as s:
            return [WorkView.of(w) for w in s.execute(stmt).scalars()]

    def update(
        self,
        actor: Principal,
        work_id: str,
        *,
        title: str | None = None,
        creators: Sequence[str] | None = None,
        identifiers: dict[str, str] | None = None,
    ) -> WorkView:
        """Change descriptive metadata; the previous revision stays in ``work_revisions`` and the log."""
        with self.store.write() as s:
            w = s.get(Work, work_id)
            if w is None:
                raise NotFoundError(f"no work {work_id}", field="work_id")
            require(actor.role, Action.WORK_UPDATE, owner=w.holder_id == actor.party_id)
            new_title, idents = _check_meta(
                w.title if title is None else title,
                list(w.creators) if creators is None else list(creators),
                dict(w.identifiers) if identifiers is None else identifiers,
            )
            new_creators = list(w.creators) if creators is None else list(creators)
            meta = {"title": new_title, "creators": new_creators, "identifiers": idents}
            now = self.clock.now()
            [receipt] = self.ledger.append(
                s, [Event("work.updated", actor.party_id, w.id, {"revision": w.revision + 1, **meta})], at=now
            )
            w.title, w.creators, w.identifiers = new_title, new_creators, idents
            w.revision += 1
            w.updated_at = now
            s.add(
                WorkRevision(
                    work_id=w.id,
                    revision=w.revision,
                    metadata_json=meta,
                    actor_id=actor.party_id,
                    recorded_at=now,
                    log_index=receipt.index,
                )
            )
            s.flush()
            return WorkView.of(w, receipt)

    def revisions(self, actor: Principal, work_id: str) -> builtins.list[dict[str, Any]]:
        self.get(actor, work_id)
        with self.store.read() as s:
            rows = s.execute(
                select(WorkRevision).where(WorkRevision.work_id == work_id).order_by(WorkRevision.revision)
            ).scalars()
            return [
                {
                    "revision": r.revision,
                    "recorded_at": r.recorded_at,
                    "log_index": r.log_index,
                    "actor": r.actor_id,
                    **r.metadata_json,
                }
                for r in rows
            ]
