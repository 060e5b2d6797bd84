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
    log_index: Mapped[int] = mapped_column(BigInt)


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
