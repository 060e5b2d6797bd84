"""/v1/lookup: is this content registered, whose is it, what does it allow (now or as of a time)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import AwareDatetime

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.routers.works import decode_content
from copyalign.api.schemas import LookupText

router = APIRouter(tags=["lookup"])


@router.post("/lookup")
def lookup_json(body: LookupText, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    data = decode_content(body.text, body.content_base64)
    return ca.lookup.lookup(principal, data, kind=body.kind, at=body.at, jurisdiction=body.jurisdiction).to_dict()


@router.post("/lookup/upload")
async def lookup_upload(
    ca: CaDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str | None, Form()] = None,
    at: Annotated[AwareDatetime | None, Form()] = None,
    jurisdiction: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    data = await file.read(ca.settings.max_upload_bytes + 1)
    return ca.lookup.lookup(principal, data, kind=kind, at=at, jurisdiction=jurisdiction).to_dict()
