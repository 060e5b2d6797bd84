"""measured use, reporting periods, floors' overrides, the research exception, the simplified-procedure queue

Issue 22: a usage report records whether its feature share was measured from a logged scan or declared; a
notice carries its licence's reporting period, the policy overrides in force and any research claim; an invoice
names its procedure (``simplified`` for de-minimis use, queued for the simplified procedure).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notices", sa.Column("report_every_days", sa.Integer(), nullable=True))
    op.add_column("notices", sa.Column("policy_overrides", sa.JSON(), nullable=True))
    op.add_column("notices", sa.Column("research", sa.JSON(), nullable=True))
    op.add_column(
        "usage_reports",
        sa.Column("share_basis", sa.String(length=12), server_default="declared", nullable=False),
    )
    op.add_column("usage_reports", sa.Column("measured_share", sa.String(length=40), nullable=True))
    op.add_column("usage_reports", sa.Column("scan", sa.JSON(), nullable=True))
    op.add_column(
        "invoices",
        sa.Column("procedure", sa.String(length=12), server_default="standard", nullable=False),
    )
    op.create_index(op.f("ix_invoices_procedure"), "invoices", ["procedure"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_invoices_procedure"), table_name="invoices")
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("procedure")
    with op.batch_alter_table("usage_reports") as batch:
        batch.drop_column("scan")
        batch.drop_column("measured_share")
        batch.drop_column("share_basis")
    with op.batch_alter_table("notices") as batch:
        batch.drop_column("research")
        batch.drop_column("policy_overrides")
        batch.drop_column("report_every_days")
