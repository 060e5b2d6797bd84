"""One place maps errors to HTTP responses: JSON for API clients, HTML for the portal.

The body is always ``{"error": {"code": …, "message": …, "field": …}}``; a 500 never carries a traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from copyalign import errors as E

log = logging.getLogger("copyalign.api")

#: The error code (and pydantic error type, :class:`copyalign.api.schemas.Input`) of a NUL in a string: 400, since
#: JSON and URLs carry it and the schema allows it, but no text column of PostgreSQL can hold it.
NUL_CHARACTER = "nul_character"


def status_for(exc: E.CopyalignError) -> int:
    """The HTTP status of an error: each class carries its own (:mod:`copyalign.errors`)."""
    return exc.status


def error_body(code: str, message: str, field: str | None = None, **extra: object) -> dict[str, object]:
    err: dict[str, object] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    err.update(extra)
    return {"error": err}


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> str:
    """The ``Allow`` header of a 405 (RFC 9110: every method the resource has).

    Starlette names only the methods of the first route whose path matched. For the API, the resource is the
    OpenAPI path the request names, the literal one first (``/v1/notices/close-due``, not
    ``/v1/notices/{notice_id}``), so ``Allow`` says what the document says; for the portal, every method for
    which some route matches the path in full (``BaseRoute.matches``, included routers too).
    """
    path = request.url.path
    best: tuple[int, list[str]] | None = None
    for template, ops in request.app.openapi().get("paths", {}).items():
        parts = re.split(r"\{[^}]+\}", template)
        if re.fullmatch("[^/]+".join(re.escape(p) for p in parts), path):
            methods = [m.upper() for m in ops if m.upper() in _METHODS]
            if best is None or len(parts) < best[0]:
                best = (len(parts), methods)
    if best is not None:
        methods = best[1] + (["HEAD"] if "GET" in best[1] else [])
        return ", ".join(m for m in _METHODS if m in methods)
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.routes):
            allowed.append(method)
    return ", ".join(allowed)


def bad_json(error: Mapping[str, Any], body: object) -> dict[str, object]:
    """A body that is not JSON, said as a person would: what is wrong and where (line and column), not
    pydantic's ``"1: JSON decode error"`` with the character offset posing as a field name."""
    loc = error.get("loc", ())
    pos = loc[-1] if loc and isinstance(loc[-1], int) else None
    why = str((error.get("ctx") or {}).get("error", "")) or "not valid JSON"
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body if isinstance(body, str) else None
    if pos is None or text is None:
        return error_body("invalid_json", f"the request body is not valid JSON: {why}")
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return error_body(
        "invalid_json",
        f"the request body is not valid JSON: {why} at line {line}, column {column} (character {pos + 1})",
        line=line,
        column=column,
    )


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/v1") and "text/html" in request.headers.get("accept", "")


HtmlRenderer = Callable[[Request, int, dict[str, object]], Response]


def install(app: FastAPI, *, html: HtmlRenderer | None = None) -> None:
    """Map every exception to a response: JSON for the API, and ``html(request, status, body)`` for a browser
    on the portal's pages when a renderer is given (the server passes the portal's error page)."""

    def _render(
        request: Request, status: int, body: dict[str, object], headers: Mapping[str, str] | None = None
    ) -> Response:
        out = dict(headers or {})
        if html is not None and _wants_html(request):
            page = html(request, status, body)
            page.headers.update(out)
            return page
        if status == 401:
            out["WWW-Authenticate"] = "Bearer"
        err = body.get("error")
        retry = err.get("retry_after") if isinstance(err, dict) else None
        if retry is not None:
            out["Retry-After"] = str(retry)
        return JSONResponse(body, status_code=status, headers=out or None)

    @app.exception_handler(E.CopyalignError)
    async def _copyalign(request: Request, exc: E.CopyalignError) -> Response:
        return _render(request, status_for(exc), {"error": exc.to_dict()})

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0]
        if first.get("type") == "json_invalid":
            return _render(request, 400, bad_json(first, exc.body))
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header", "form")]
        field = ".".join(loc) or None
        msg = str(first.get("msg", "invalid input")).removeprefix("Value error, ")
        if first.get("type") == "extra_forbidden":
            msg = f"unknown field {field!r}"
        if first.get("type") == NUL_CHARACTER:
            return _render(request, 400, error_body(NUL_CHARACTER, f"{field}: {msg}" if field else msg, field))
        return _render(request, 422, error_body("invalid_input", f"{field}: {msg}" if field else msg, field))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed", 413: "content_too_large"}.get(
            exc.status_code, "http_error"
        )
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the methods of the first route whose path matched; RFC 9110 wants them all
            headers["Allow"] = allowed_methods(request)
        return _render(request, exc.status_code, error_body(code, str(exc.detail)), headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _render(request, 500, error_body("internal_error", "internal error; the operator's log has the details"))
