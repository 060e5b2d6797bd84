"""/v1/guard and /v1/traces: the deployment guard over HTTP, for providers that do not run it in process.

The two checks a provider makes per generation (``/guard/prompt``, ``/guard/output``) are ``async`` and run on
the worker's event loop when they only read (the index in memory, a few indexed rows): the thread-pool hop
FastAPI gives a plain ``def`` would cost ~0.4 ms of CPU a request (``benchmarks/http_load.py``). Whatever may
wait goes to the thread pool instead (:func:`~copyalign.api.deps.on_loop`): an index refresh that is due, and a
named user's prompt, whose flags the user journey writes. Routes that write run in the thread pool: a write can
wait on a database lock, and it must not wait on the loop (``tests/integration/test_event_loop.py``).
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from copyalign.api.deps import CaDep, PrincipalDep, index_may_wait, on_loop, output_may_wait
from copyalign.api.routers.works import decode_content
from copyalign.api.schemas import BlockCreate, GuardDeliver, GuardOutput, GuardPrompt, GuardTermCreate, TraceLookupInput

router = APIRouter(tags=["guard"])


@router.post("/guard/prompt")
async def check_prompt(body: GuardPrompt, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Screen a prompt before generation: ``decision`` is allow, warn or block, with the reasons."""
    verdict = await on_loop(
        lambda: ca.guard.check_prompt(principal, body.prompt, user=body.user),
        unless=bool(body.user) or index_may_wait(ca),  # a named user's flag is written by the user journey
    )
    return verdict.to_dict()


@router.post("/guard/output")
async def check_output(body: GuardOutput, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Screen an output against the registry and the provider's blocklist before delivering it."""
    data = decode_content(body.text, body.content_base64)
    verdict = await on_loop(
        lambda: ca.guard.check_output(principal, data, kind=body.kind, provider_id=body.provider_id),
        unless=output_may_wait(ca),
    )
    return verdict.to_dict()


@router.post("/guard/output/upload")
async def check_output_upload(
    ca: CaDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File()],
    kind: Annotated[str | None, Form(json_schema_extra={"enum": ["text", "image"]})] = None,
) -> dict[str, Any]:
    data = await file.read(ca.settings.max_upload_bytes + 1)
    verdict = await on_loop(lambda: ca.guard.check_output(principal, data, kind=kind), unless=output_may_wait(ca))
    return verdict.to_dict()


@router.post("/guard/deliver")
def deliver(body: GuardDeliver, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Screen, label, watermark and trace an output; an image comes back as ``content_base64``."""
    data = decode_content(body.text, body.content_base64)
    d = ca.guard.deliver(principal, data, prompt=body.prompt, user=body.user, model=body.model, kind=body.kind)
    out = d.to_dict()
    if d.kind == "image" and d.content is not None:
        out["content_base64"] = base64.b64encode(d.content).decode("ascii")
    return out


@router.post("/guard/terms", status_code=201)
def add_term(body: GuardTermCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    view = ca.guard.add_term(
        principal, kind=body.kind, names=body.names, work_ids=body.work_ids, holder_id=body.holder_id
    )
    return view.to_dict()


@router.get("/guard/terms")
def list_terms(ca: CaDep, principal: PrincipalDep, include_revoked: bool = False) -> dict[str, Any]:
    return {"terms": [t.to_dict() for t in ca.guard.terms(principal, include_revoked=include_revoked)]}


@router.delete("/guard/terms/{term_id}")
def revoke_term(term_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.guard.revoke_term(principal, term_id).to_dict()


@router.post("/guard/blocklist", status_code=201)
def block_output(body: BlockCreate, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    data = decode_content(body.text, body.content_base64)
    view = ca.guard.block_output(
        principal, data, reason=body.reason, source=body.source, provider_id=body.provider_id, kind=body.kind
    )
    return view.to_dict()


@router.post("/guard/seal")
def seal(ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Commit the unsealed generation traces to the log now."""
    return {"log_index": ca.guard.seal(principal)}


@router.get("/traces/{trace_id}")
def get_trace(trace_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.guard.trace(principal, trace_id).to_dict()


@router.post("/traces/lookup")
def lookup_trace(body: TraceLookupInput, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Read a file's labels and watermark and return the generation trace they lead to."""
    return ca.guard.trace_content(principal, decode_content(body.text, body.content_base64)).to_dict()
