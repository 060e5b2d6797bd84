"""The rights holders' portal: server-rendered pages over the same services as the API.

Plain HTML forms, no JavaScript required. Signing in stores the API key in an ``HttpOnly``,
``SameSite=Strict`` cookie: the browser never sends it on a request started by another site, which is the
CSRF defence; POSTs that carry an ``Origin`` header must also come from this host. Every route is thin:
parse the form, call one service method, render or redirect (POST-redirect-GET).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from copyalign.api.deps import COOKIE, CaDep
from copyalign.context import Copyalign
from copyalign.core.preferences import JURISDICTIONS, Purpose, Value, resolve_all
from copyalign.errors import AuthenticationError, CopyalignError, PermissionDeniedError
from copyalign.services.ledger import format_time
from copyalign.services.parties import Principal
from copyalign.services.preferences import PreferenceInput
from copyalign.services.works import WorkInput

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
STATIC = str(Path(__file__).with_name("static"))
TEMPLATES.env.filters["when"] = lambda t: format_time(t)[:19].replace("T", " ") + " UTC" if t else ""

router = APIRouter(include_in_schema=False)

PURPOSES = [p.value for p in Purpose]
VALUES = [v.value for v in Value]


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)


def error_page(request: Request, status: int, body: dict[str, object]) -> Response:
    return render(request, "error.html", status, error=body.get("error", {}))


def _principal(request: Request, ca: Copyalign) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return ca.parties.authenticate(token)
    except AuthenticationError:
        return None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or origin == "null" or urlsplit(origin).netloc == request.headers.get("host")


def _signin() -> RedirectResponse:
    return RedirectResponse("/signin", status_code=303)


def _status(exc: CopyalignError) -> int:
    from copyalign.api.errors import status_for

    return status_for(exc)


@router.get("/", response_class=HTMLResponse)
def index(request: Request, ca: CaDep) -> Response:
    return render(request, "index.html", me=_principal(request, ca), policy=ca.policy.profile)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request) -> Response:
    return render(request, "signin.html")


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, ca: CaDep, api_key: Annotated[str, Form()] = "") -> Response:
    try:
        ca.parties.authenticate(api_key)
    except AuthenticationError as exc:
        return render(request, "signin.html", 401, error=exc.message)
    response = RedirectResponse("/works", status_code=303)
    response.set_cookie(
        COOKIE,
        api_key.strip(),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=8 * 3600,
    )
    return response


@router.post("/signout")
@router.get("/signout")
def signout() -> Response:
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _current(ca: Copyalign, statements: list[Any]) -> dict[Purpose, Any]:
    return resolve_all(
        statements,
        at=ca.clock.now(),
        jurisdiction=ca.policy.profile.jurisdiction,
        defaults=ca.policy.preferences.defaults,
    )


@router.get("/works", response_class=HTMLResponse)
def my_works(request: Request, ca: CaDep, after: str | None = None) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    works = ca.works.list(me, after=after, limit=50)
    rows = []
    for w in works:
        current = _current(ca, ca.preferences.history(me, w.id))
        rows.append(
            {
                "work": w,
                "train_ai": current[Purpose.TRAIN_AI].value.value,
                "train_genai": current[Purpose.TRAIN_GENAI].value.value,
            }
        )
    return render(request, "works.html", me=me, rows=rows, next=works[-1].id if len(works) == 50 else None)


@router.get("/works/new", response_class=HTMLResponse)
def new_work_form(request: Request, ca: CaDep) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    return render(request, "new_work.html", me=me, purposes=PURPOSES, form={})


@router.post("/works/new", response_class=HTMLResponse)
async def new_work(
    request: Request,
    ca: CaDep,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()] = "",
    creators: Annotated[str, Form()] = "",
    deny: Annotated[list[str] | None, Form()] = None,
) -> Response:
    me = _principal(request, ca)
    if me is None or not _same_origin(request):
        return _signin()
    form = {"title": title, "creators": creators, "deny": deny or []}
    try:
        data = await file.read(ca.settings.max_upload_bytes + 1)
        prefs = tuple(PreferenceInput.parse(p, "deny") for p in deny or [])
        item = WorkInput(
            data=data,
            title=title or (file.filename or ""),
            preferences=prefs,
            creators=tuple(c.strip() for c in creators.split(",") if c.strip()),
        )
        view = ca.works.register(me, item)
    except CopyalignError as exc:
        return render(request, "new_work.html", _status(exc), me=me, purposes=PURPOSES, form=form, error=exc.message)
    return RedirectResponse(f"/works/{view.id}", status_code=303)


@router.get("/works/{work_id}", response_class=HTMLResponse)
def work_page(request: Request, ca: CaDep, work_id: str) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    work = ca.works.get(me, work_id)
    history = ca.preferences.history(me, work_id)
    current = _current(ca, history)
    return render(
        request,
        "work.html",
        me=me,
        work=work,
        history=list(reversed(history)),
        current=current,
        purposes=PURPOSES,
        values=VALUES,
        jurisdictions=sorted(JURISDICTIONS),
        now=ca.clock.now(),
        jurisdiction=ca.policy.profile.jurisdiction,
    )


@router.post("/works/{work_id}/preferences", response_class=HTMLResponse)
def set_preference(
    request: Request,
    ca: CaDep,
    work_id: str,
    purpose: Annotated[str, Form()],
    value: Annotated[str, Form()],
    jurisdiction: Annotated[str, Form()] = "*",
) -> Response:
    me = _principal(request, ca)
    if me is None or not _same_origin(request):
        return _signin()
    try:
        ca.preferences.set(me, work_id=work_id, pref=PreferenceInput.parse(purpose, value, jurisdiction))
    except PermissionDeniedError:
        raise  # the error handler renders the 403 page
    except CopyalignError as exc:
        return error_page(request, _status(exc), {"error": exc.to_dict()})
    return RedirectResponse(f"/works/{work_id}", status_code=303)


__all__ = ["STATIC", "error_page", "router"]
