"""What the guard returns: screening verdicts, deliveries, traces and what a file says about its origin.

Plain frozen records with ``to_dict`` for the API and ``--json``; the service in
:mod:`copyalign.services.guard.service` makes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from copyalign.core.canonical import format_time
from copyalign.core.guard.rules import GuardAction, Reason, TraceState, trace_state
from copyalign.errors import InvalidInputError
from copyalign.store.models import GenerationTrace, GuardTerm

TRACE_PREFIX = "tr_"


def trace_id_from_payload(payload: bytes) -> str:
    """The trace id an 8-byte watermark payload stands for."""
    return TRACE_PREFIX + payload.hex()


def trace_payload(trace_id: str) -> bytes:
    """The 8 bytes a trace id puts in the watermark (a trace id is ``tr_`` and 16 hex digits)."""
    if not trace_id.startswith(TRACE_PREFIX) or len(trace_id) != len(TRACE_PREFIX) + 16:
        raise InvalidInputError(f"not a trace id: {trace_id!r} (expected tr_ and 16 hex digits)", field="trace_id")
    try:
        return bytes.fromhex(trace_id[len(TRACE_PREFIX) :])
    except ValueError:
        raise InvalidInputError(
            f"not a trace id: {trace_id!r} (expected tr_ and 16 hex digits)", field="trace_id"
        ) from None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One screening: of a prompt, or of an output (text or image)."""

    stage: str  # prompt | output
    kind: str  # text | image
    sha256: str
    decision: GuardAction
    reasons: tuple[Reason, ...] = ()
    notice: str | None = None
    """What the user is told beyond the decision: a stronger warning of the dynamic escalation (seed 004 ¶84)."""

    @property
    def work_ids(self) -> list[str]:
        return sorted({r for reason in self.reasons for r in reason.refs if not r.startswith("blk_")})

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "kind": self.kind,
            "sha256": self.sha256,
            "decision": self.decision.value,
            "reasons": [r.to_dict() for r in self.reasons],
            **({"notice": self.notice} if self.notice is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the provider hands to its user: the labelled, watermarked output, or nothing when blocked."""

    trace_id: str
    decision: GuardAction
    kind: str
    content: bytes | None
    media_type: str
    verdicts: tuple[Verdict, ...]
    aigc: dict[str, str] = field(default_factory=dict)
    marks: dict[str, bool] = field(default_factory=dict)
    notice: str | None = None
    copyright_notice: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        return self.content.decode() if self.content is not None and self.kind == "text" else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trace_id": self.trace_id,
            "decision": self.decision.value,
            "kind": self.kind,
            "media_type": self.media_type,
            "notice": self.notice,
            "aigc": self.aigc,
            "marks": self.marks,
            "copyright_notice": self.copyright_notice,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }
        if self.kind == "text":
            out["text"] = self.text
        return out


@dataclass(frozen=True, slots=True)
class TraceView:
    id: str
    provider_id: str
    user_ref: str
    kind: str
    model: str
    created_at: datetime
    prompt_sha256: str | None
    output_sha256: str
    delivered_sha256: str | None
    decision: str
    reasons: list[Any]
    prompt: str | None
    output: bytes | None
    retain_until: datetime | None
    leaf: str
    sealed_index: int | None
    taken_down_at: datetime | None = None
    takedown_ref: str | None = None
    copyright_notice: dict[str, str] | None = None

    @property
    def taken_down(self) -> bool:
        """A takedown measure disabled this output (seed 004 ¶87); the provider no longer serves it."""
        return self.taken_down_at is not None

    @property
    def state(self) -> TraceState:
        return trace_state(GuardAction(self.decision), taken_down=self.taken_down)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "provider_id": self.provider_id,
            "user": self.user_ref,
            "kind": self.kind,
            "model": self.model,
            "created_at": format_time(self.created_at),
            "prompt_sha256": self.prompt_sha256,
            "output_sha256": self.output_sha256,
            "delivered_sha256": self.delivered_sha256,
            "decision": self.decision,
            "state": self.state.value,
            "reasons": self.reasons,
            "content_kept": self.prompt is not None or self.output is not None,
            "retain_until": format_time(self.retain_until) if self.retain_until else None,
            "leaf": self.leaf,
            "sealed_in_log_entry": self.sealed_index,
            "taken_down": self.taken_down,
            "taken_down_at": format_time(self.taken_down_at) if self.taken_down_at else None,
            "takedown_measure": self.takedown_ref,
            "copyright_notice": self.copyright_notice,
        }
        if self.prompt is not None:
            out["prompt"] = self.prompt
        if self.output is not None and self.kind == "text":
            out["output"] = self.output.decode()
        return out


@dataclass(frozen=True, slots=True)
class TraceLookup:
    """What a file says about where it came from, and the trace it leads to (when the caller may read it)."""

    kind: str
    sha256: str
    found: dict[str, str]  # how the trace id was found -> the id: aigc, c2pa, watermark, digest
    aigc: dict[str, str] | None
    aigc_authentic: bool | None
    c2pa: dict[str, Any] | None
    watermark: dict[str, Any] | None
    trace: TraceView | None
    notes: list[str]
    rights: dict[str, str] | None = None

    @property
    def trace_id(self) -> str | None:
        return self.trace.id if self.trace is not None else next(iter(self.found.values()), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sha256": self.sha256,
            "trace_id": self.trace_id,
            "found": self.found,
            "aigc": self.aigc,
            "aigc_authentic": self.aigc_authentic,
            "c2pa": self.c2pa,
            "watermark": self.watermark,
            "copyright_notice": self.rights,
            "trace": self.trace.to_dict() if self.trace is not None else None,
            "notes": self.notes,
        }


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a user's request is refused before any screening: the graduated response of seed 004 ¶85 (a
    suspended or terminated account), decided above the guard and handed to it through
    :attr:`~copyalign.services.guard.service.GuardService.user_checks`."""

    message: str
    rule: str = "user.sanction"
    evidence: dict[str, Any] = field(default_factory=dict)


UserCheck = Callable[[str, str], Refusal | None]
"""Called with a provider id and a user pseudonym; answers a :class:`Refusal`, or None to go on."""

ModelCheck = Callable[[str, str], Refusal | None]
"""Called with a provider id and the model a generation goes through; a :class:`Refusal` refuses it (a user
model removed by a takedown measure, seed 004 ¶26)."""

PromptHook = Callable[[str, str, Verdict], str | None]
"""Called with a provider id, a user pseudonym and the verdict on the user's prompt, after screening; answers
a notice for the user (a stronger warning), or None."""


@dataclass(frozen=True, slots=True)
class TermView:
    id: str
    kind: str
    names: list[str]
    work_ids: list[str]
    holder_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "names": self.names,
            "work_ids": self.work_ids,
            "holder_id": self.holder_id,
            "created_at": format_time(self.created_at),
            "revoked_at": format_time(self.revoked_at) if self.revoked_at else None,
            "log_index": self.log_index,
        }


@dataclass(frozen=True, slots=True)
class BlockedView:
    id: str
    provider_id: str
    kind: str
    sha256: str
    reason: str
    source: str | None
    log_index: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider_id": self.provider_id,
            "kind": self.kind,
            "sha256": self.sha256,
            "reason": self.reason,
            "source": self.source,
            "log_index": self.log_index,
        }


def term_view(row: GuardTerm) -> TermView:
    return TermView(
        row.id,
        row.kind,
        list(row.names),
        list(row.work_ids),
        row.holder_id,
        row.created_at,
        row.revoked_at,
        row.log_index,
    )


def trace_view(row: GenerationTrace, now: datetime) -> TraceView:
    kept = row.retain_until is not None and row.retain_until > now
    return TraceView(
        row.id,
        row.provider_id,
        row.user_ref,
        row.kind,
        row.model,
        row.created_at,
        row.prompt_sha256,
        row.output_sha256,
        row.delivered_sha256,
        row.decision,
        list(row.reasons),
        row.prompt_text if kept else None,
        row.output_data if kept else None,
        row.retain_until,
        row.leaf,
        row.sealed_index,
        row.taken_down_at,
        row.takedown_ref,
        row.copyright_notice,
    )
