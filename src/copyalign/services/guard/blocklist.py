"""A provider's blocklist: outputs that a takedown marked, in a match index of their own, so that they and
their near copies block for that provider only (seed 004 ¶87: "prevent the regeneration of the same content").
"""

from __future__ import annotations

import time
from typing import Any

from PIL import Image
from sqlalchemy import select

from copyalign.core.authz import Action, Role, require
from copyalign.core.content import decode_text, encode_text, guess_kind, normalised_sha256, open_image
from copyalign.core.guard.rules import OutputHit
from copyalign.core.matching.query import TextQuery
from copyalign.core.matching.results import Evidence
from copyalign.errors import ContentTooLargeError, InvalidInputError, NotFoundError
from copyalign.ids import new_id
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard.results import BlockedView
from copyalign.services.log.ledger import Event
from copyalign.services.matching.engine import find_image, find_text, index_entry
from copyalign.services.matching.index import MatchIndex
from copyalign.services.registry.parties import Principal
from copyalign.store.blobs import digest_of
from copyalign.store.models import BlockedOutput, Party


class Blocklist(ServiceBase):
    def __init__(self, deps: Deps, index: MatchIndex, *, refresh_seconds: float = 1.0) -> None:
        super().__init__(deps)
        self.index = index
        self.refresh_seconds = refresh_seconds
        self._checked = float("-inf")

    def add(
        self,
        actor: Principal,
        content: str | bytes,
        *,
        reason: str,
        source: str | None = None,
        provider_id: str | None = None,
        kind: str | None = None,
    ) -> BlockedView:
        """Add an output that a takedown marked to a provider's blocklist; it and its near copies block."""
        if actor.role is Role.PROVIDER:
            if provider_id not in (None, actor.party_id):
                require(actor.role, Action.GUARD_BLOCK, owner=False)  # the refusal in words, with its codes
            provider_id = actor.party_id
        require(actor.role, Action.GUARD_BLOCK, owner=True)
        if provider_id is None:
            raise InvalidInputError("name the provider whose blocklist this is", field="provider_id")
        reason = reason.strip()
        if not reason:
            raise InvalidInputError("say why the output is blocked", field="reason")
        data = encode_text(content, field="text") if isinstance(content, str) else content
        if len(data) > self.limits.max_bytes:
            raise ContentTooLargeError(f"the output is {len(data)} bytes, over the limit of {self.limits.max_bytes}")
        kind = kind or guess_kind(data)
        norm: str | None = None
        if kind == "text":
            norm = normalised_sha256(decode_text(data, field="content")).hex()
        elif kind == "image":
            open_image(data, self.limits, field="content")
        else:
            raise InvalidInputError(f"unknown kind {kind!r}; expected text or image", field="kind")
        # the blob is written before the row that refers to it, under a lease (store.blobs: collection rules)
        with self.blobs.lease([digest_of(data)]):
            sha = self.blobs.put(data)
            block_id = new_id("blk")
            with self.store.write() as s:
                provider = s.get(Party, provider_id)
                if provider is None or provider.role != Role.PROVIDER.value:
                    raise NotFoundError(f"no provider {provider_id}", field="provider_id")
                payload = {
                    "id": block_id,
                    "provider_id": provider_id,
                    "kind": kind,
                    "sha256": sha,
                    "reason": reason[:500],
                }
                if source:
                    payload["source"] = source[:80]
                [receipt] = self.ledger.append(s, [Event("guard.block", actor.party_id, block_id, payload)])
                row = BlockedOutput(
                    id=block_id,
                    provider_id=provider_id,
                    kind=kind,
                    sha256=sha,
                    norm_sha256=norm,
                    reason=reason[:500],
                    source=source[:80] if source else None,
                    actor_id=actor.party_id,
                    created_at=self.clock.now(),
                    log_index=receipt.index,
                )
                s.add(row)
                s.flush()
                view = BlockedView(block_id, provider_id, kind, sha, row.reason, row.source, receipt.index)
        self.refresh(force=True)
        return view

    def lift(self, actor: Principal, block_id: str, *, reason: str) -> BlockedView:
        """Lift a block (a restored takedown, seed 004 ¶88): the output no longer blocks; the row, its log
        entry and this one stay. Lifting twice is harmless."""
        reason = reason.strip()
        if not reason:
            raise InvalidInputError("say why the block is lifted", field="reason")
        with self.store.write() as s:
            row = s.get(BlockedOutput, block_id)
            if row is None:
                raise NotFoundError(f"no blocked output {block_id}", field="block_id")
            require(actor.role, Action.GUARD_BLOCK, owner=row.provider_id == actor.party_id)
            if row.lifted_at is None:
                payload = {"id": block_id, "provider_id": row.provider_id, "reason": reason[:500]}
                self.ledger.append(s, [Event("guard.unblock", actor.party_id, block_id, payload)])
                row.lifted_at = self.clock.now()
            return BlockedView(row.id, row.provider_id, row.kind, row.sha256, row.reason, row.source, row.log_index)

    def refresh_due(self) -> bool:
        """Whether the next :meth:`refresh` takes the index lock and asks the store."""
        return time.monotonic() - self._checked >= self.refresh_seconds

    def refresh(self, *, force: bool = False) -> None:
        """Index the outputs blocked since the index's watermark (checked at most every ``refresh_seconds``)."""
        self.index.reload()
        if not force and time.monotonic() - self._checked < self.refresh_seconds:
            return
        self._checked = time.monotonic()
        with self.index.lock():
            mark = self.index.watermark
            with self.store.read() as s:
                rows = s.execute(
                    select(BlockedOutput.id, BlockedOutput.kind, BlockedOutput.sha256, BlockedOutput.norm_sha256)
                    .add_columns(BlockedOutput.log_index)
                    .where(BlockedOutput.log_index > mark)
                    .order_by(BlockedOutput.log_index)
                ).all()
            if not rows:
                return
            entries = [
                index_entry(r.id, r.kind, r.sha256, r.norm_sha256, self.blobs.get(r.sha256), self.limits) for r in rows
            ]
            self.index.add(entries)
            self.index.set_watermark(int(rows[-1].log_index))

    def find_text(self, q: TextQuery) -> dict[str, Evidence]:
        return find_text(self.index, q, self.policy.matching)

    def find_image(self, img: Image.Image, sha: bytes, query: Any) -> dict[str, Evidence]:
        return find_image(self.index, img, sha, self.policy.matching, query=query)

    def hits(self, found: dict[str, Evidence], provider_id: str | None) -> list[OutputHit]:
        """The blocked outputs the engine found, as output-filter hits, for ``provider_id`` only (None: every
        provider's, the operator's view)."""
        if not found:
            return []
        with self.store.read() as s:
            q = select(BlockedOutput).where(BlockedOutput.id.in_(list(found)), BlockedOutput.lifted_at.is_(None))
            if provider_id is not None:
                q = q.where(BlockedOutput.provider_id == provider_id)
            rows = list(s.scalars(q))
        return [
            OutputHit(
                r.id,
                found[r.id].match,
                found[r.id].score,
                spans=tuple(sp.query for sp in found[r.id].spans),
                distance=found[r.id].distance,
                blocklist=True,
                detail={"reason": r.reason, "source": r.source},
            )
            for r in rows
        ]


__all__ = ["Blocklist"]
