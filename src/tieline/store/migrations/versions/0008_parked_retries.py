"""Parked retries: events a consumer retries later, per subject in order.

See `tieline.events.parking`.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SeqKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "parked_retries",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("attempts", sa.JSON, nullable=False),
        sa.Column("parked_at", Stamp, nullable=False),
        sa.Column("next_attempt_at", Stamp),
        sa.UniqueConstraint("consumer", "event_id", name="uq_parked_retries_event"),
    )
    op.create_index(
        "ix_parked_retries_subject", "parked_retries", ["consumer", "subject", "id"]
    )
    op.create_index(
        "ix_parked_retries_due", "parked_retries", ["consumer", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("parked_retries")
