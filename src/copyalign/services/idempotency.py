"""Idempotency keys: a retried POST with the same key gets the first response, never a second write.

The record is claimed (inserted) before the request runs; the primary key makes two concurrent claims
impossible. A claim left by a process that died mid-request goes stale after :data:`STALE_AFTER` and may be
taken over; the write it guarded either committed (a retry then sees the conflict, e.g. "already
registered") or did not (the retry performs it).

Records are scoped to the *authenticated* party (the HTTP middleware authenticates before it claims or
replays, so a revoked key replays nothing and an unauthenticated request creates no record), and they expire
after the ``COPYALIGN_IDEMPOTENCY_TTL_SECONDS`` setting: an expired record is taken over by the next claim and
deleted by :meth:`IdempotencyStore.purge` (the server's scheduled work).

No secret is stored. A stored response is :func:`redact`-ed first: every JSON member named in
:data:`SECRET_FIELDS`, and every string shaped like an API key, becomes ``null``. So the replay of a
key-issuing call (``POST /v1/parties``, ``POST /v1/parties/{id}/keys``) answers the same status and body with
``"api_key": null``: the key was issued (its ``key_id`` is in the replay) but its secret is shown once only;
a client that lost the first response revokes that key and issues another. Storing a digest instead would
not help: nothing may re-derive the secret from it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from copyalign.clock import Clock
from copyalign.errors import ConflictError
from copyalign.store.db import Store
from copyalign.store.models import IdempotencyRecord

STALE_AFTER = timedelta(minutes=5)
#: How long a record is kept when the settings do not say (``COPYALIGN_IDEMPOTENCY_TTL_SECONDS``).
DEFAULT_TTL = timedelta(hours=24)
#: JSON members whose values are secrets, wherever they appear in a response.
SECRET_FIELDS = frozenset({"api_key", "operator_key"})
#: An API key as :mod:`copyalign.services.registry.parties` issues it (``ca_<key id>_<secret>``), caught by its
#: shape too, so that a secret under a new member name is still never stored.
KEY_SHAPE = re.compile(r"ca_[0-9a-z]{8,40}_[A-Za-z0-9_-]{20,}")


@dataclass(frozen=True, slots=True)
class Stored:
    status_code: int
    body: bytes
    content_type: str


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: None if k in SECRET_FIELDS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, str) and KEY_SHAPE.search(value):
        return None
    return value


def redact(stored: Stored) -> Stored:
    """The response as it may be kept: secrets replaced by ``null`` (a body that is not JSON but holds a
    key-shaped string is not kept at all)."""
    if "json" in stored.content_type:
        try:
            doc = json.loads(stored.body)
        except ValueError:
            doc = None
        if doc is not None:
            clean = _scrub(doc)
            if clean != doc:
                body = json.dumps(clean, separators=(",", ":"), ensure_ascii=False).encode()
                return Stored(stored.status_code, body, stored.content_type)
            return stored
    if KEY_SHAPE.search(stored.body.decode("utf-8", "replace")):
        return Stored(stored.status_code, b"", stored.content_type)
    return stored


class IdempotencyStore:
    def __init__(self, store: Store, clock: Clock, *, ttl: timedelta = DEFAULT_TTL) -> None:
        self.store = store
        self.clock = clock
        self.ttl = ttl

    def claim(self, scope: str, key: str, request_sha256: str) -> Stored | None:
        """Claim ``key`` for the authenticated party ``scope``; return the stored response if the request was
        already answered (and its record has not expired)."""
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
                if now - row.created_at >= self.ttl:  # expired: the key is free again
                    row.request_sha256 = request_sha256
                    row.status_code = None
                    row.response_body = None
                    row.content_type = None
                    row.created_at = now
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
        """Keep the response, :func:`redact`-ed, for replays."""
        kept = redact(stored)
        with self.store.write() as s:
            row = s.get(IdempotencyRecord, (scope, key))
            if row is not None:
                row.status_code = kept.status_code
                row.response_body = kept.body
                row.content_type = kept.content_type

    def release(self, scope: str, key: str) -> None:
        """Forget a claim whose request failed on the server side, so a retry can run."""
        with self.store.write() as s:
            s.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.party_id == scope, IdempotencyRecord.key == key)
            )

    def purge(self) -> int:
        """Delete the records older than the time to live; return how many."""
        cutoff = self.clock.now() - self.ttl
        with self.store.write() as s:
            gone = s.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at <= cutoff))
            return int(getattr(gone, "rowcount", 0) or 0)

    def get(self, scope: str, key: str) -> IdempotencyRecord | None:
        with self.store.read() as s:
            return s.execute(
                select(IdempotencyRecord).where(IdempotencyRecord.party_id == scope, IdempotencyRecord.key == key)
            ).scalar()
