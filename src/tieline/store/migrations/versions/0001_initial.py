"""The initial schema: records, outbox, relay offsets, import runs, reviews.

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SeqKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("source_system", sa.String(100), nullable=False),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("legal_entity_id", sa.String(36)),
        sa.Column("project_id", sa.String(36)),
        sa.Column("status", sa.String(40)),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", Stamp, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.UniqueConstraint(
            "kind", "source_system", "source_key", name="uq_records_origin"
        ),
    )
    op.create_index("ix_records_kind_project", "records", ["kind", "project_id"])
    op.create_index("ix_records_kind_status", "records", ["kind", "status"])

    op.create_table(
        "outbox",
        sa.Column("seq", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("time", Stamp, nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("causation_id", sa.String(64)),
        sa.Column("envelope", sa.Text, nullable=False),
    )
    op.create_index("ix_outbox_subject", "outbox", ["subject"])

    op.create_table(
        "relay_offsets",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
    )

    op.create_table(
        "import_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("profile", sa.String(100), nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("finished_at", Stamp),
        sa.Column("outcome", sa.String(20)),
        sa.Column("counts", sa.JSON),
        sa.Column("run_dir", sa.Text),
        sa.Column("correlation_id", sa.String(64), nullable=False),
    )

    op.create_table(
        "review_items",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(60), nullable=False),
        sa.Column("item_key", sa.String(400), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("decision", sa.String(40)),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", Stamp),
        sa.Column("note", sa.Text),
        sa.Column("created_at", Stamp, nullable=False),
        sa.UniqueConstraint("topic", "item_key", name="uq_review_items_key"),
    )


def downgrade() -> None:
    for table in ("review_items", "import_runs", "relay_offsets", "outbox", "records"):
        op.drop_table(table)
