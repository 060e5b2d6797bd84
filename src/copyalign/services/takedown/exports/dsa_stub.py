"""An in-memory twin of the EU DSA Transparency Database's submission API, for tests and dry runs.

It answers the three calls the exporter makes — ``POST /api/v1/statement``, ``POST /api/v1/statements`` and
``GET /api/v1/statement/existing-puid/{puid}`` — with the database's status codes and error shapes (read from
``StatementAPIController``, ``StatementMultipleAPIController`` and ``PuidNotUniqueMultipleException`` of
github.com/digital-services-act/transparency-database, and its API documentation), and it validates with the
core's copy of the database's rules (:mod:`copyalign.core.takedown.sor_rules`):

* ``201`` with the stored statement plus ``uuid``, ``id``, ``created_at``, ``platform_name``, ``permalink``,
  ``self`` and ``puid``; a batch answers ``{"statements": [...]}`` in *no particular order* (the database
  reads them back with ``whereIn('uuid', …)``), so a client must match them by puid, as ours does;
* ``401 {"message": "Unauthenticated."}`` without the Bearer token;
* ``422 {"message", "errors": {field: [..]}}`` for a statement that breaks a rule; for a batch, errors keyed
  ``statement_<index>`` (:func:`~copyalign.core.takedown.sor.batch_errors`) and none of the batch kept;
* ``422`` for a puid the platform already used: one statement gets ``errors.puid`` and the ``existing``
  statement; a batch gets ``errors.puid`` with ``errors.existing_puids``.

It lives in the package, not in ``tests/``, for the reason httpx ships ``MockTransport``: it is the twin of
the one outside system this package talks to, so the desk's own tests, the API's tests and a provider's dry
run (:meth:`.sor_export.DsaClient.dry_run`, before the Commission has onboarded it to the sandbox) all use
the same one. It is a plain ASGI callable — no web framework in the services layer — so it also runs under
any ASGI server for a dry run over HTTP; :meth:`DsaStub.transport` serves it in-process through httpx's
``ASGITransport``.

``extra_rules`` rehearses drift: a rule the Commission added after the core's copy was read, which our local
check does not know and the database enforces (the client must then map the 422 back to the statement).

Example:
    >>> stub = DsaStub(token="t")
    >>> status, body = stub.handle("POST", "/api/v1/statement", "Bearer t", b"{}")
    >>> status, "puid" in body["errors"]
    (422, True)
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from copyalign.core.takedown.sor import batch_errors, validate_statement
from copyalign.core.takedown.sor_rules import KNOWN_FIELDS, Violation, excluded_fields

__all__ = ["DsaStub", "SyncASGITransport"]

SINGLE = "/api/v1/statement"
BATCH = "/api/v1/statements"
EXISTING = "/api/v1/statement/existing-puid/"
PUID_TAKEN = "The identifier given is not unique within this platform."
PUIDS_TAKEN = "The platform identifier(s) are not all unique within this call."

Rule = Callable[[Mapping[str, object]], Iterable[Violation]]


class DsaStub:
    """The database for one platform, in memory: ``statements`` maps each stored puid to what was stored."""

    def __init__(
        self,
        *,
        token: str = "stub-token",  # noqa: S107 - the twin's own token, never a real one
        platform_name: str = "copyalign dry run",
        base_url: str = "https://dsa-stub.invalid",
        extra_rules: Iterable[Rule] = (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.token = token
        self.platform_name = platform_name
        self.base_url = base_url.rstrip("/")
        self.extra_rules = tuple(extra_rules)
        self.now = now
        self.statements: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status): what a test may assert on
        self._next_id = 1

    # -- the HTTP face --------------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        auth = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"authorization"), None)
        status, payload = self.handle(scope["method"], scope["path"], auth, body)
        data = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    def transport(self) -> httpx.BaseTransport:
        """A synchronous httpx transport that serves this stub in-process (no socket, no network)."""
        return SyncASGITransport(self)

    def handle(self, method: str, path: str, authorization: str | None, body: bytes) -> tuple[int, Any]:
        """One request: its status and JSON body."""
        status, payload = self._route(method, path, authorization, body)
        self.calls.append((method, path, status))
        return status, payload

    def _route(self, method: str, path: str, authorization: str | None, body: bytes) -> tuple[int, Any]:
        known = path in (SINGLE, BATCH) or path.startswith(EXISTING)
        if not known:
            return 404, {"message": "Not Found"}
        if authorization != f"Bearer {self.token}":
            return 401, {"message": "Unauthenticated."}
        if path.startswith(EXISTING):
            if method != "GET":
                return 405, {"message": "Method Not Allowed"}
            found = self.statements.get(path[len(EXISTING) :])
            return (302, found) if found is not None else (404, {"message": "statement of reason not found"})
        if method != "POST":
            return 405, {"message": "Method Not Allowed"}
        try:
            parsed = json.loads(body) if body else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            parsed = {}
        return self._store_one(parsed) if path == SINGLE else self._store_many(parsed)

    # -- the database's rules -------------------------------------------------------------------------------

    def _violations(self, statement: Mapping[str, object]) -> dict[str, list[str]]:
        per: dict[str, list[str]] = {}
        for v in (*validate_statement(statement), *(x for rule in self.extra_rules for x in rule(statement))):
            per.setdefault(v.field, []).append(v.message)
        return per

    def _store_one(self, body: object) -> tuple[int, Any]:
        statement: Mapping[str, object] = body if isinstance(body, dict) else {}
        errors = self._violations(statement)
        if errors:
            first = next(iter(errors.values()))[0]
            more = sum(len(m) for m in errors.values()) - 1
            return 422, {"message": first + (f" (and {more} more errors)" if more else ""), "errors": errors}
        puid = str(statement["puid"])
        if puid in self.statements:
            return 422, {"message": PUID_TAKEN, "errors": {"puid": [PUID_TAKEN]}, "existing": self.statements[puid]}
        return 201, self._insert(statement)

    def _store_many(self, body: object) -> tuple[int, Any]:
        if not isinstance(body, dict):
            body = {}
        errors = batch_errors(body)
        items = body.get("statements")
        if isinstance(items, list) and "statements" not in errors:
            for i, item in enumerate(items):
                extra = self._violations(item) if isinstance(item, dict) else {}
                for field, messages in extra.items():
                    known = errors.setdefault(f"statement_{i}", {}).setdefault(field, [])
                    known.extend(m for m in messages if m not in known)
        if "statements" in errors:
            return 422, {"message": errors["statements"][0], "errors": errors}
        if errors or not isinstance(items, list):  # batch_errors refuses anything but a list
            return 422, {"errors": errors}
        taken = [str(s["puid"]) for s in items if str(s["puid"]) in self.statements]
        if taken:
            return 422, {"message": PUIDS_TAKEN, "errors": {"puid": [PUIDS_TAKEN], "existing_puids": taken}}
        stored = [self._insert(s) for s in items]
        return 201, {"statements": sorted(stored, key=lambda s: s["uuid"])}  # the database's order is no order

    def _insert(self, statement: Mapping[str, object]) -> dict[str, Any]:
        dropped = excluded_fields(statement)
        out = {k: v for k, v in statement.items() if k in KNOWN_FIELDS and k not in dropped}
        sid, self._next_id = self._next_id, self._next_id + 1
        out.update(
            uuid=str(uuid.uuid4()),
            id=sid,
            created_at=self.now().strftime("%Y-%m-%d %H:%M:%S"),
            platform_name=self.platform_name,
            permalink=f"{self.base_url}/statement/{sid}",
            self=f"{self.base_url}/api/v1/statement/{sid}",
        )
        self.statements[str(out["puid"])] = out
        return out


class SyncASGITransport(httpx.BaseTransport):
    """httpx's ``ASGITransport`` (async only) behind the synchronous ``BaseTransport`` seam.

    Each request runs the ASGI app to completion on a fresh event loop, so it must not be called from inside a
    running loop; that is the case everywhere the exporter runs (desk services are synchronous).
    """

    def __init__(self, app: Callable[..., Any]) -> None:
        self._asgi = httpx.ASGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()

        async def run() -> httpx.Response:
            inner = httpx.Request(request.method, request.url, headers=request.headers, content=content)
            response = await self._asgi.handle_async_request(inner)
            data = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=data, request=request)

        return asyncio.run(run())
