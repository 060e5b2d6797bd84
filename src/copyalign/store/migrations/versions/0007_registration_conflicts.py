"""registration conflicts: near-duplicates of another holder's work, and the operator's queue

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import copyalign.store.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    when = copyalign.store.types.UTCDateTime(timezone=True)
    op.create_table(
        "registration_conflicts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("work_id", sa.String(length=40), nullable=False),
        sa.Column("holder_id", sa.String(length=40), nullable=False),
        sa.Column("other_work_id", sa.String(length=40), nullable=False),
        sa.Column("other_holder_id", sa.String(length=40), nullable=False),
        sa.Column("match", sa.String(length=20), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", when, nullable=False),
        sa.Column("log_index", big, nullable=False),
        sa.Column("resolved_at", when, nullable=True),
        sa.Column("resolved_by", sa.String(length=40), nullable=True),
        sa.Column("decision", sa.String(length=20), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("resolution_log_index", big, nullable=True),
        sa.ForeignKeyConstraint(["work_id"], ["works.id"]),
        sa.ForeignKeyConstraint(["other_work_id"], ["works.id"]),
        sa.ForeignKeyConstraint(["holder_id"], ["parties.id"]),
        sa.ForeignKeyConstraint(["other_holder_id"], ["parties.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("registration_conflicts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_conflicts_work_id"), ["work_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_conflicts_other_work_id"), ["other_work_id"], unique=False)
        batch_op.create_index("ix_registration_conflicts_status", ["status", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_table("registration_conflicts")
