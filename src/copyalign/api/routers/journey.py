"""/v1/journey: terms of use and their acceptance, a user's standing, user-trained models (seed 004 ¶84, ¶26)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from copyalign.api.deps import CaDep, PrincipalDep
from copyalign.api.routers.works import decode_content
from copyalign.api.schemas import (
    AdapterFile,
    AdapterRegister,
    AdapterReview,
    ModelDeclare,
    TermsAccept,
    TermsPublish,
)

router = APIRouter(tags=["journey"])


@router.post("/journey/terms", status_code=201)
def publish_terms(body: TermsPublish, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Publish a version of the provider's terms of use with its users' copyright commitments."""
    return ca.journey.publish_terms(principal, body.version, texts=body.texts, provider_id=body.provider_id).to_dict()


@router.get("/journey/terms")
def list_terms(ca: CaDep, principal: PrincipalDep, provider_id: str | None = None) -> dict[str, Any]:
    """The provider's terms, oldest first; the last is current."""
    return {"terms": [t.to_dict() for t in ca.journey.list_terms(principal, provider_id)]}


@router.post("/journey/terms/{version}/acceptances")
def accept_terms(version: str, body: TermsAccept, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Record a batch of the provider's users who accepted this version (one log entry per batch)."""
    batch = ca.journey.accept_terms(
        principal, version, users=body.users, user_refs=body.user_refs, provider_id=body.provider_id
    )
    return batch.to_dict()


@router.get("/journey/standing")
def standing(
    ca: CaDep,
    principal: PrincipalDep,
    user: str | None = None,
    user_ref: str | None = None,
    provider_id: str | None = None,
) -> dict[str, Any]:
    """A user's standing: terms accepted and the dynamic warnings' level (the provider shows it to its user)."""
    return ca.journey.standing(principal, user=user, user_ref=user_ref, provider_id=provider_id).to_dict()


@router.post("/journey/adapters", status_code=201)
def register_adapter(body: AdapterRegister, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a user model with its training set; the set is scanned before training is allowed."""
    items = [(item.name, decode_content(item.text, item.content_base64)) for item in body.items]
    view = ca.journey.register_adapter_items(
        principal,
        items,
        name=body.name,
        base_model=body.base_model,
        user=body.user,
        method=body.method,
        provider_id=body.provider_id,
    )
    return view.to_dict()


@router.get("/journey/adapters")
def list_adapters(ca: CaDep, principal: PrincipalDep, provider_id: str | None = None) -> dict[str, Any]:
    """The provider's user models; a model removed by a takedown measure is listed as removed."""
    return {"adapters": [a.to_dict() for a in ca.journey.list_adapters(principal, provider_id)]}


@router.get("/journey/adapters/{adapter_id}")
def get_adapter(adapter_id: str, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.journey.adapter(principal, adapter_id).to_dict()


@router.post("/journey/adapters/{adapter_id}/review")
def review_adapter(adapter_id: str, body: AdapterReview, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    return ca.journey.review_adapter(principal, adapter_id, decision=body.decision, reason=body.reason).to_dict()


@router.post("/journey/adapters/{adapter_id}/file")
def attach_adapter(adapter_id: str, body: AdapterFile, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Record the trained file's digest (an allowed model only)."""
    data = decode_content(body.text, body.content_base64)
    return ca.journey.attach_adapter(principal, adapter_id, data).to_dict()


# -- downstream: the model's copyright record for deployers (seed 004 ¶56, ¶96(a)) ------------------------------


@router.post("/models", status_code=201)
def declare_model(body: ModelDeclare, ca: CaDep, principal: PrincipalDep) -> dict[str, Any]:
    """Declare a model: the scans, notices and audits (each by its log entry) its copyright record is made of."""
    return ca.modelcards.declare(
        principal,
        body.name,
        developer_id=body.developer_id,
        sha256=body.sha256,
        scans=body.scans,
        notices=body.notices,
        audits=body.audits,
        providers=body.providers,
        license=body.license,
    )


@router.get(
    "/models/{name:path}/card",
    response_model=None,
    responses={
        200: {
            "description": "The card: JSON (format json) or Markdown with model card metadata (format markdown).",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/markdown": {"schema": {"type": "string"}},
            },
        }
    },
)
def model_card(
    name: str,
    ca: CaDep,
    principal: PrincipalDep,
    format: Literal["json", "markdown"] = "json",  # noqa: A002
) -> dict[str, Any] | PlainTextResponse:
    """The model's copyright record: JSON, or Markdown with Hugging Face model card metadata (``format=markdown``)."""
    if format == "markdown":
        return PlainTextResponse(ca.modelcards.markdown(principal, name), media_type="text/markdown; charset=utf-8")
    return ca.modelcards.card(principal, name)
