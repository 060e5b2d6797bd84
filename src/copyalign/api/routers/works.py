"""/v1/works: register (JSON, multipart upload, JSONL import), list, read, update, preferences."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.schemas import PreferenceIn, WorkCreate, WorkUpdate, time_json, work_json
from copyalign.core.content import check_text, encode_text
from copyalign.errors import InvalidInputError, ItemError, ManifestError
from copyalign.services.registry.manifest import parse_lines
from copyalign.services.registry.preferences import PreferenceInput
from copyalign.services.registry.works import WorkInput

router = APIRouter(tags=["works"])

_prefs = TypeAdapter(list[PreferenceIn])


def _pref_inputs(prefs: list[PreferenceIn]) -> tuple[PreferenceInput, ...]:
    return tuple(PreferenceInput.parse(p.purpose, p.value, p.jurisdiction, p.effective_at) for p in prefs)


def decode_content(text: str | None, content_base64: str | None) -> bytes:
    if (text is None) == (content_base64 is None):
        raise InvalidInputError("give exactly one of text or content_base64", field="text")
    if text is not None:
        return encode_text(text, field="text")
    try:
        return base64.b64decode(content_base64 or "", validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError("content_base64 is not valid base64", field="content_base64") from None


@router.post("/works", status_code=201)
def register_json(body: WorkCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    item = WorkInput(
        data=decode_content(body.text, body.content_base64),
        title=body.title,
        kind=body.kind,
        creators=tuple(body.creators),
        identifiers=body.identifiers,
        preferences=_pref_inputs(body.preferences),
    )
    return work_json(ca.works.register(principal, item, holder_id=body.holder_id))


def _json_field(raw: str | None, name: str, default: Any) -> Any:
    if raw is None or raw == "":
        return default
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise InvalidInputError(f"{name} must be JSON", field=name) from None
    check_text(value, field=name)
    return value


@router.post("/works/upload", status_code=201)
async def register_upload(
    ca: CaDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="The work's content: a UTF-8 text or an image.")],
    title: Annotated[str, Form(min_length=1, max_length=1000)],
    kind: Annotated[str | None, Form(json_schema_extra={"enum": ["text", "image"]})] = None,
    creators: Annotated[str | None, Form(description="JSON list of names")] = None,
    identifiers: Annotated[str | None, Form(description='JSON object, e.g. {"isbn": "…"}')] = None,
    preferences: Annotated[str | None, Form(description="JSON list of {purpose, value, …}")] = None,
    holder_id: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    data = await file.read(ca.settings.max_upload_bytes + 1)
    creators_v = _json_field(creators, "creators", [])
    idents_v = _json_field(identifiers, "identifiers", {})
    if not isinstance(creators_v, list) or not all(isinstance(c, str) for c in creators_v):
        raise InvalidInputError("creators must be a JSON list of strings", field="creators")
    if not isinstance(idents_v, dict) or not all(isinstance(v, str) for v in idents_v.values()):
        raise InvalidInputError("identifiers must be a JSON object of strings", field="identifiers")
    try:
        prefs = _prefs.validate_python(_json_field(preferences, "preferences", []))
    except ValidationError as exc:
        raise InvalidInputError(f"preferences: {exc.errors()[0]['msg']}", field="preferences") from None
    item = WorkInput(
        data=data,
        title=title,
        kind=kind,
        creators=tuple(creators_v),
        identifiers=idents_v,
        preferences=_pref_inputs(prefs),
    )
    # async to read the upload; the registration writes, so in the thread pool (a lock wait must not stall the loop)
    return work_json(await run_in_threadpool(lambda: ca.works.register(principal, item, holder_id=holder_id)))


@router.post("/works/import", status_code=201)
async def import_manifest(
    request: Request, ca: CaDep, principal: PrincipalDep, holder_id: str | None = None
) -> dict[str, Any]:
    """Register every line of a JSON Lines body, or none (the error names the line)."""
    body = await request.body()
    items, numbers = parse_lines(body.splitlines(), base=None)
    try:  # a bulk write of seconds: in the thread pool, so the worker's event loop goes on serving meanwhile
        views = await run_in_threadpool(lambda: ca.works.register_many(principal, items, holder_id=holder_id))
    except ItemError as exc:
        raise ManifestError(exc.error.message, line=numbers[exc.position], field=exc.error.field) from None
    return {"registered": len(views), "works": [work_json(v) for v in views]}


@router.get("/works")
def list_works(
    ca: CaDep,
    principal: PrincipalDep,
    holder_id: str | None = None,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    works = ca.works.list(principal, holder_id=holder_id, after=after, limit=limit)
    return {"works": [work_json(w) for w in works], "next": works[-1].id if len(works) == limit else None}


@router.get("/works/{work_id}")
def get_work(work_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    out = work_json(ca.works.get(principal, work_id))
    out["revisions"] = [
        {**r, "recorded_at": time_json(r["recorded_at"])} for r in ca.works.revisions(principal, work_id)
    ]
    return out


@router.get(
    "/works/{work_id}/content",
    response_class=Response,
    responses={
        200: {
            "description": "The work's content as registered, with its media type.",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}}
                for t in ("text/plain", "image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp")
            },
        }
    },
)
def get_content(work_id: str, ca: CaDep, principal: PrincipalDep) -> Response:
    data, media_type = ca.works.content(principal, work_id)
    return Response(data, media_type=media_type)


@router.patch("/works/{work_id}")
def update_work(work_id: str, body: WorkUpdate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    view = ca.works.update(principal, work_id, title=body.title, creators=body.creators, identifiers=body.identifiers)
    return work_json(view)


@router.get("/works/{work_id}/preferences")
def preference_history(work_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    items = ca.preferences.history(principal, work_id)
    return {
        "work_id": work_id,
        "history": [
            {
                "scope": st.scope.value,
                "purpose": st.purpose.value,
                "value": st.value.value,
                "jurisdiction": st.jurisdiction,
                "effective_at": time_json(st.effective_at),
                "recorded_at": time_json(st.recorded_at),
                "log_index": st.log_index,
            }
            for st in items
        ],
    }


@router.post("/works/{work_id}/preferences", status_code=201)
def set_work_preference(work_id: str, body: PreferenceIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    receipt = ca.preferences.set(principal, work_id=work_id, pref=_pref_inputs([body])[0])
    return {"work_id": work_id, "receipt": receipt.to_dict()}


@router.post("/parties/{party_id}/preferences", status_code=201)
def set_default_preference(party_id: str, body: PreferenceIn, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """A holder's default for all its works (a work's own statement still wins)."""
    receipt = ca.preferences.set(principal, holder_id=party_id, pref=_pref_inputs([body])[0])
    return {"holder_id": party_id, "receipt": receipt.to_dict()}
