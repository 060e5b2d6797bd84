"""The web portal's page routes (server-rendered Jinja2)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
STATIC = str(Path(__file__).with_name("static"))

router = APIRouter(include_in_schema=False)


def error_page(request: Request, status: int, body: dict[str, object]) -> Response:
    err = body.get("error", {})
    return TEMPLATES.TemplateResponse(request, "error.html", {"status": status, "error": err}, status_code=status)


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "index.html", {})
