"""Request and response bodies. Inputs forbid unknown fields, so a typo is an error naming the field."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, field_validator
from pydantic_core import PydanticCustomError

from copyalign.api.errors import NUL_CHARACTER
from copyalign.core.authz import Role
from copyalign.core.canonical import format_time
from copyalign.core.content import lone_surrogate, nul_character
from copyalign.core.guard.terms import TermKind
from copyalign.core.registry.preferences import JURISDICTIONS, Purpose, Value
from copyalign.services.log.ledger import Receipt
from copyalign.services.registry.parties import PartyView
from copyalign.services.registry.works import WorkView

#: The largest integer a parameter may carry: the databases' BIGINT (a larger one is a 422 naming the field).
INT64_MAX = 2**63 - 1


class Input(BaseModel):
    """A request body: unknown fields, lone surrogates and NUL characters in any string are refused, naming the
    field. A NUL is valid JSON but no database text column of PostgreSQL can hold one, so the schema cannot
    exclude it and the answer is 400, as for any other value the schema allows and the service cannot take."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        where = lone_surrogate(value)
        if where is not None:
            at = f" (at {where})" if where else ""
            raise ValueError(f"contains a lone surrogate{at}: not valid Unicode text")
        where = nul_character(value)
        if where is not None:
            at = f" (at {where})" if where else ""
            raise PydanticCustomError(NUL_CHARACTER, f"contains a NUL character (U+0000){at}: no text field takes one")
        return value


def choice(values: Iterable[object], *, nullable: bool = False, **kw: Any) -> Any:
    """A field whose allowed values the OpenAPI document lists (``enum``) while the service keeps parsing them
    (so its error, status and field stay the one it always answered with)."""
    allowed: list[JsonValue] = [str(getattr(v, "value", v)) for v in values]
    return Field(json_schema_extra={"enum": [*allowed, None] if nullable else allowed}, **kw)


def exactly_one_of(*names: str) -> dict[str, Any]:
    """JSON Schema for "exactly one of these string fields, the others absent or null" (``oneOf``)."""

    def given(name: str) -> dict[str, Any]:
        return {"required": [name], "properties": {name: {"type": "string"}}}

    return {"oneOf": [{**given(n), "not": {"anyOf": [given(m) for m in names if m != n]}} for n in names]}


KINDS_OF_CONTENT = ("text", "image")


class ContentInput(Input):
    """A body that carries one item of content: ``text``, or ``content_base64`` (an image, or text bytes)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=exactly_one_of("text", "content_base64"))

    text: str | None = Field(default=None, description="The content as text (exactly one of text, content_base64).")
    content_base64: str | None = Field(default=None, description="The content's bytes, base64 (an image or text).")


class PartyCreate(Input):
    name: str = Field(min_length=1, max_length=300)
    role: str = choice(Role)
    email: str | None = Field(default=None, max_length=320)
    issue_key: bool = Field(default=True, description="Also issue the party's first API key.")


class KeyCreate(Input):
    label: str = Field(default="", max_length=200)


class PreferenceIn(Input):
    purpose: str = choice(Purpose)
    value: str = choice(Value)
    jurisdiction: str = choice(sorted(JURISDICTIONS), default="*")
    effective_at: AwareDatetime | None = None


class WorkCreate(ContentInput):
    """Register a text given inline, or any content given as base64."""

    title: str = Field(min_length=1, max_length=1000)
    kind: str | None = choice(KINDS_OF_CONTENT, nullable=True, default=None)
    creators: list[str] = Field(default_factory=list, max_length=100)
    identifiers: dict[str, str] = Field(default_factory=dict)
    preferences: list[PreferenceIn] = Field(default_factory=list, max_length=20)
    holder_id: str | None = None


class WorkUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=1000)
    creators: list[str] | None = Field(default=None, max_length=100)
    identifiers: dict[str, str] | None = None


class LookupText(ContentInput):
    kind: str | None = choice(KINDS_OF_CONTENT, nullable=True, default=None)
    at: AwareDatetime | None = None
    jurisdiction: str | None = choice(sorted(JURISDICTIONS), nullable=True, default=None)


class MatchInput(ContentInput):
    kind: Literal["text", "image"] | None = None
    limit: int = Field(default=20, ge=1, le=1000)


# -- responses ------------------------------------------------------------------------------------------------


class PartyOut(BaseModel):
    id: str
    name: str
    role: Role
    created_at: str = Field(description="RFC 3339, UTC.")
    receipt: dict[str, Any] | None = Field(default=None, description="The log receipt of the party's creation.")


class PartyCreated(PartyOut):
    api_key: str | None = Field(
        default=None,
        description="The first key's secret, shown once. null when no key was asked for, and on an "
        "Idempotency-Key replay: stored responses keep no secrets (revoke key_id and issue another).",
    )
    key_id: str | None = None


class PartyList(BaseModel):
    parties: list[PartyOut]


class KeyIssued(BaseModel):
    key_id: str
    party_id: str
    api_key: str | None = Field(description="The secret, shown once (null on an Idempotency-Key replay).")
    receipt: dict[str, Any]


class KeyRevoked(BaseModel):
    key_id: str
    revoked: bool
    receipt: dict[str, Any]


class Me(BaseModel):
    party_id: str
    role: Role
    name: str
    key_id: str | None


def receipt_json(r: Receipt | None) -> dict[str, Any] | None:
    return None if r is None else r.to_dict()


def party_json(p: PartyView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "role": p.role.value,
        "created_at": format_time(p.created_at),
    }
    if p.receipt is not None:
        out["receipt"] = p.receipt.to_dict()
    return out


def work_json(w: WorkView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": w.id,
        "holder_id": w.holder_id,
        "kind": w.kind,
        "title": w.title,
        "creators": w.creators,
        "identifiers": w.identifiers,
        "media_type": w.media_type,
        "size_bytes": w.size_bytes,
        "sha256": w.sha256,
        "iscc": w.iscc,
        "revision": w.revision,
        "created_at": format_time(w.created_at),
        "updated_at": format_time(w.updated_at),
        "log_index": w.log_index,
    }
    if w.receipt is not None:
        out["receipt"] = w.receipt.to_dict()
    if w.conflicts:  # a registration that duplicates another holder's work says so (registry.conflict_action)
        out["conflicts"] = {"action": w.conflict_action, "works": [c.to_dict() for c in w.conflicts]}
        out["warnings"] = w.warnings
    return out


def time_json(t: datetime | None) -> str | None:
    return None if t is None else format_time(t)


class GuardPrompt(Input):
    prompt: str = Field(min_length=1, max_length=100_000)
    user: str = Field(default="", max_length=200, description="The provider's user id: a sanctioned user is refused.")


class GuardOutput(ContentInput):
    """An output given as ``text``, or as base64 (an image, or text bytes)."""

    kind: Literal["text", "image"] | None = None
    provider_id: str | None = Field(default=None, description="Whose blocklist applies (operator only).")


class GuardDeliver(ContentInput):
    kind: Literal["text", "image"] | None = None
    prompt: str | None = Field(default=None, max_length=100_000)
    user: str = Field(default="", max_length=200, description="The end user's id; the trace keeps a pseudonym.")
    model: str = Field(default="", max_length=200)


class GuardTermCreate(Input):
    kind: str = choice(TermKind)
    names: list[str] = Field(min_length=1, max_length=50)
    work_ids: list[str] = Field(default_factory=list, max_length=1000)
    holder_id: str | None = None


class BlockCreate(ContentInput):
    kind: Literal["text", "image"] | None = None
    reason: str = Field(min_length=1, max_length=500)
    source: str | None = Field(default=None, max_length=80)
    provider_id: str | None = None


class TraceLookupInput(ContentInput):
    pass


# -- the user journey (issue 24) -----------------------------------------------------------------------------


class TermsPublish(Input):
    version: str = Field(min_length=1, max_length=40, description="The version's name, e.g. 2026-03.")
    texts: dict[str, str] | None = Field(
        default=None, description="The terms per language (BCP 47 tag -> text); omitted: the profile's commitments."
    )
    provider_id: str | None = Field(default=None, description="Whose terms (the operator names the provider).")


class TermsAccept(Input):
    users: list[str] = Field(default_factory=list, max_length=10_000, description="The provider's user ids.")
    user_refs: list[str] = Field(default_factory=list, max_length=10_000, description="Or their pseudonyms.")
    provider_id: str | None = None


class AdapterItem(ContentInput):
    """One item of a user model's training set: a file name and its content (``text`` or ``content_base64``)."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class AdapterRegister(Input):
    name: str = Field(min_length=1, max_length=200)
    base_model: str = Field(min_length=1, max_length=200)
    user: str = Field(min_length=1, max_length=200, description="The provider's user who trains the model.")
    method: Literal["lora", "full"] = "lora"
    items: list[AdapterItem] = Field(min_length=1, max_length=500, description="The training set.")
    provider_id: str | None = None


class AdapterReview(Input):
    decision: Literal["allow", "block"]
    reason: str = Field(min_length=1, max_length=2000)


class AdapterFile(ContentInput):
    pass


class ModelDeclare(Input):
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
    sha256: str | None = Field(default=None, pattern="^[0-9a-f]{64}$", description="The weights' digest.")
    scans: list[str] = Field(default_factory=list, max_length=100)
    notices: list[str] = Field(default_factory=list, max_length=100)
    audits: list[str] = Field(default_factory=list, max_length=100)
    providers: list[str] = Field(default_factory=list, max_length=100, description="Who deploys it behind the guard.")
    developer_id: str | None = None
    license: str | None = Field(default=None, max_length=100)
