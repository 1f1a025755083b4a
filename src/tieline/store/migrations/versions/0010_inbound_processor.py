"""Inbound sources: the processor a source is bound to, and a rotation overlap.

`processor` names the processor a source's messages go through; without one,
a message is forwarded as its `tieline.inbound.received` event only.
`previous_until` ends the overlap during which a rotated secret still
verifies (no value: until the next rotation, as before this revision).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_sources") as table:
        table.add_column(sa.Column("processor", sa.String(63)))
        table.add_column(sa.Column("previous_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("inbound_sources") as table:
        table.drop_column("previous_until")
        table.drop_column("processor")
