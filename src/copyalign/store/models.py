"""The tables. Migrations under ``store/migrations`` create them; this module is their typed mirror.

Nothing here is updated in a way that loses history: preferences and work metadata revisions are
append-only rows, and every state change has a ``log_entries`` row written in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from copyalign.store.types import BigInt, UTCDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Party(Base):
    __tablename__ = "parties"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Work(Base):
    __tablename__ = "works"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    title: Mapped[str] = mapped_column(String(1000))
    creators: Mapped[list[Any]]
    identifiers: Mapped[dict[str, Any]]
    media_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInt)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    norm_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    iscc: Mapped[str] = mapped_column(String(120))
    iscc_content: Mapped[int] = mapped_column(BigInt)  # 64-bit Content-Code body, signed two's complement
    band0: Mapped[int] = mapped_column(index=True)
    band1: Mapped[int] = mapped_column(index=True)
    band2: Mapped[int] = mapped_column(index=True)
    band3: Mapped[int] = mapped_column(index=True)
    width: Mapped[int | None]
    height: Mapped[int | None]
    characters: Mapped[int | None]
    fingerprint_version: Mapped[int]
    revision: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt, index=True)  # the match index refreshes past a watermark


class WorkRevision(Base):
    """Each version of a work's descriptive metadata; the work row mirrors the latest."""

    __tablename__ = "work_revisions"
    __table_args__ = (UniqueConstraint("work_id", "revision"),)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"))
    revision: Mapped[int]
    metadata_json: Mapped[dict[str, Any]]
    actor_id: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class Preference(Base):
    """One preference statement. ``work_id`` is null for a holder's default."""

    __tablename__ = "preferences"
    __table_args__ = (Index("ix_preferences_holder_work", "holder_id", "work_id"),)

    id: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    work_id: Mapped[str | None] = mapped_column(ForeignKey("works.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(30))
    jurisdiction: Mapped[str] = mapped_column(String(4))
    effective_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String(40))
    log_index: Mapped[int] = mapped_column(BigInt)


class RegistrationConflict(Base):
    """A registration that duplicates another holder's work (``core/registry/conflicts.py``): ``noted`` under
    the profile's ``allow``, ``open`` on the operator's queue under ``flag`` until ``resolved``."""

    __tablename__ = "registration_conflicts"
    __table_args__ = (Index("ix_registration_conflicts_status", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), index=True)  # the new registration
    holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    other_work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), index=True)  # the work it duplicates
    other_holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    match: Mapped[str] = mapped_column(String(20))
    score: Mapped[float]
    status: Mapped[str] = mapped_column(String(10))  # noted | open | resolved
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)  # the work.registered entry that carries it
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(40))
    decision: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(String(2000))
    resolution_log_index: Mapped[int | None] = mapped_column(BigInt)


class LogEntry(Base):
    """A leaf of the transparency log. ``entry`` is the canonical JSON that is hashed into the tree;
    ``payload`` the canonical JSON whose digest the entry carries (erasable without breaking the tree)."""

    __tablename__ = "log_entries"

    idx: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    event: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    recorded_at: Mapped[datetime]
    entry: Mapped[bytes] = mapped_column(LargeBinary)
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)


class LogNode(Base):
    """The hash of a perfect subtree (level, index); level 0 are leaf hashes."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LogState(Base):
    """The single row that serialises appends: its size and the frontier of the tree."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInt)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class Checkpoint(Base):
    __tablename__ = "checkpoints"

    size: Mapped[int] = mapped_column(BigInt, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_keys"

    party_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None]
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    content_type: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


# -- training notices and the default licence (seed 001 §3.2-3.3) -------------------------------------------


class Notice(Base):
    """A developer's training notice: the works it means to train on, for what, under which tariff."""

    __tablename__ = "notices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(String(20))
    use: Mapped[str] = mapped_column(String(20))
    jurisdiction: Mapped[str] = mapped_column(String(4))
    tariff: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    window_days: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), index=True)  # draft | open | finalised
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    closes_at: Mapped[datetime | None] = mapped_column(index=True)
    finalised_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)


class NoticeWork(Base):
    """A work listed in a notice; ``status`` is ``listed`` until excluded or, at finalisation, licensed."""

    __tablename__ = "notice_works"
    __table_args__ = (Index("ix_notice_works_holder", "holder_id", "notice_id"),)

    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), primary_key=True, index=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    status: Mapped[str] = mapped_column(String(12))  # listed | excluded | licensed
    reason: Mapped[str | None] = mapped_column(String(20))  # denied | objected | opted_out
    decided_at: Mapped[datetime | None]


class Objection(Base):
    __tablename__ = "objections"
    __table_args__ = (Index("ix_objections_notice_work", "notice_id", "work_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"))
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"))
    holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    actor_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)
    withdraw_log_index: Mapped[int | None] = mapped_column(BigInt)


class Notification(Base):
    """The outbox: what a party is to be told; an operator's mailer marks rows sent."""

    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    party_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


class ExclusionList(Base):
    """One signed version of a finalised notice's exclusion and licensed lists."""

    __tablename__ = "exclusion_lists"

    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    excluded: Mapped[list[Any]]  # [{"work": id, "reason": ...}], sorted by work id
    licensed: Mapped[list[Any]]  # [work id], sorted
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class UsageReport(Base):
    """Use reported under a finalised notice; immutable once submitted (a correction supersedes it)."""

    __tablename__ = "usage_reports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("notices.id"), index=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("usage_reports.id"), unique=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    revenue_minor: Mapped[int] = mapped_column(BigInt)
    currency: Mapped[str] = mapped_column(String(3))
    feature_share: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(20))
    quote: Mapped[dict[str, Any]]
    submitted_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class UsageLine(Base):
    __tablename__ = "usage_lines"

    report_id: Mapped[str] = mapped_column(ForeignKey("usage_reports.id"), primary_key=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), primary_key=True)
    measure: Mapped[str] = mapped_column(String(40))


class Invoice(Base):
    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    report_id: Mapped[str] = mapped_column(ForeignKey("usage_reports.id"), unique=True)
    developer_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInt)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))  # open | paid | void (superseded before payment)
    issued_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    distribution_id: Mapped[str | None] = mapped_column(String(40), index=True)
    log_index: Mapped[int] = mapped_column(BigInt)


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), unique=True)
    amount_minor: Mapped[int] = mapped_column(BigInt)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class DistributionRun(Base):
    __tablename__ = "distributions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    collected_minor: Mapped[int] = mapped_column(BigInt)
    admin_minor: Mapped[int] = mapped_column(BigInt)
    distributable_minor: Mapped[int] = mapped_column(BigInt)
    admin_share: Mapped[str] = mapped_column(String(20))
    invoices: Mapped[list[Any]]
    fallback_reports: Mapped[list[Any]]
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class Allocation(Base):
    """One work's part of a distribution; a holder's statement is the sum of its works' rows."""

    __tablename__ = "allocations"
    __table_args__ = (Index("ix_allocations_holder", "holder_id", "distribution_id"),)

    distribution_id: Mapped[str] = mapped_column(ForeignKey("distributions.id"), primary_key=True)
    work_id: Mapped[str] = mapped_column(ForeignKey("works.id"), primary_key=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    amount_minor: Mapped[int] = mapped_column(BigInt)


class GuardTerm(Base):
    """An entry of the prompt filter's term base beyond the registry's titles: a character, a creator who asked
    for protection, or a title's aliases and translations. Revoking keeps the row (and its log entry)."""

    __tablename__ = "guard_terms"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    names: Mapped[list[Any]]
    work_ids: Mapped[list[Any]]
    holder_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), index=True)
    actor_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)


class BlockedOutput(Base):
    """An output a takedown marked: the guard blocks it, and its near copies, for the provider that holds it."""

    __tablename__ = "blocked_outputs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    norm_sha256: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    source: Mapped[str | None] = mapped_column(String(80))
    actor_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt, index=True)


class GenerationTrace(Base):
    """One guarded generation. Only digests are kept unless the provider enables keeping content, and then
    only until ``retain_until``; ``leaf`` is what the sealing log entry commits to."""

    __tablename__ = "generation_traces"
    __table_args__ = (Index("ix_traces_provider_time", "provider_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    user_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))
    model: Mapped[str] = mapped_column(String(200), default="")
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    output_sha256: Mapped[str] = mapped_column(String(64), index=True)
    delivered_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    decision: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[list[Any]]
    prompt_text: Mapped[str | None] = mapped_column(Text)
    output_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    retain_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    leaf: Mapped[str] = mapped_column(String(64))
    sealed_index: Mapped[int | None] = mapped_column(BigInt, index=True)
