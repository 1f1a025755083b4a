"""Creates sent to Odoo whose outcome is not known yet (in doubt).

See `tieline.connectors.odoo._in_doubt`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "odoo_in_doubt",
        sa.Column("instance", sa.String(100), primary_key=True),
        sa.Column("model", sa.String(64), primary_key=True),
        sa.Column("canonical_id", sa.String(120), primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("sent_at", Stamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("odoo_in_doubt")
