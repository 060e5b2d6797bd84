"""Generation traces: which provider, session, user pseudonym, model and prompt produced a delivered output,
kept as digests and sealed into the log in batches (seed 004 ¶79: traceability of generated content).

Traces are rows, not log entries (a busy service makes millions): :meth:`Traces.seal` commits every unsealed
trace to the log in one entry (the Merkle root of their leaves), automatically every :data:`SEAL_EVERY`
traces, so that a trace can later be shown to have existed, unaltered, by then. :meth:`Traces.lookup_content`
goes the other way: from a file found in the wild, through its marks, to its trace.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

from copyalign.core.authz import Action, require
from copyalign.core.canonical import format_time
from copyalign.core.content import decode_text, guess_kind, open_image
from copyalign.core.guard.rules import GuardAction
from copyalign.core.guard.trace import trace_leaf
from copyalign.core.guard.watermark import MIN_SIDE as WATERMARK_MIN_SIDE
from copyalign.core.guard.watermark import detect_watermark
from copyalign.core.log import merkle
from copyalign.core.matching.query import pixel_sha256
from copyalign.errors import ContentTooLargeError, InvalidInputError, NotFoundError, PermissionDeniedError
from copyalign.services.base import Deps, ServiceBase
from copyalign.services.guard import labels
from copyalign.services.guard.keys import GuardKeys
from copyalign.services.guard.results import (
    TRACE_PREFIX,
    TraceLookup,
    TraceView,
    Verdict,
    trace_id_from_payload,
    trace_payload,
    trace_view,
)
from copyalign.services.log.ledger import Event
from copyalign.services.registry.parties import Principal
from copyalign.store.batching import in_batches
from copyalign.store.models import GenerationTrace

SEAL_EVERY = 1000
"""Unsealed traces that trigger a seal on the next delivery."""


class Traces(ServiceBase):
    def __init__(self, deps: Deps, keys: GuardKeys) -> None:
        super().__init__(deps)
        self.keys = keys

    def record(
        self,
        actor_id: str,
        trace_id: str,
        kind: str,
        output: bytes | Image.Image,
        delivered: bytes | None,
        decision: GuardAction,
        verdicts: Sequence[Verdict],
        *,
        prompt: str | None,
        user: str,
        model: str,
        copyright_notice: dict[str, str] | None = None,
    ) -> None:
        g = self.policy.guard
        now = self.clock.now()
        if isinstance(output, Image.Image):  # kept as PNG, traced by the digest its check reported
            output_sha = pixel_sha256(output).hex()
            output = _png(output) if g.keep_content else b""
        else:
            output_sha = hashlib.sha256(output).hexdigest()
        fields: dict[str, Any] = {
            "id": trace_id,
            "provider_id": actor_id,
            "user_ref": self.keys.user_ref(user),
            "kind": kind,
            "model": model[:200],
            "prompt_sha256": hashlib.sha256(prompt.encode()).hexdigest() if prompt is not None else None,
            "output_sha256": output_sha,
            "delivered_sha256": hashlib.sha256(delivered).hexdigest() if delivered is not None else None,
            "decision": decision.value,
            "reasons": [v.to_dict() for v in verdicts],
        }
        if copyright_notice:  # the sealed record commits to the disclaimer the output carried (seed 004 ¶80(c))
            fields["copyright_notice"] = dict(copyright_notice)
        leaf = trace_leaf(fields, format_time(now))
        with self.store.write() as s:
            s.add(
                GenerationTrace(
                    **fields,
                    prompt_text=prompt if g.keep_content else None,
                    output_data=output if g.keep_content and output else None,
                    retain_until=now + timedelta(days=g.retention_days) if g.keep_content else None,
                    created_at=now,
                    leaf=leaf,
                    sealed_index=None,
                )
            )
            unsealed = int(
                s.execute(
                    select(func.count()).select_from(GenerationTrace).where(GenerationTrace.sealed_index.is_(None))
                ).scalar_one()
            )
        if unsealed >= SEAL_EVERY:
            self.seal(actor_id)

    def get(self, actor: Principal, trace_id: str) -> TraceView:
        trace_payload(trace_id)  # validates the form
        with self.store.read() as s:
            row = s.get(GenerationTrace, trace_id)
            if row is None:
                raise NotFoundError(f"no trace {trace_id}", field="trace_id")
            require(actor.role, Action.TRACE_READ, owner=row.provider_id == actor.party_id)
            return trace_view(row, self.clock.now())

    def lookup_content(self, actor: Principal, data: bytes) -> TraceLookup:
        """Read every mark a file carries (AIGC metadata, C2PA manifest, invisible watermark; for text, its
        digest) and return the trace it leads to, if the actor may read it."""
        require(actor.role, Action.TRACE_READ, owner=True)
        if not data:
            raise InvalidInputError("the file is empty", field="content")
        if len(data) > self.limits.max_bytes:
            raise ContentTooLargeError(f"the file is {len(data)} bytes, over the limit of {self.limits.max_bytes}")
        kind = guess_kind(data)
        sha = hashlib.sha256(data).hexdigest()
        found: dict[str, str] = {}
        notes: list[str] = []
        aigc: dict[str, str] | None = None
        authentic: bool | None = None
        c2pa_info: dict[str, Any] | None = None
        wm: dict[str, Any] | None = None
        rights: dict[str, str] | None = None
        if kind == "image":
            report = labels.read_labels(data)
            rights = report.rights
            if report.aigc is not None:
                aigc = report.aigc.to_dict()
                authentic = hmac.compare_digest(
                    report.aigc.reserved_code1, self.keys.label_code(report.aigc.produce_id)
                )
                if report.aigc.produce_id.startswith(TRACE_PREFIX):
                    found["aigc"] = report.aigc.produce_id
            c2pa_info = report.c2pa
            notes.extend(report.notes)
            if c2pa_info and isinstance(c2pa_info.get("trace_id"), str):
                found["c2pa"] = c2pa_info["trace_id"]
            img, _ = open_image(data, self.limits, field="content")
            pixels = np.asarray(img.convert("RGB"))
            det = (
                detect_watermark(pixels, key=self.keys.watermark)
                if min(pixels.shape[:2]) >= WATERMARK_MIN_SIDE
                else None
            )
            if det is not None:
                wm = {
                    "trace_id": trace_id_from_payload(det.payload),
                    "mode": det.mode,
                    "time": None if det.time is None else format_time(datetime.fromtimestamp(det.time, UTC)),
                    "score": round(float(det.score), 4),
                    "bit_errors": det.bit_errors,
                    "scale": round(float(det.scale), 4),
                    "angle": round(float(det.angle), 2),
                }
                found["watermark"] = wm["trace_id"]
            else:
                notes.append("no watermark made with this deployment's key was found")
        else:
            text = decode_text(data, field="content")
            digests = {sha, hashlib.sha256(text.strip().encode()).hexdigest()}
            with self.store.read() as s:
                row = s.scalars(
                    select(GenerationTrace.id)
                    .where(GenerationTrace.delivered_sha256.in_(digests) | GenerationTrace.output_sha256.in_(digests))
                    .order_by(GenerationTrace.created_at)
                ).first()
            if row is not None:
                found["digest"] = row
            else:
                notes.append("text carries no metadata; no delivered output has this digest")
        ids = list(dict.fromkeys(found.values()))
        if len(ids) > 1:
            notes.append(f"the marks disagree: {found}")
        trace: TraceView | None = None
        for tid in ids:
            try:
                trace = self.get(actor, tid)
                break
            except NotFoundError:
                notes.append(f"trace {tid} is not in this registry")
            except PermissionDeniedError:
                notes.append(f"trace {tid} belongs to another provider")
        return TraceLookup(kind, sha, found, aigc, authentic, c2pa_info, wm, trace, notes, rights)

    def mark_taken_down(self, session: Session, trace_id: str, *, ref: str | None, at: datetime | None) -> None:
        """Mark (``at`` set) or clear (``at`` None) a trace's output as taken down, in the caller's transaction:
        the takedown desk writes it with the measure and its log entry (seed 004 ¶87)."""
        row = session.get(GenerationTrace, trace_id)
        if row is None:
            raise NotFoundError(f"no trace {trace_id}", field="trace_id")
        row.taken_down_at, row.takedown_ref = at, ref if at is not None else None

    def seal(self, actor_id: str) -> int | None:
        """Commit every unsealed trace to the log; returns the log index, or None when nothing was unsealed."""
        with self.store.write() as s:
            rows = s.execute(
                select(GenerationTrace.id, GenerationTrace.leaf)
                .where(GenerationTrace.sealed_index.is_(None))
                .order_by(GenerationTrace.created_at, GenerationTrace.id)
            ).all()
            if not rows:
                return None
            root = merkle.root_from_leaves([merkle.leaf_hash(bytes.fromhex(r.leaf)) for r in rows])
            payload = {"first": rows[0].id, "last": rows[-1].id, "count": len(rows), "root": root.hex()}
            [receipt] = self.ledger.append(s, [Event("guard.traces.seal", actor_id, rows[-1].id, payload)])
            for part in in_batches([r.id for r in rows]):
                s.execute(
                    update(GenerationTrace).where(GenerationTrace.id.in_(part)).values(sealed_index=receipt.index)
                )
            self._purge(s)
            return receipt.index

    def _purge(self, s: Session) -> int:
        """Erase kept prompts and outputs whose retention ended (the digests and the leaf stay)."""
        res: CursorResult[Any] = s.connection().execute(
            update(GenerationTrace)
            .where(GenerationTrace.retain_until.is_not(None), GenerationTrace.retain_until <= self.clock.now())
            .values(prompt_text=None, output_data=None, retain_until=None)
        )
        return int(res.rowcount or 0)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=1)
    return buf.getvalue()


__all__ = ["SEAL_EVERY", "Traces"]
