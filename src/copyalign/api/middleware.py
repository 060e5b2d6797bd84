"""ASGI middleware: the request body limit (with the URL's NUL check) and Idempotency-Key replay.

Both work on the raw ASGI messages so that an oversized upload is refused before it is buffered whole.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

import anyio

from copyalign.api.errors import NUL_CHARACTER, error_body, status_for
from copyalign.errors import ContentTooLargeError, CopyalignError
from copyalign.services.idempotency import IdempotencyStore, Stored

#: What an Idempotency-Key may be (the OpenAPI document says the same: copyalign.api.openapi).
_IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,200}")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(ContentTooLargeError):
    """A streamed body that grew past the limit (raised inside the middleware's receive, caught by it)."""


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return str(v.decode("latin-1"))
    return None


async def _send_json(send: Send, status: int, body: dict[str, object]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


def nul_in_url(scope: Scope) -> dict[str, object] | None:
    """The 400 body for a path or query parameter holding a NUL (``%00``), or ``None``: the parameters are plain
    strings to FastAPI, so no schema model sees them before a database driver would (see
    :class:`copyalign.api.schemas.Input` for bodies)."""
    if "\x00" in scope.get("path", ""):
        return error_body(NUL_CHARACTER, "the path contains a NUL character (%00): no identifier holds one")
    query: bytes = scope.get("query_string", b"")
    if b"%00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "%00")
            return error_body(NUL_CHARACTER, f"{shown}: contains a NUL character (%00): no parameter takes one", shown)
    return None


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, by Content-Length or by counting the stream; and a URL
    with a NUL in its path or query with 400 (:func:`nul_in_url`), before anything reads the body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        # multipart framing and form fields ride on top of the content itself
        self.max_bytes = max_bytes + 64 * 1024

    def _refusal(self) -> dict[str, object]:
        return error_body("content_too_large", f"request body is over the limit of {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nul = nul_in_url(scope)
        if nul is not None:
            await _send_json(send, 400, nul)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json(
                send,
                413,
                error_body(
                    "content_too_large",
                    f"request body is {declared} bytes, over the limit of {self.max_bytes}",
                ),
            )
            return
        seen = 0
        started = False
        exceeded = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            if exceeded:  # whoever swallowed the first refusal asks again: still too large
                raise _TooLarge(f"the request body is over the limit of {self.max_bytes} bytes")
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge(f"the request body is over the limit of {self.max_bytes} bytes")
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started, replaced
            if msg["type"] == "http.response.start":
                started = True
                if exceeded:
                    # A body parser caught the refusal and answered with its own error (multipart and JSON
                    # parsing say 400 "There was an error parsing the body"): the answer is 413 all the same.
                    replaced = True
                    await _send_json(send, 413, self._refusal())
                    return
            if replaced:
                return
            await send(msg)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, self._refusal())


#: Who an API key belongs to: the party id, or ``None`` for a missing, malformed, unknown or revoked key.
Authenticate = Callable[[str], str | None]


def api_token(scope: Scope) -> str | None:
    """The API key of a request (``Authorization: Bearer`` or ``X-API-Key``), as :func:`copyalign.api.deps.bearer`."""
    header = _header(scope, b"authorization") or ""
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return _header(scope, b"x-api-key") or None


class Idempotency:
    """Replay the first response to a POST retried with the same ``Idempotency-Key`` and the same body.

    The caller is authenticated *before* anything is claimed or replayed, and records are scoped to its party:
    a revoked key replays nothing (the request goes on to the route, which answers 401) and a request without
    a valid key creates no record. Stored responses carry no secrets (:func:`copyalign.services.idempotency.redact`).
    """

    def __init__(self, app: ASGIApp, *, store: IdempotencyStore, authenticate: Authenticate) -> None:
        self.app = app
        self.store = store
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = _header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if not _IDEMPOTENCY_KEY.fullmatch(key):
            await _send_json(
                send,
                400,
                error_body(
                    "invalid_input",
                    "Idempotency-Key must be 1 to 200 printable ASCII characters without spaces",
                    "Idempotency-Key",
                ),
            )
            return
        token = api_token(scope)
        owner = await anyio.to_thread.run_sync(self.authenticate, token) if token else None
        if owner is None:  # unauthenticated: no record, no replay; the route answers (401 where it needs a key)
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        body = b"".join(chunks)
        digest = hashlib.sha256(
            b"\0".join(
                [
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    (_header(scope, b"content-type") or "").encode(),
                    body,
                ]
            )
        ).hexdigest()
        try:
            stored = await anyio.to_thread.run_sync(self.store.claim, owner, key, digest)
        except CopyalignError as exc:
            await _send_json(send, status_for(exc), {"error": exc.to_dict()})
            return
        if stored is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": stored.status_code,
                    "headers": [
                        (b"content-type", stored.content_type.encode()),
                        (b"idempotent-replayed", b"true"),
                        (b"content-length", str(len(stored.body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": stored.body})
            return

        delivered = False

        async def replay_receive() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 500
        ctype = ""
        out: list[bytes] = []

        async def capture_send(msg: Message) -> None:
            nonlocal status, ctype
            if msg["type"] == "http.response.start":
                status = msg["status"]
                for k, v in msg.get("headers", ()):
                    if k.lower() == b"content-type":
                        ctype = v.decode("latin-1")
            elif msg["type"] == "http.response.body":
                out.append(msg.get("body", b""))
            await send(msg)

        try:
            await self.app(scope, replay_receive, capture_send)
        finally:
            if status >= 500:
                await anyio.to_thread.run_sync(self.store.release, owner, key)
            else:
                await anyio.to_thread.run_sync(self.store.complete, owner, key, Stored(status, b"".join(out), ctype))
