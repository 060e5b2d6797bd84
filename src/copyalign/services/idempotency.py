"""Idempotency keys: a retried POST with the same key gets the first response, never a second write.

The record is claimed (inserted) before the request runs; the primary key makes two concurrent claims
impossible. A claim left by a process that died mid-request goes stale after :data:`STALE_AFTER` and may be
taken over; the write it guarded either committed (a retry then sees the conflict, e.g. "already
registered") or did not (the retry performs it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from copyalign.clock import Clock
from copyalign.errors import ConflictError
from copyalign.store.db import Store
from copyalign.store.models import IdempotencyRecord

STALE_AFTER = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Stored:
    status_code: int
    body: bytes
    content_type: str


class IdempotencyStore:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def claim(self, scope: str, key: str, request_sha256: str) -> Stored | None:
        """Claim ``key``; return the stored response if the request was already answered."""
        now = self.clock.now()
        for _attempt in range(2):
            with self.store.write() as s:
                row = s.get(IdempotencyRecord, (scope, key))
                if row is None:
                    s.add(
                        IdempotencyRecord(
                            party_id=scope,
                            key=key,
                            request_sha256=request_sha256,
                            status_code=None,
                            response_body=None,
                            content_type=None,
                            created_at=now,
                        )
                    )
                    try:
                        s.flush()
                    except IntegrityError:
                        s.rollback()
                        continue
                    return None
                if row.request_sha256 != request_sha256:
                    raise ConflictError(
                        "this Idempotency-Key was used for a different request",
                        field="Idempotency-Key",
                        code="idempotency_key_reused",
                    )
                if row.status_code is not None:
                    return Stored(row.status_code, bytes(row.response_body or b""), row.content_type or "")
                if now - row.created_at < STALE_AFTER:
                    raise ConflictError(
                        "a request with this Idempotency-Key is still in progress",
                        field="Idempotency-Key",
                        code="idempotency_key_in_progress",
                    )
                row.created_at = now
                return None
        raise ConflictError(
            "a request with this Idempotency-Key is still in progress",
            field="Idempotency-Key",
            code="idempotency_key_in_progress",
        )

    def complete(self, scope: str, key: str, stored: Stored) -> None:
        with self.store.write() as s:
            row = s.get(IdempotencyRecord, (scope, key))
            if row is not None:
                row.status_code = stored.status_code
                row.response_body = stored.body
                row.content_type = stored.content_type

    def release(self, scope: str, key: str) -> None:
        """Forget a claim whose request failed on the server side, so a retry can run."""
        with self.store.write() as s:
            s.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.party_id == scope, IdempotencyRecord.key == key)
            )

    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        with self.store.read() as s:
            return s.execute(
                select(IdempotencyRecord).where(IdempotencyRecord.party_id == scope, IdempotencyRecord.key == key)
            ).scalar()
