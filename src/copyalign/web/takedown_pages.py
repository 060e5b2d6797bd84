"""The takedown desk in the portal (issue 18): a rights holder's "File a complaint" and "My complaints", the
public complaint form (no account), and the provider's desk with its decision forms.

Same pattern as :mod:`.pages`: plain forms, POST-redirect-GET, the ``SameSite=Strict`` key cookie plus the
same-origin check on every POST. A refused form comes back filled in, with the message and the refused input
marked (``aria-invalid``), under the status the API would answer (400, 404, 429 with ``Retry-After``). A notice
that lacks an element under the provider's law is not refused: it is kept as *incomplete* and its page lists
what is missing. The public form answers with the notice's page once, showing the follow token; the
confirmation to the sender's e-mail address is in the provider's outbox.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from copyalign.api.deps import CaDep
from copyalign.context import Copyalign
from copyalign.core.takedown.elements import MaterialKind, Party
from copyalign.errors import CopyalignError, InvalidInputError, RateLimitedError
from copyalign.services.registry.parties import Principal
from copyalign.services.takedown.inputs import DecisionInput, MaterialInput, NoticeAmendment, NoticeFiling, WorkClaim
from copyalign.web.pages import (
    _cross_site,
    _form_post,
    _principal,
    _same_origin,
    _signin,
    _status,
    error_page,
    render,
)

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

KINDS = [
    (MaterialKind.TRACE.value, "a trace id (from the output's label)"),
    (MaterialKind.DELIVERED_FILE.value, "the generated file itself (upload it below)"),
    (MaterialKind.OUTPUT_TEXT.value, "the generated text"),
    (MaterialKind.CONTENT_DIGEST.value, "the output's SHA-256"),
    (MaterialKind.PROMPT.value, "the prompt that produced it"),
    (MaterialKind.URL.value, "a URL where it is published"),
    (MaterialKind.MODEL.value, "a model (its training)"),
]
OUTCOMES = [
    ("upheld", "upheld: act on every item"),
    ("partially_upheld", "partially upheld"),
    ("rejected", "rejected"),
    ("manifestly_unfounded", "manifestly unfounded (counts against the sender)"),
]
STATUSES = ["incomplete", "complete", "triaged", "upheld", "measures_applied", "counter_noticed", "rejected"]
#: the service's error fields, as the form's inputs (the input marked invalid)
INPUTS = {
    "material.kind": "material_kind",
    "material.value": "material_value",
    "material.content": "material_file",
    "material": "material_kind",
    "works.work_id": "work_id",
    "works": "work_id",
    "provider_id": "provider_id",
    "sender.email": "email",
    "sender.name": "name",
    "explanation": "explanation",
    "evidence": "evidence",
}
MAX_FILE = 10 * 1024 * 1024


def _form_state(form: dict[str, Any], exc: CopyalignError) -> dict[str, Any]:
    field = exc.field or ""
    return {"error": exc.message, "field": field, "invalid": INPUTS.get(field, INPUTS.get(field.split(".")[0], ""))}


async def _filing(request: Request, *, holder: bool) -> tuple[NoticeFiling, dict[str, Any]]:
    """The notice the form describes, and the form's values (to fill it again when refused)."""
    raw = await request.form()
    form = {k: v for k, v in raw.items() if isinstance(v, str)}
    upload = raw.get("material_file")
    content: bytes | None = None
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(MAX_FILE + 1)
        if len(content) > MAX_FILE:
            raise InvalidInputError("the file is over 10 MiB", field="material.content")
    kind = form.get("material_kind", "")
    value = form.get("material_value", "").strip() or None
    materials = (MaterialInput(kind, None if content is not None else value, content),) if kind else ()
    location = form.get("original_location", "").strip()
    claim = WorkClaim(
        work_id=(form.get("work_id") or None) if holder else None,
        description=form.get("description", "").strip() or None,
        original_locations=(location,) if location else (),
        materials=materials,
    )
    sender = Party(*(form.get(k, "").strip() or None for k in ("name", "email", "address", "phone", "identity_proof")))
    filing = NoticeFiling(
        works=(claim,),
        sender=sender,
        provider_id=form.get("provider_id") or None,
        explanation=form.get("explanation", "").strip() or None,
        signature=form.get("signature", "").strip() or None,
        good_faith="good_faith" in form,
        accurate="accurate" in form,
        authorised="authorised" in form,
        evidence=tuple(x.strip() for x in form.get("evidence", "").splitlines() if x.strip()),
    )
    return filing, form


def _file_page(request: Request, ca: Copyalign, me: Principal | None, status: int = 200, **more: Any) -> Response:
    works = ca.works.list(me, limit=200) if me is not None else []
    return render(
        request,
        "takedown_file.html",
        status,
        me=me,
        works=works,
        kinds=KINDS,
        providers=ca.takedown.providers(),
        public=me is None,
        form=more.pop("form", {}),
        **more,
    )


@router.get("/takedown/file", response_class=HTMLResponse)
def file_form(request: Request, ca: CaDep) -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    return _file_page(request, ca, me)


@router.post("/takedown/file", response_class=HTMLResponse)
async def file_notice(request: Request, ca: CaDep) -> Response:
    me = await _run(_principal, request, ca)
    if me is None:
        return _signin()
    if not _same_origin(request):
        return _cross_site(request)
    form: dict[str, Any] = {}
    try:
        filing, form = await _filing(request, holder=True)
        view = await _run(ca.takedown.file, me, filing)
    except CopyalignError as exc:
        return await _run(partial(_file_page, request, ca, me, _status(exc), form=form, **_form_state(form, exc)))
    return RedirectResponse(f"/takedown/notices/{view.id}?filed=1", status_code=303)


@router.get("/takedown/report", response_class=HTMLResponse)
def public_form(request: Request, ca: CaDep) -> Response:
    return _file_page(request, ca, None)


@router.post("/takedown/report", response_class=HTMLResponse)
async def public_notice(request: Request, ca: CaDep) -> Response:
    """A notice from someone without an account: answered with its page and follow token, once."""
    if not _same_origin(request):
        return _cross_site(request)
    form: dict[str, Any] = {}
    origin = request.client.host if request.client else None
    try:
        filing, form = await _filing(request, holder=False)
        view = await _run(lambda f: ca.takedown.file_public(f, origin=origin), filing)
    except CopyalignError as exc:
        page = await _run(partial(_file_page, request, ca, None, _status(exc), form=form, **_form_state(form, exc)))
        if isinstance(exc, RateLimitedError):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    return render(request, "takedown_notice.html", 201, me=None, n=view, public=True, filed=True, outcomes=OUTCOMES)


async def _run(fn: Callable[..., T], *args: Any) -> T:
    """A blocking service call in the thread pool (the page itself is async to read the multipart form)."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


@router.get("/takedown/mine", response_class=HTMLResponse)
def my_complaints(request: Request, ca: CaDep) -> Response:
    """The notices I filed (or that were filed for me), with their state and next deadline."""
    me = _principal(request, ca)
    if me is None:
        return _signin()
    if me.role.value == "provider":
        return RedirectResponse("/takedown/desk", status_code=303)  # a provider's notices are its desk's
    entries = ca.takedown.queue(me, open_only=False, limit=1000)
    return render(request, "takedown_mine.html", me=me, entries=entries)


@router.get("/takedown/desk", response_class=HTMLResponse)
def desk(request: Request, ca: CaDep, status: str = "", overdue: bool = False, closed: bool = False) -> Response:
    """A provider's queue (the operator's: every desk), by priority and then the earliest deadline."""
    me = _principal(request, ca)
    if me is None:
        return _signin()
    if me.role.value not in ("provider", "operator"):
        message = "the takedown desk is a provider's: your notices are under My complaints"
        return error_page(request, 403, {"error": {"code": "forbidden", "message": message}})
    entries = ca.takedown.queue(
        me, status=status or None, overdue=overdue, open_only=not closed and not status, limit=1000
    )
    filters = {"status": status, "overdue": overdue, "closed": closed}
    return render(request, "takedown_desk.html", me=me, entries=entries, statuses=STATUSES, filters=filters)


@router.get("/takedown/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, ca: CaDep, notice_id: str, filed: bool = False, done: str = "") -> Response:
    me = _principal(request, ca)
    if me is None:
        return _signin()
    view = ca.takedown.notice(me, notice_id)
    runs_desk = me.role.value == "operator" or me.party_id == view.provider_id
    return render(
        request,
        "takedown_notice.html",
        me=me,
        n=view,
        public=False,
        filed=filed,
        done=done,
        runs_desk=runs_desk,
        outcomes=OUTCOMES,
    )


@router.post("/takedown/notices/{notice_id}/complete", response_class=HTMLResponse)
def complete_form(
    request: Request,
    ca: CaDep,
    notice_id: str,
    name: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    address: Annotated[str, Form()] = "",
    phone: Annotated[str, Form()] = "",
    identity_proof: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form()] = "",
    signature: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    good_faith: Annotated[str, Form()] = "",
    accurate: Annotated[str, Form()] = "",
    authorised: Annotated[str, Form()] = "",
) -> Response:
    """The sender completes its incomplete notice: the contact given replaces the old, evidence is added."""

    def act(me: Principal) -> str:
        sender = Party(*(x.strip() or None for x in (name, email, address, phone, identity_proof)))
        change = NoticeAmendment(
            sender=sender,
            explanation=explanation.strip() or None,
            signature=signature.strip() or None,
            good_faith=True if good_faith else None,
            accurate=True if accurate else None,
            authorised=True if authorised else None,
            evidence=tuple(x.strip() for x in evidence.splitlines() if x.strip()),
        )
        ca.takedown.complete(me, notice_id, change)
        return f"/takedown/notices/{notice_id}?done=completed"

    return _form_post(request, ca, act)


@router.post("/takedown/notices/{notice_id}/triage", response_class=HTMLResponse)
def triage_form(request: Request, ca: CaDep, notice_id: str) -> Response:
    def act(me: Principal) -> str:
        ca.takedown.triage(me, notice_id)
        return f"/takedown/notices/{notice_id}?done=triaged"

    return _form_post(request, ca, act)


@router.post("/takedown/notices/{notice_id}/decision", response_class=HTMLResponse)
def decide_form(
    request: Request,
    ca: CaDep,
    notice_id: str,
    outcome: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form()] = "",
    ground: Annotated[str, Form()] = "law",
) -> Response:
    def act(me: Principal) -> str:
        if not explanation.strip():
            raise InvalidInputError("say why: the statement of reasons quotes it", field="explanation")
        ca.takedown.decide(me, notice_id, DecisionInput(outcome, explanation.strip(), ground))
        return f"/takedown/notices/{notice_id}?done=decided"

    return _form_post(request, ca, act)


@router.post("/takedown/notices/{notice_id}/measures", response_class=HTMLResponse)
def act_form(request: Request, ca: CaDep, notice_id: str) -> Response:
    def act(me: Principal) -> str:
        ca.takedown.act(me, notice_id)
        return f"/takedown/notices/{notice_id}?done=acted"

    return _form_post(request, ca, act)


__all__ = ["router"]
