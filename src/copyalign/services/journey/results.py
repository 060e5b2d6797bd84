"""What the user journey returns: terms versions, acceptance batches, a user's standing, user models.

Plain frozen records with ``to_dict`` for the API and ``--json``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from copyalign.core.canonical import format_time
from copyalign.store.models import JourneyAdapter, JourneyTerms


def _t(t: datetime | None) -> str | None:
    return format_time(t) if t is not None else None


@dataclass(frozen=True, slots=True)
class TermsView:
    id: str
    provider_id: str
    version: str
    texts: dict[str, str]
    texts_sha256: str
    published_at: datetime
    log_index: int
    current: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "version": self.version,
            "texts": self.texts,
            "texts_sha256": self.texts_sha256,
            "published_at": format_time(self.published_at),
            "log_index": self.log_index,
            "current": self.current,
        }


def terms_view(row: JourneyTerms, *, current: bool = False) -> TermsView:
    return TermsView(
        row.id,
        row.provider_id,
        row.version,
        dict(row.texts),
        row.texts_sha256,
        row.published_at,
        row.log_index,
        current,
    )


@dataclass(frozen=True, slots=True)
class AcceptanceBatch:
    """One batch of acceptances: how many users it named, how many were new, and the log entry's digest."""

    batch: str
    provider_id: str
    version: str
    users: int
    new: int
    users_sha256: str
    log_index: int | None
    user_refs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "provider_id": self.provider_id,
            "version": self.version,
            "users": self.users,
            "new": self.new,
            "users_sha256": self.users_sha256,
            "log_index": self.log_index,
            "user_refs": self.user_refs,
        }


@dataclass(frozen=True, slots=True)
class UserStanding:
    """A user's standing along the journey at one provider: the terms it accepted, its flagged prompts and the
    escalation level they bring (seed 004 ¶84), beside (not instead of) the takedown desk's strikes."""

    provider_id: str
    user_ref: str
    current_terms: str | None
    accepted_terms: list[str]
    accepted_current: bool
    terms_required: bool
    response: str
    step: int
    flags: int
    until: datetime | None
    flags_total: int
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider_id": self.provider_id,
            "user": self.user_ref,
            "terms": {
                "required": self.terms_required,
                "current": self.current_terms,
                "accepted": self.accepted_terms,
                "accepted_current": self.accepted_current,
            },
            "escalation": {
                "response": self.response,
                "step": self.step,
                "flags_in_window": self.flags,
                "flags_total": self.flags_total,
                "until": _t(self.until),
                "message": self.message,
            },
        }


@dataclass(frozen=True, slots=True)
class AdapterView:
    id: str
    provider_id: str
    user_ref: str
    name: str
    base_model: str
    method: str
    status: str
    findings: dict[str, Any]
    scan_id: str
    scan_log_index: int
    manifest_sha256: str
    corpus_sha256: str
    file_sha256: str | None
    created_at: datetime
    updated_at: datetime
    log_index: int
    removed_at: datetime | None
    removal_ref: str | None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "user": self.user_ref,
            "name": self.name,
            "base_model": self.base_model,
            "method": self.method,
            "status": self.status,
            "removed": self.removed,
            "removed_at": _t(self.removed_at),
            "removal_measure": self.removal_ref,
            "findings": self.findings,
            "provenance": {
                "scan": self.scan_id,
                "scan_log_entry": self.scan_log_index,
                "manifest_sha256": self.manifest_sha256,
                "training_set_sha256": self.corpus_sha256,
                "file_sha256": self.file_sha256,
            },
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
            "log_index": self.log_index,
        }


def adapter_view(row: JourneyAdapter) -> AdapterView:
    return AdapterView(
        row.id,
        row.provider_id,
        row.user_ref,
        row.name,
        row.base_model,
        row.method,
        row.status,
        dict(row.findings),
        row.scan_id,
        row.scan_log_index,
        row.manifest_sha256,
        row.corpus_sha256,
        row.file_sha256,
        row.created_at,
        row.updated_at,
        row.log_index,
        row.removed_at,
        row.removal_ref,
    )


__all__ = [
    "AcceptanceBatch",
    "AdapterView",
    "TermsView",
    "UserStanding",
    "adapter_view",
    "terms_view",
]
