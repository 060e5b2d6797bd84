"""/v1/match: which registered works are inside this text or image, where, and what do they allow."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from copyalign.api.deps import CaDep, PrincipalDep, index_may_wait, on_loop
from copyalign.api.routers.works import decode_content
from copyalign.api.schemas import MatchInput

router = APIRouter(tags=["match"])


@router.post("/match")
def match_json(body: MatchInput, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Match one item given as ``text`` or ``content_base64`` (an image, or text bytes)."""
    data = decode_content(body.text, body.content_base64)
    return ca.matching.match(principal, data, kind=body.kind, limit=body.limit).to_dict()


@router.post("/match/upload")
async def match_upload(
    ca: CaDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str | None, Form(json_schema_extra={"enum": ["text", "image"]})] = None,
    limit: Annotated[int, Form(ge=1, le=1000)] = 20,
) -> dict[str, Any]:
    data = await file.read(ca.settings.max_upload_bytes + 1)
    found = await on_loop(lambda: ca.matching.match(principal, data, kind=kind, limit=limit), unless=index_may_wait(ca))
    return found.to_dict()
