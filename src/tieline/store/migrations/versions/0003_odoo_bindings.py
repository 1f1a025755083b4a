"""The Odoo connector's bindings and pull watermarks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SeqKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "odoo_bindings",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("instance", sa.String(100), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("odoo_id", sa.BigInteger, nullable=False),
        sa.Column("canonical_kind", sa.String(40), nullable=False),
        sa.Column("canonical_id", sa.String(120), nullable=False),
        sa.Column("external_id", sa.String(200)),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("deleted_at", Stamp),
        sa.UniqueConstraint(
            "instance", "model", "odoo_id", name="uq_odoo_bindings_odoo"
        ),
        sa.UniqueConstraint(
            "instance", "model", "canonical_id", name="uq_odoo_bindings_canonical"
        ),
    )
    op.create_table(
        "odoo_watermarks",
        sa.Column("instance", sa.String(100), primary_key=True),
        sa.Column("model", sa.String(64), primary_key=True),
        sa.Column("write_date", sa.String(19), nullable=False),
        sa.Column("seen_at_mark", sa.JSON, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("odoo_watermarks")
    op.drop_table("odoo_bindings")
