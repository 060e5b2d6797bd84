"""/v1/lookup: is this content registered, whose is it, what does it allow (now or as of a time)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.routers.works import decode_content
from copyalign.api.schemas import LookupText
from copyalign.core.registry.preferences import JURISDICTIONS
from copyalign.errors import InvalidInputError

router = APIRouter(tags=["lookup"])


@router.post("/lookup")
async def lookup_json(body: LookupText, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    data = decode_content(body.text, body.content_base64)
    # reads indexed rows only (no index refresh, no write): on the event loop (see copyalign.api.routers.guard)
    return ca.lookup.lookup(principal, data, kind=body.kind, at=body.at, jurisdiction=body.jurisdiction).to_dict()


@router.post("/lookup/upload")
async def lookup_upload(
    ca: CaDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str | None, Form(json_schema_extra={"enum": ["text", "image"]})] = None,
    at: Annotated[str | None, Form(description="An RFC 3339 time with its offset; empty for now.")] = None,
    jurisdiction: Annotated[str | None, Form(json_schema_extra={"enum": sorted(JURISDICTIONS)})] = None,
) -> dict[str, Any]:
    data = await file.read(ca.settings.max_upload_bytes + 1)
    when = _at(at)
    return ca.lookup.lookup(principal, data, kind=kind, at=when, jurisdiction=jurisdiction).to_dict()


_TIME = TypeAdapter(AwareDatetime)


def _at(raw: str | None) -> datetime | None:
    """A multipart form cannot send null: an empty ``at`` means now."""
    if raw is None or raw == "":
        return None
    try:
        return _TIME.validate_python(raw)
    except ValidationError as exc:
        raise InvalidInputError(f"at: {exc.errors()[0]['msg']}", field="at") from None
