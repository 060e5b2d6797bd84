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
    # the licence's reporting period (licensing.report_every_days when the notice was created; None: older rows)
    report_every_days: Mapped[int | None]
    # the profile's explicit departures from its jurisdiction's floors, as in force when the notice was created
    policy_overrides: Mapped[list[Any] | None]
    # a research or analysis claim (core.licensing.research.ResearchClaim.to_dict()); None: a paying use
    research: Mapped[dict[str, Any] | None]


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
    # measured: the share and lines come from a logged scan's manifest; declared: the developer's figures
    share_basis: Mapped[str] = mapped_column(String(12), server_default="declared")
    measured_share: Mapped[str | None] = mapped_column(String(40))
    scan: Mapped[dict[str, Any] | None]  # {"log_index", "scan", "manifest_sha256"} of the measuring scan


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
    status: Mapped[str] = mapped_column(String(12))  # open | paid | void (superseded) | exempt (research)
    # simplified: de minimis use (seed 003 §4.4 ③), queued for the simplified procedure; else standard
    procedure: Mapped[str] = mapped_column(String(12), server_default="standard", index=True)
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
    # A takedown's restoration lifts the block (seed 004 ¶88); the row and both log entries stay.
    lifted_at: Mapped[datetime | None]


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
    # Set while a takedown measure disables the delivered output (seed 004 ¶87); cleared when it is undone.
    # Not part of ``leaf``: the sealed record of the generation does not change when a notice acts on it.
    taken_down_at: Mapped[datetime | None]
    takedown_ref: Mapped[str | None] = mapped_column(String(40))
    # The copyright disclaimer the delivered output carried (seed 004 ¶80(c)), per language; None before it existed.
    copyright_notice: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


# -- the takedown desk: notice and necessary measures (seed 004 ¶84-92) ---------------------------------------
# States are the values of the enums in copyalign.core.takedown.states; every change has its log entry. Contact
# details live only in the ``contact`` columns: logs, statements of reasons and public views carry pseudonyms.


class TakedownAuthorisation(Base):
    """An agent's authority to file notices for a rights holder (17 U.S.C. §512(c)(3)(A)(vi); Lumen's principal
    role). ``work_ids`` empty: every work of the holder."""

    __tablename__ = "takedown_authorisations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    document: Mapped[str] = mapped_column(String(500))
    work_ids: Mapped[list[Any]]
    valid_until: Mapped[datetime | None]
    actor_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)


class TakedownNotice(Base):
    """One infringement notice addressed to a provider's desk, with the times its clocks run from."""

    __tablename__ = "takedown_notices"
    __table_args__ = (
        Index("ix_takedown_notices_queue", "provider_id", "due_at"),
        Index("ix_takedown_notices_sender", "sender_ref", "received_at"),
        Index("ix_takedown_notices_origin", "origin_ref", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    jurisdiction: Mapped[str] = mapped_column(String(4))
    channel: Mapped[str] = mapped_column(String(10))  # holder | agent | operator | public
    sender_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), index=True)
    principal_party_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"), index=True)
    authorisation_id: Mapped[str | None] = mapped_column(ForeignKey("takedown_authorisations.id"))
    sender_ref: Mapped[str] = mapped_column(String(64))  # a party id, or a keyed pseudonym of a public sender
    origin_ref: Mapped[str | None] = mapped_column(String(64))  # keyed pseudonym of a public sender's address
    token_sha256: Mapped[str | None] = mapped_column(String(64))  # a public sender follows its notice with it
    contact: Mapped[dict[str, Any]]
    elements: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(24), index=True)
    missing: Mapped[list[Any]]
    recommendation: Mapped[str | None] = mapped_column(String(16))
    simplified: Mapped[bool]
    trusted_flagger: Mapped[bool]
    priority: Mapped[int]  # 0 normal; 1 deprioritised (DSA Art. 23)
    upheld: Mapped[bool | None]
    received_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    acted_at: Mapped[datetime | None]
    user_inquired_at: Mapped[datetime | None]
    counter_notice_at: Mapped[datetime | None]
    counter_forwarded_at: Mapped[datetime | None]
    court_action_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]  # the earliest pending deadline: what the queue sorts by
    log_index: Mapped[int] = mapped_column(BigInt)
    updated_log_index: Mapped[int] = mapped_column(BigInt)


class TakedownItem(Base):
    """One claimed work with one piece of material (Lumen: a work with its infringing location), and what
    triage found about it."""

    __tablename__ = "takedown_items"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    position: Mapped[int]
    work_id: Mapped[str | None] = mapped_column(ForeignKey("works.id"), index=True)
    work_description: Mapped[str | None] = mapped_column(Text)
    original_locations: Mapped[list[Any]]
    material_kind: Mapped[str] = mapped_column(String(16))
    material_value: Mapped[str] = mapped_column(Text)
    material_sha256: Mapped[str] = mapped_column(String(64))
    content_sha256: Mapped[str | None] = mapped_column(String(64))  # the submitted file or text, in the blob store
    trace_id: Mapped[str | None] = mapped_column(ForeignKey("generation_traces.id"), index=True)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    recommendation: Mapped[str | None] = mapped_column(String(16))
    reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    guard_missed: Mapped[bool | None]
    upheld: Mapped[bool | None]


class TakedownDecision(Base):
    """A human decision on a notice or a complaint, with the fields a statement of reasons needs (DSA Art. 17)."""

    __tablename__ = "takedown_decisions"
    __table_args__ = (UniqueConstraint("notice_id", "seq"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    seq: Mapped[int]
    trigger: Mapped[str] = mapped_column(String(12))  # notice | complaint
    outcome: Mapped[str] = mapped_column(String(24))
    decided_by: Mapped[str] = mapped_column(String(40))
    ground: Mapped[str | None] = mapped_column(String(24))  # illegal_content | incompatible_content
    legal_ground: Mapped[str | None] = mapped_column(String(500))
    explanation: Mapped[str] = mapped_column(Text)
    automated_detection: Mapped[bool]
    automated_decision: Mapped[str] = mapped_column(String(40))
    measures: Mapped[list[Any]]
    items: Mapped[list[Any]]
    puid: Mapped[str | None] = mapped_column(String(500), unique=True)
    statement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(index=True)
    log_index: Mapped[int] = mapped_column(BigInt)


class TakedownMeasure(Base):
    """One necessary measure: planned by a decision, applied and undone, each step with its log entry."""

    __tablename__ = "takedown_measures"
    __table_args__ = (Index("ix_takedown_measures_pending_undo", "state", "undo_reason"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("takedown_decisions.id"))
    item_id: Mapped[str | None] = mapped_column(ForeignKey("takedown_items.id"))
    kind: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(12))
    target: Mapped[str] = mapped_column(String(200))
    refs: Mapped[list[Any]]  # what the measure made: blocked outputs, terms, strikes
    detail: Mapped[dict[str, Any]]
    # Set, with the decision that asks for it, before the undo runs: a restoration interrupted half-way is
    # finished by the next ``takedown due``.
    undo_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None]
    undone_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)
    applied_log_index: Mapped[int | None] = mapped_column(BigInt)
    undone_log_index: Mapped[int | None] = mapped_column(BigInt)


class TakedownCounterNotice(Base):
    """A user's counter-notice, filed through the provider (17 U.S.C. §512(g)(3); Civil Code Art. 1196)."""

    __tablename__ = "takedown_counter_notices"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    user_ref: Mapped[str] = mapped_column(String(64))
    filed_by: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(12))
    contact: Mapped[dict[str, Any]]
    elements: Mapped[dict[str, Any]]
    missing: Mapped[list[Any]]
    received_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    forwarded_at: Mapped[datetime | None]
    court_action_at: Mapped[datetime | None]
    restored_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)


class TakedownComplaint(Base):
    """An internal complaint against a decision (DSA Art. 20), or a dispute over fees or de-minimis use in the
    simplified channel (seed 003 §4.4 ③)."""

    __tablename__ = "takedown_complaints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    notice_id: Mapped[str] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    decision_id: Mapped[str | None] = mapped_column(ForeignKey("takedown_decisions.id"))
    by: Mapped[str] = mapped_column(String(10))  # user | notifier
    complainant_ref: Mapped[str] = mapped_column(String(64))
    filed_by: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(12))  # internal | simplified
    subject: Mapped[str] = mapped_column(String(12))  # decision | fee | de_minimis
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    explanation: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(40))
    filed_at: Mapped[datetime]
    due_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)
    decided_log_index: Mapped[int | None] = mapped_column(BigInt)


class TakedownStrike(Base):
    """A strike against a user of a provider (its pseudonym) for an upheld notice (seed 004 ¶85)."""

    __tablename__ = "takedown_strikes"
    __table_args__ = (Index("ix_takedown_strikes_user", "provider_id", "user_ref"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    user_ref: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(ForeignKey("takedown_notices.id"), index=True)
    measure_id: Mapped[str | None] = mapped_column(String(40))
    issued_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    log_index: Mapped[int] = mapped_column(BigInt)
    removed_log_index: Mapped[int | None] = mapped_column(BigInt)


class TakedownExport(Base):
    """One export from the desk: a batch of statements of reasons sent to the EU DSA Transparency Database, or a
    transparency report or duty-of-care dossier whose digest (of its ``SHA256SUMS``) is sealed in the log.

    ``detail`` holds what was sent and answered (statements: each puid's SHA-256 and the database's answer;
    never the token), or what renders the files again byte for byte (a report: its sheets and period)."""

    __tablename__ = "takedown_exports"
    __table_args__ = (Index("ix_takedown_exports_kind", "kind", "provider_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # statements | report | dossier
    provider_id: Mapped[str | None] = mapped_column(ForeignKey("parties.id"))
    period: Mapped[str | None] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(16))  # created | rejected | held | sealed
    sha256: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class TakedownSentStatement(Base):
    """A statement of reasons the DSA Transparency Database holds: its puid is never sent again."""

    __tablename__ = "takedown_sent_statements"

    puid: Mapped[str] = mapped_column(String(500), primary_key=True)
    decision_id: Mapped[str] = mapped_column(ForeignKey("takedown_decisions.id"), index=True)
    export_id: Mapped[str] = mapped_column(ForeignKey("takedown_exports.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    dsa_uuid: Mapped[str | None] = mapped_column(String(64))
    permalink: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[datetime]


class TakedownComplainant(Base):
    """A complainant's standing (DSA Art. 23): its decided and manifestly unfounded notices and the warnings it
    was given; ``status`` and ``until`` cache what :func:`copyalign.core.takedown.strikes.complainant_standing`
    last said."""

    __tablename__ = "takedown_complainants"

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    decided: Mapped[int]
    unfounded: Mapped[int]
    warnings: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(16))
    until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


# -- the user journey: terms of use, dynamic warnings, user-trained models (seed 004 ¶18, ¶26, ¶84) -------------


class JourneyTerms(Base):
    """One version of a provider's terms of use with its copyright commitments, per language."""

    __tablename__ = "journey_terms"
    __table_args__ = (UniqueConstraint("provider_id", "version", name="uq_journey_terms_version"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"), index=True)
    version: Mapped[str] = mapped_column(String(40))
    texts: Mapped[dict[str, Any]]
    texts_sha256: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)


class JourneyAcceptance(Base):
    """A user's acceptance of one terms version; ``batch`` is the acceptance batch whose log entry records it."""

    __tablename__ = "journey_acceptances"

    terms_id: Mapped[str] = mapped_column(ForeignKey("journey_terms.id"), primary_key=True)
    user_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    accepted_at: Mapped[datetime]
    batch: Mapped[str] = mapped_column(String(40))
    log_index: Mapped[int] = mapped_column(BigInt)


class JourneyFlag(Base):
    """A named user's prompt that the guard warned or blocked: what dynamic warnings count."""

    __tablename__ = "journey_flags"
    __table_args__ = (Index("ix_journey_flags_user", "provider_id", "user_ref", "at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    user_ref: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    decision: Mapped[str] = mapped_column(String(8))
    prompt_sha256: Mapped[str] = mapped_column(String(64))


class JourneyAdapter(Base):
    """A user-trained model (LoRA or full fine-tune) and the scan of its training set."""

    __tablename__ = "journey_adapters"
    __table_args__ = (Index("ix_journey_adapters_provider", "provider_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    provider_id: Mapped[str] = mapped_column(ForeignKey("parties.id"))
    user_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    base_model: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    findings: Mapped[dict[str, Any]]
    scan_id: Mapped[str] = mapped_column(String(40))
    scan_log_index: Mapped[int] = mapped_column(BigInt)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    corpus_sha256: Mapped[str] = mapped_column(String(64))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    log_index: Mapped[int] = mapped_column(BigInt)
    removed_at: Mapped[datetime | None]
    removal_ref: Mapped[str | None] = mapped_column(String(40))
