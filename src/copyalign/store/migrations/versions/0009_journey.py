"""the user journey: terms of use and acceptances, flagged prompts, user-trained models; traces' disclaimers

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import copyalign.store.types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    when = copyalign.store.types.UTCDateTime(timezone=True)
    with op.batch_alter_table("generation_traces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copyright_notice", sa.JSON(), nullable=True))
    op.create_table(
        "journey_terms",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("texts_sha256", sa.String(length=64), nullable=False),
        sa.Column("published_at", when, nullable=False),
        sa.Column("log_index", big, nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "version", name="uq_journey_terms_version"),
    )
    with op.batch_alter_table("journey_terms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journey_terms_provider_id"), ["provider_id"], unique=False)
    op.create_table(
        "journey_acceptances",
        sa.Column("terms_id", sa.String(length=40), nullable=False),
        sa.Column("user_ref", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("accepted_at", when, nullable=False),
        sa.Column("batch", sa.String(length=40), nullable=False),
        sa.Column("log_index", big, nullable=False),
        sa.ForeignKeyConstraint(["terms_id"], ["journey_terms.id"]),
        sa.ForeignKeyConstraint(["provider_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("terms_id", "user_ref"),
    )
    op.create_table(
        "journey_flags",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("user_ref", sa.String(length=64), nullable=False),
        sa.Column("at", when, nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=False),
        sa.Column("prompt_sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("journey_flags", schema=None) as batch_op:
        batch_op.create_index("ix_journey_flags_user", ["provider_id", "user_ref", "at"], unique=False)
    op.create_table(
        "journey_adapters",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=False),
        sa.Column("user_ref", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_model", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("scan_id", sa.String(length=40), nullable=False),
        sa.Column("scan_log_index", big, nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("corpus_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", when, nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.Column("log_index", big, nullable=False),
        sa.Column("removed_at", when, nullable=True),
        sa.Column("removal_ref", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("journey_adapters", schema=None) as batch_op:
        batch_op.create_index("ix_journey_adapters_provider", ["provider_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("journey_adapters")
    op.drop_table("journey_flags")
    op.drop_table("journey_acceptances")
    op.drop_table("journey_terms")
    with op.batch_alter_table("generation_traces", schema=None) as batch_op:
        batch_op.drop_column("copyright_notice")
