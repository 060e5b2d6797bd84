"""The OpenAPI document: every operation's error responses, from one helper.

Each error a route can answer with is a :class:`copyalign.errors.CopyalignError` subclass carrying its HTTP
``status``; :func:`error_statuses` reads them from the tree, and :func:`document_errors` adds to each
operation the ones that can reach it (:func:`applicable`), all with the one error body
(:class:`ErrorBody`). The rules are about the operation's shape, not a list per route:

- every operation: 404 (a service may not find what the request names, or the log has no checkpoint yet);
- with parameters or a body: 400 (a value the service refuses) and 422 (a value the schema refuses);
- with a key (``security``): 401 and 403;
- every POST, PATCH and DELETE: 409 (a state that forbids the step; an ``Idempotency-Key`` reused or in
  progress) and, for POST, the ``Idempotency-Key`` header itself;
- with a body: 413 (over ``COPYALIGN_MAX_UPLOAD_BYTES``), 415 (content we cannot read as the kind it claims)
  and 429 (too many large images decoding at once, with ``Retry-After``).

A 405 (a method the path does not have) is answered with an ``Allow`` header (:mod:`copyalign.api.errors`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from copyalign import errors as E
from copyalign.api.schemas import INT64_MAX


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str = Field(description="A stable machine code, e.g. invalid_input, not_found, content_too_large.")
    message: str = Field(description="What is wrong, for a person.")
    field: str | None = Field(default=None, description="The field, parameter or header at fault.")
    line: int | None = Field(default=None, description="A manifest's 1-based line at fault.")
    index: int | None = Field(default=None, description="The batch item or log entry at fault.")
    retry_after: int | None = Field(default=None, description="Seconds to wait before retrying (429).")


class ErrorBody(BaseModel):
    """Every error response: ``{"error": {"code", "message", "field"?, …}}``."""

    error: ErrorDetail


def _classes(root: type[E.CopyalignError]) -> Iterator[type[E.CopyalignError]]:
    yield root
    for sub in root.__subclasses__():
        yield from _classes(sub)


def error_statuses() -> set[int]:
    """The 4xx statuses of the error tree (``ItemError`` answers with its cause's, already in the set)."""
    return {cls.status for cls in _classes(E.CopyalignError) if 400 <= cls.status < 500} | {422}


_DESCRIPTIONS = {
    400: "Bad input: a value the service refuses (the error names the field).",
    401: "No API key, or an unknown, malformed or revoked one.",
    403: "The role, or the ownership of the object, does not allow this.",
    404: "No such object.",
    409: "A conflict: already registered, a state that forbids the step, or an Idempotency-Key reused.",
    413: "The body, a content item or an image is over a configured limit.",
    415: "Content that cannot be read as the kind it claims.",
    422: "A value the request schema refuses (the error names the field).",
    429: "Too many requests at once; retry after `Retry-After` seconds.",
}

IDEMPOTENCY_HEADER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry safely: a POST repeated with the same key and body gets the first response (secrets "
    "redacted), for COPYALIGN_IDEMPOTENCY_TTL_SECONDS.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


def applicable(method: str, op: dict[str, Any]) -> set[int]:
    """The 4xx statuses an operation can answer with (see the module's rules)."""
    has_body = "requestBody" in op
    out = {404}
    if op.get("parameters") or has_body:
        out |= {400, 422}
    if op.get("security"):
        out |= {401, 403}
    if method in ("post", "patch", "delete"):
        out |= {400, 409} if method == "post" else {409}
    if has_body:
        out |= {413, 415, 429}
    return out & error_statuses()


def _exact_integer_bounds(node: object) -> None:
    """Give integer schemas back their integer bounds.

    FastAPI's OpenAPI model types ``minimum``/``maximum`` as floats, so a body field's ``le=INT64_MAX`` came out as
    ``9.223372036854776e18`` (2**63, one past what the databases store) and ``ge=0`` as ``0.0``; a client generator
    or a fuzzer reading the document would then send a value the server refuses.
    """
    if isinstance(node, dict):
        if node.get("type") == "integer":
            for bound in ("minimum", "maximum"):
                value = node.get(bound)
                if isinstance(value, float) and value.is_integer():
                    node[bound] = max(min(int(value), INT64_MAX), -INT64_MAX - 1)
        for v in node.values():
            _exact_integer_bounds(v)
    elif isinstance(node, list):
        for v in node:
            _exact_integer_bounds(v)


def document_errors(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every operation's error responses with :class:`ErrorBody`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas["ErrorBody"] = body
        for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body: ours is ErrorBody
            schemas.pop(name, None)
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
        for ops in doc.get("paths", {}).values():
            for method, op in ops.items():
                if method == "post":
                    op.setdefault("parameters", []).append(IDEMPOTENCY_HEADER)
                responses = op.setdefault("responses", {})
                for status in sorted(applicable(method, op)):
                    responses[str(status)] = {"description": _DESCRIPTIONS[status], "content": ref}
                if 429 in applicable(method, op):
                    responses["429"]["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}
                if 401 in applicable(method, op):
                    responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        _exact_integer_bounds(doc)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
