"""initial schema: parties, keys, works, preferences, log

Revision ID: 0001
Revises:
Create Date: 2026-11-22 14:54:30.998062
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import copyalign.store.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size"),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("created_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("party_id", "key"),
    )
    op.create_table(
        "log_entries",
        sa.Column("idx", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("event", sa.String(length=60), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("entry", sa.LargeBinary(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("idx"),
    )
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_entries_event"), ["event"], unique=False)
        batch_op.create_index(batch_op.f("ix_log_entries_subject"), ["subject"], unique=False)

    op.create_table(
        "log_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    op.create_table(
        "log_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("created_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("party_id", sa.String(length=40), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"],
            ["parties.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_party_id"), ["party_id"], unique=False)

    op.create_table(
        "works",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("title", sa.String(length=1000), nullable=False),
        sa.Column("creators", sa.JSON(), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("size_bytes", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("norm_sha256", sa.String(length=64), nullable=True),
        sa.Column("iscc", sa.String(length=120), nullable=False),
        sa.Column("iscc_content", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("band0", sa.Integer(), nullable=False),
        sa.Column("band1", sa.Integer(), nullable=False),
        sa.Column("band2", sa.Integer(), nullable=False),
        sa.Column("band3", sa.Integer(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("characters", sa.Integer(), nullable=True),
        sa.Column("fingerprint_version", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["parties.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    with op.batch_alter_table("works", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_works_band0"), ["band0"], unique=False)
        batch_op.create_index(batch_op.f("ix_works_band1"), ["band1"], unique=False)
        batch_op.create_index(batch_op.f("ix_works_band2"), ["band2"], unique=False)
        batch_op.create_index(batch_op.f("ix_works_band3"), ["band3"], unique=False)
        batch_op.create_index(batch_op.f("ix_works_holder_id"), ["holder_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_works_norm_sha256"), ["norm_sha256"], unique=False)

    op.create_table(
        "preferences",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("work_id", sa.String(length=40), nullable=True),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=30), nullable=False),
        sa.Column("jurisdiction", sa.String(length=4), nullable=False),
        sa.Column("effective_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("log_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["holder_id"],
            ["parties.id"],
        ),
        sa.ForeignKeyConstraint(
            ["work_id"],
            ["works.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("preferences", schema=None) as batch_op:
        batch_op.create_index("ix_preferences_holder_work", ["holder_id", "work_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_preferences_work_id"), ["work_id"], unique=False)

    op.create_table(
        "work_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("work_id", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("metadata_json", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", copyalign.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("log_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_id"],
            ["works.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("work_id", "revision"),
    )
    # The log starts empty; appends lock and advance this one row.
    log_state = sa.table(
        "log_state",
        sa.column("id", sa.Integer),
        sa.column("size", sa.BigInteger),
        sa.column("frontier", sa.LargeBinary),
    )
    op.bulk_insert(log_state, [{"id": 1, "size": 0, "frontier": b""}])


def downgrade() -> None:
    op.drop_table("work_revisions")
    with op.batch_alter_table("preferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_preferences_work_id"))
        batch_op.drop_index("ix_preferences_holder_work")

    op.drop_table("preferences")
    with op.batch_alter_table("works", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_works_norm_sha256"))
        batch_op.drop_index(batch_op.f("ix_works_holder_id"))
        batch_op.drop_index(batch_op.f("ix_works_band3"))
        batch_op.drop_index(batch_op.f("ix_works_band2"))
        batch_op.drop_index(batch_op.f("ix_works_band1"))
        batch_op.drop_index(batch_op.f("ix_works_band0"))

    op.drop_table("works")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_party_id"))

    op.drop_table("api_keys")
    op.drop_table("parties")
    op.drop_table("log_state")
    op.drop_table("log_nodes")
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_entries_subject"))
        batch_op.drop_index(batch_op.f("ix_log_entries_event"))

    op.drop_table("log_entries")
    op.drop_table("idempotency_keys")
    op.drop_table("checkpoints")
