"""takedown exports: statement batches sent to the DSA Transparency Database, sealed reports and dossiers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import copyalign.store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    when = copyalign.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "takedown_exports",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("provider_id", sa.String(length=40), nullable=True),
        sa.Column("period", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.String(length=40), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("log_index", big, nullable=False),
        sa.ForeignKeyConstraint(["provider_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("takedown_exports", schema=None) as batch_op:
        batch_op.create_index("ix_takedown_exports_kind", ["kind", "provider_id", "created_at"], unique=False)
    op.create_table(
        "takedown_sent_statements",
        sa.Column("puid", sa.String(length=500), nullable=False),
        sa.Column("decision_id", sa.String(length=40), nullable=False),
        sa.Column("export_id", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("dsa_uuid", sa.String(length=64), nullable=True),
        sa.Column("permalink", sa.String(length=500), nullable=True),
        sa.Column("sent_at", when, nullable=False),
        sa.ForeignKeyConstraint(["decision_id"], ["takedown_decisions.id"]),
        sa.ForeignKeyConstraint(["export_id"], ["takedown_exports.id"]),
        sa.PrimaryKeyConstraint("puid"),
    )
    with op.batch_alter_table("takedown_sent_statements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_takedown_sent_statements_decision_id"), ["decision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_takedown_sent_statements_export_id"), ["export_id"], unique=False)


def downgrade() -> None:
    op.drop_table("takedown_sent_statements")
    op.drop_table("takedown_exports")
