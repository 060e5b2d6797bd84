"""Request and response bodies. Inputs forbid unknown fields, so a typo is an error naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from copyalign.core.canonical import format_time
from copyalign.services.log.ledger import Receipt
from copyalign.services.registry.parties import PartyView
from copyalign.services.registry.works import WorkView


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyCreate(Input):
    name: str = Field(min_length=1, max_length=300)
    role: str
    email: str | None = Field(default=None, max_length=320)
    issue_key: bool = Field(default=True, description="Also issue the party's first API key.")


class KeyCreate(Input):
    label: str = Field(default="", max_length=200)


class PreferenceIn(Input):
    purpose: str
    value: str
    jurisdiction: str = "*"
    effective_at: AwareDatetime | None = None


class WorkCreate(Input):
    """Register a text given inline, or any content given as base64."""

    title: str = Field(min_length=1, max_length=1000)
    text: str | None = None
    content_base64: str | None = None
    kind: str | None = None
    creators: list[str] = Field(default_factory=list, max_length=100)
    identifiers: dict[str, str] = Field(default_factory=dict)
    preferences: list[PreferenceIn] = Field(default_factory=list, max_length=20)
    holder_id: str | None = None


class WorkUpdate(Input):
    title: str | None = Field(default=None, min_length=1, max_length=1000)
    creators: list[str] | None = Field(default=None, max_length=100)
    identifiers: dict[str, str] | None = None


class LookupText(Input):
    text: str | None = None
    content_base64: str | None = None
    kind: str | None = None
    at: AwareDatetime | None = None
    jurisdiction: str | None = None


class MatchInput(Input):
    text: str | None = None
    content_base64: str | None = None
    kind: Literal["text", "image"] | None = None
    limit: int = Field(default=20, ge=1, le=1000)


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


class GuardOutput(Input):
    """An output given as ``text``, or as base64 (an image, or text bytes)."""

    text: str | None = None
    content_base64: str | None = None
    kind: Literal["text", "image"] | None = None
    provider_id: str | None = Field(default=None, description="Whose blocklist applies (operator only).")


class GuardDeliver(Input):
    text: str | None = None
    content_base64: str | None = None
    kind: Literal["text", "image"] | None = None
    prompt: str | None = Field(default=None, max_length=100_000)
    user: str = Field(default="", max_length=200, description="The end user's id; the trace keeps a pseudonym.")
    model: str = Field(default="", max_length=200)


class GuardTermCreate(Input):
    kind: str
    names: list[str] = Field(min_length=1, max_length=50)
    work_ids: list[str] = Field(default_factory=list, max_length=1000)
    holder_id: str | None = None


class BlockCreate(Input):
    text: str | None = None
    content_base64: str | None = None
    kind: Literal["text", "image"] | None = None
    reason: str = Field(min_length=1, max_length=500)
    source: str | None = Field(default=None, max_length=80)
    provider_id: str | None = None


class TraceLookupInput(Input):
    text: str | None = None
    content_base64: str | None = None
