"""``/v1/docs``: Swagger UI served from an installed package, so the API's docs work offline.

FastAPI's own docs page loads Swagger UI's script and stylesheet from a CDN: on a machine without internet
access (a CMO's intranet, an auditor's laptop, an air-gapped deployment) it is a blank page. The assets come
from the ``fastapi-offline`` package instead (a dependency): it ships a current Swagger UI 5 build, which renders
the OpenAPI 3.1 document FastAPI writes (``swagger-ui-bundle`` ships Swagger UI 4.15, which refuses 3.1). Only
its static folder is used; the application stays a plain :class:`fastapi.FastAPI`.

Example::

    GET /v1/docs                          -> the Swagger UI page, every asset local
    GET /v1/docs/assets/swagger-ui.css    -> from fastapi_offline/static
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from copyalign.errors import ConfigurationError

DOCS_URL = "/v1/docs"
ASSETS_URL = "/v1/docs/assets"


def assets_dir() -> Path:
    """The folder of Swagger UI's files inside the installed ``fastapi-offline`` package."""
    spec = find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise ConfigurationError(
            "the API docs need the fastapi-offline package (a dependency of copyalign): pip install fastapi-offline"
        )
    return Path(spec.origin).with_name("static")


def install(app: FastAPI) -> None:
    """Serve ``/v1/docs`` and its assets (the app must be built with ``docs_url=None``)."""
    folder = assets_dir()
    app.mount(ASSETS_URL, StaticFiles(directory=str(folder)), name="docs-assets")
    redirect = f"{DOCS_URL}/oauth2-redirect"

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} API",
            oauth2_redirect_url=f"{root}{redirect}",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        )

    @app.get(redirect, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()


__all__ = ["ASSETS_URL", "DOCS_URL", "assets_dir", "install"]
