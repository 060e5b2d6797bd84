"""The rights holders' portal: server-rendered pages over the same services as the API.

Plain HTML forms, no JavaScript required. Every route is thin: parse the form, call one service method,
render or redirect (POST-redirect-GET). Routes are plain ``def`` so that FastAPI runs the (blocking) service
calls in its thread pool rather than on the event loop.

CSRF defence: signing in stores the API key in an ``HttpOnly``, ``SameSite=Strict`` cookie. The browser never
attaches a ``SameSite=Strict`` cookie to a request started by another site, so a forged cross-site POST
arrives unauthenticated; scripts cannot read the key either. As a second layer, a POST that carries an
``Origin`` header must name this host (``Origin: null``, sent by sandboxed frames, is refused too), else 403.

Example::

    POST /signin  api_key=ca_…   -> 303 /works, Set-Cookie: copyalign_key=…; HttpOnly; SameSite=strict
    GET  /works                  -> my works, current train-ai / train-genai values
    POST /works/new  (multipart) -> 303 /works/wrk_…  or the form again with the error and a 4xx status
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from copyalign.api.deps import COOKIE, CaDep
from copyalign.api.errors import status_for
from copyalign.context import Copyalign
from copyalign.core.canonical import format_time
from copyalign.core.refusals import in_words
from copyalign.core.registry.preferences import JURISDICTIONS, Purpose, Resolved, Statement, Value, resolve_all
from copyalign.errors import AuthenticationError, CopyalignError
from copyalign.services.registry.parties import Principal
from copyalign.services.registry.preferences import PreferenceInput
from copyalign.services.registry.works import WorkInput

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
STATIC = str(Path(__file__).with_name("static"))
TEMPLATES.env.filters["when"] = lambda t: format_time(t)[:19].replace("T", " ") + " UTC" if t else ""

router = APIRouter(include_in_schema=False)

PURPOSES = [p.value for p in Purpose]
VALUES = [v.value for v in Value]
#: "*" first, read as "everywhere"; then the named jurisdictions.
JURISDICTION_CHOICES = [("*", "everywhere")] + [(j, j) for j in sorted(JURISDICTIONS - {"*"})]
#: Works per page on /works; tests lower it to exercise ``after``.
PAGE_SIZE = 50
SESSION_SECONDS = 8 * 3600


def render(request: Request, name: str, status: int = 200, **ctx: Any) -> Response:
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)


def error_page(request: Request, status: int, body: dict[str, object]) -> Response:
    """The HTML error page; :mod:`copyalign.api.errors` renders every portal error through it."""
    return render(request, "error.html", status, error=body.get("error", {}), me=_principal(request))


def _principal(request: Request, ca: Copyalign | None = None) -> Principal | None:
    """Who the cookie names, or ``None`` (no cookie, a malformed, unknown or revoked key)."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    ca = ca or request.app.state.ca
    try:
        return ca.parties.authenticate(token)
    except CopyalignError:  # AuthenticationError, or a store outage while rendering an error page
        return None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:  # older browsers and non-browser clients send none; the cookie is the defence
        return True
    return origin != "null" and urlsplit(origin).netloc == request.headers.get("host")


def _cross_site(request: Request) -> Response:
    return error_page(
        request,
        403,
        {"error": {"code": "cross_site_request", "message": "this form was sent from another site and was refused"}},
    )


def _signin() -> RedirectResponse:
    return RedirectResponse("/signin", status_code=303)


def _status(exc: CopyalignError) -> int:
    return status_for(exc)


def _form_post(request: Request, ca: Copyalign, act: Callable[[Principal], str]) -> Response:
    """A portal form's POST: signed in and same-origin, then ``act``; a refusal is an error page with its
    status, success a 303 to the page ``act`` names (post, redirect, get)."""
    me = _principal(request, ca)
    if me is None:
        return _signin()
    if not _same_origin(request):
        return _cross_site(request)
    try:
        target = act(me)
    except CopyalignError as exc:  # 403 for another's work, 404, 409 after a close, 400 for a bad choice
        return error_page(request, _status(exc), {"error": exc.to_dict()})
    return RedirectResponse(target, status_code=303)


def _current(ca: Copyalign, statements: list[Statement]) -> dict[Purpose, Resolved]:
    return resolve_all(
        statements,
        at=ca.clock.now(),
        jurisdiction=ca.policy.profile.jurisdiction,
        defaults=ca.policy.preferences.defaults,
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request, ca: CaDep) -> Response:
    return render(
        request,
        "index.html",
        me=_principal(request, ca),
        policy=ca.policy.profile,
        over_preset=ca.policy.over_preset,
        overrides=[d.to_dict() for d in ca.policy.departures()],
    )


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request) -> Response:
    return render(request, "signin.html")


@router.post("/signin", response_class=HTMLResponse)
def signin(request: Request, ca: CaDep, api_key: Annotated[str, Form()] = "") -> Response:
    if not _same_origin(request):
        return _cross_site(request)
    api_key = api_key.strip()
    if not api_key:
        return render(request, "signin.html", 401, error="enter the API key your registry operator gave you")
    try:
        who = ca.parties.authenticate(api_key)
    except AuthenticationError as exc:
        return render(request, "signin.html", 401, error=exc.message)
    # each role lands where its work is: holders on their works, developers on their notices
    landing = {"rights_holder": "/works", "operator": "/works", "developer": "/my/notices"}.get(
        who.role.value, "/notices"
    )
    response = RedirectResponse(landing, status_code=303)
    response.set_cookie(
        COOKIE,
        api_key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=SESSION_SECONDS,
    )
    return response


@router.post("/signout")
def signout(request: Request) -> Response:
    """Forget the key: a POST with the same-origin check, never a GET (another site could otherwise sign a user
    out with an image tag); a GET answers 405 with ``Allow: POST``."""
    if not _same_origin(request):
        return _cross_site(request)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, httponly=True, samesite="strict")
    return response


@router.get("/works", response_class=HTMLResponse)
def my_works(request: Request, ca: CaDep, after: str | None = None) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    works = ca.works.list(me, after=after, limit=PAGE_SIZE)
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
    more = works[-1].id if len(works) == PAGE_SIZE else None
    return render(request, "works.html", me=me, rows=rows, next=more, paged=after is not None)


@router.get("/works/new", response_class=HTMLResponse)
def new_work_form(request: Request, ca: CaDep) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    return render(request, "new_work.html", me=me, purposes=PURPOSES, form={}, max_bytes=ca.settings.max_upload_bytes)


@router.post("/works/new", response_class=HTMLResponse)
def new_work(
    request: Request,
    ca: CaDep,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()] = "",
    creators: Annotated[str, Form()] = "",
    deny: Annotated[list[str] | None, Form()] = None,
) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    if not _same_origin(request):
        return _cross_site(request)
    form = {"title": title, "creators": creators, "deny": deny or []}
    try:
        # one byte over the limit is enough for the service to refuse it by size
        data = file.file.read(ca.settings.max_upload_bytes + 1)
        item = WorkInput(
            data=data,
            title=title.strip() or (file.filename or ""),
            preferences=tuple(PreferenceInput.parse(p, "deny") for p in deny or []),
            creators=tuple(c.strip() for c in creators.split(",") if c.strip()),
        )
        view = ca.works.register(me, item)
    except CopyalignError as exc:
        # said plainly (what the file was taken for, why it was refused, what to do); the precise message is
        # kept under "technical details"
        plain = in_words(file.filename or "the file", exc.code, exc.message)
        return render(
            request,
            "new_work.html",
            _status(exc),
            me=me,
            purposes=PURPOSES,
            form=form,
            max_bytes=ca.settings.max_upload_bytes,
            error=plain,
            details=exc.message if plain != exc.message else None,
        )
    return RedirectResponse(f"/works/{view.id}?registered=1", status_code=303)


@router.get("/works/{work_id}", response_class=HTMLResponse)
def work_page(
    request: Request, ca: CaDep, work_id: str, registered: bool = False, recorded: int | None = None
) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    work = ca.works.get(me, work_id)  # raises 404 / 403 first, so the history below is the holder's own
    history = ca.preferences.history(me, work_id)
    # the confirmation after a POST-redirect-GET: the statement the redirect names, found in the history
    just = next((st for st in history if st.log_index == recorded), None) if recorded is not None else None
    return render(
        request,
        "work.html",
        me=me,
        work=work,
        registered=registered,
        just_recorded=just,
        conflicts=ca.conflicts.for_work(me, work_id),
        history=list(reversed(history)),
        current=_current(ca, history),
        purposes=PURPOSES,
        values=VALUES,
        jurisdictions=JURISDICTION_CHOICES,
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
    def act(me: Principal) -> str:
        receipt = ca.preferences.set(me, work_id=work_id, pref=PreferenceInput.parse(purpose, value, jurisdiction))
        return f"/works/{work_id}?recorded={receipt.index}"  # the page confirms what was recorded

    return _form_post(request, ca, act)


# -- training notices, statements, a developer's notices and invoices --------------------------------------


@router.get("/notices", response_class=HTMLResponse)
def notice_board(request: Request, ca: CaDep) -> Response:
    """The public notice board: open notices first, then finalised ones."""
    me = _principal(request, ca)
    return render(request, "notices.html", me=me, open=ca.notices.board("open"), done=ca.notices.board("finalised"))


@router.get("/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, ca: CaDep, notice_id: str) -> Response:
    """A notice's public facts; a signed-in holder also sees its listed works with an object button, the
    developer and the operator every listed work and the objection history."""
    me = _principal(request, ca)
    notice = ca.notices.get(me, notice_id)
    works = ca.notices.works(me, notice_id) if me is not None else []
    objections = ca.notices.objections(me, notice_id) if me is not None else []
    now = ca.clock.now()
    window_open = notice.status == "open" and notice.closes_at is not None and now < notice.closes_at
    return render(
        request, "notice.html", me=me, notice=notice, works=works, objections=objections, window_open=window_open
    )


@router.post("/notices/{notice_id}/object", response_class=HTMLResponse)
def object_form(
    request: Request,
    ca: CaDep,
    notice_id: str,
    work_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    def act(me: Principal) -> str:
        ca.notices.object(me, notice_id, [work_id] if work_id else None, reason)
        return f"/notices/{notice_id}"

    return _form_post(request, ca, act)


@router.post("/objections/{objection_id}/withdraw", response_class=HTMLResponse)
def withdraw_form(request: Request, ca: CaDep, objection_id: str) -> Response:
    return _form_post(request, ca, lambda me: f"/notices/{ca.notices.withdraw(me, objection_id).notice_id}")


@router.get("/my/notices", response_class=HTMLResponse)
def my_notices(request: Request, ca: CaDep) -> Response:
    """A holder's notices that list its works; a developer's own notices and the usage reports it owes; for the
    operator and the auditor, every overdue usage report."""
    me = _principal(request, ca)
    if me is None:
        return _signin()
    chased = me.role.value in ("developer", "operator", "auditor")
    dues = ca.reporting.due(me) if chased else []
    return render(request, "my_notices.html", me=me, notices=ca.notices.mine(me), dues=dues, chased=chased)


@router.get("/statements", response_class=HTMLResponse)
def statements_page(request: Request, ca: CaDep) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    return render(request, "statements.html", me=me, st=ca.licensing.statement(me))


@router.get("/statements.csv")
def statements_csv(request: Request, ca: CaDep) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    csv_text = ca.licensing.statement_csv(ca.licensing.statement(me))
    return Response(
        csv_text, media_type="text/csv", headers={"Content-Disposition": "attachment; filename=statement.csv"}
    )


@router.get("/invoices", response_class=HTMLResponse)
def invoices_page(request: Request, ca: CaDep) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    return render(
        request, "invoices.html", me=me, invoices=ca.licensing.invoices(me), queue=ca.licensing.simplified_queue(me)
    )


__all__ = ["STATIC", "error_page", "router"]
