"""Collecting content blobs that no row refers to: ``copyalign blobs gc`` and the clean-up of a refused import.

Blobs are written before the rows that refer to them (:mod:`copyalign.store.blobs`), so an import that is
refused, or killed, leaves blobs behind: 13,000-20,000 files after one killed 20,000-work import. This service
decides which digests the database still refers to (:data:`BLOB_REFERENCES`) and leaves the *how* of a safe
delete to the blob store (``BlobStore.stale`` and ``BlobStore.collect``: leases, touch-on-put, out of reach
before the decision), so that another blob store (a pack store) keeps the same guarantees behind the same
interface.

Example:
    >>> report = ca.blob_gc.collect(operator, grace=timedelta(days=1))  # doctest: +SKIP
    >>> report.deleted  # doctest: +SKIP
    12984
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from copyalign.core.authz import Action, require
from copyalign.errors import InvalidInputError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.registry.parties import Principal
from copyalign.store.batching import in_batches
from copyalign.store.blobs import BlobStore
from copyalign.store.db import Store
from copyalign.store.models import BlockedOutput, Work

log = logging.getLogger("copyalign.blobs")

#: Every column that holds the digest of a blob the row needs. A new table that keeps content in the blob
#: store must be listed here, or collection would take its blobs (``tests/integration/test_blob_gc.py`` checks
#: every column named ``sha256``).
BLOB_REFERENCES = (Work.sha256, BlockedOutput.sha256)


def referenced_digests(store: Store, digests: Sequence[str]) -> set[str]:
    """Those of ``digests`` that some row of :data:`BLOB_REFERENCES` refers to."""
    found: set[str] = set()
    with store.read() as s:
        for column in BLOB_REFERENCES:
            for part in in_batches(list(digests)):
                found.update(s.execute(select(column).where(column.in_(part))).scalars())
    return found


def discard_unreferenced(store: Store, blobs: BlobStore, digests: Sequence[str]) -> int:
    """After a refused write: delete those of its ``digests`` that no row refers to and no other writer leases,
    whatever their age. Never raises (the refusal is what the caller reports); returns how many went."""
    try:
        return len(blobs.collect(digests, referenced=lambda batch: referenced_digests(store, batch)))
    except Exception:  # a failed clean-up leaves blobs that `copyalign blobs gc` collects later
        log.exception("could not discard the blobs of a refused write")
        return 0


@dataclass(frozen=True, slots=True)
class GcReport:
    """What one collection did: ``candidates`` older than the grace period, of which ``deleted`` went."""

    candidates: int
    deleted: int
    kept: int
    grace_seconds: float
    dry_run: bool
    #: Room given back by rewriting mostly dead packs (a pack store; 0 for a store of files).
    compacted_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidates": self.candidates,
            "deleted": self.deleted,
            "kept": self.kept,
            "grace_seconds": self.grace_seconds,
            "dry_run": self.dry_run,
            "compacted_bytes": self.compacted_bytes,
        }


class BlobService(ServiceBase):
    def __init__(self, deps: Deps, *, grace: timedelta) -> None:
        super().__init__(deps)
        self.grace = grace

    def collect(self, actor: Principal, *, grace: timedelta | None = None, dry_run: bool = False) -> GcReport:
        """Delete the blobs that no row refers to and nobody wrote within ``grace`` (default: the
        ``COPYALIGN_BLOB_GC_GRACE_SECONDS`` setting). Operator only. ``dry_run`` counts without deleting."""
        require(actor.role, Action.BLOB_GC, owner=False)
        grace = self.grace if grace is None else grace
        if grace < timedelta(0):
            raise InvalidInputError("the grace period cannot be negative", field="grace")
        candidates = list(self.blobs.stale(grace))
        unreferenced: list[str] = []
        for part in in_batches(candidates):
            seen = referenced_digests(self.store, part)
            unreferenced.extend(d for d in part if d not in seen)
        compacted = 0
        if dry_run:
            deleted = len(unreferenced)
        else:
            deleted = len(
                self.blobs.collect(
                    unreferenced, referenced=lambda batch: referenced_digests(self.store, batch), older_than=grace
                )
            )
            compacted = self.blobs.compact()  # a pack store rewrites the packs that are now mostly dead
        report = GcReport(
            len(candidates), deleted, len(candidates) - deleted, grace.total_seconds(), dry_run, compacted
        )
        if not dry_run:
            log.info("blobs gc: %s", report.to_dict())
        return report
