"""Periodic jobs: their last run, outcome and lease (`tieline.events.jobs`).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scheduled_jobs",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", Stamp),
        sa.Column("last_started_at", Stamp),
        sa.Column("last_finished_at", Stamp),
        sa.Column("next_due_at", Stamp),
        sa.Column("last_outcome", sa.String(20)),
        sa.Column("last_summary", sa.Text),
        sa.Column("last_correlation_id", sa.String(36)),
        sa.Column("runs", sa.Integer, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scheduled_jobs")
