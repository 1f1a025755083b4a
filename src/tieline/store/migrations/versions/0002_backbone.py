"""The event backbone: outbox transaction ids, consumer state, dead letters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SeqKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)

# The id of the transaction that writes an outbox row, as a 64-bit number
# (xid8 never wraps). PostgreSQL 13 or newer.
_TXID_DEFAULT = "(pg_current_xact_id()::text)::bigint"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("txid", sa.BigInteger))
    if postgres:
        op.execute("UPDATE outbox SET txid = 0")
        op.execute(f"ALTER TABLE outbox ALTER COLUMN txid SET DEFAULT {_TXID_DEFAULT}")
    op.create_index("ix_outbox_txid_seq", "outbox", ["txid", "seq"])
    with op.batch_alter_table("relay_offsets") as batch:
        batch.add_column(
            sa.Column("last_txid", sa.BigInteger, nullable=False, server_default="0")
        )
    _create_consumer_tables()
    _create_dead_letters()


def _create_consumer_tables() -> None:
    op.create_table(
        "consumer_offsets",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("last_txid", sa.BigInteger, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(100)),
        sa.Column("lease_until", Stamp),
        sa.Column("updated_at", Stamp, nullable=False),
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(36), primary_key=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("handled_at", Stamp, nullable=False),
    )
    op.create_table(
        "consumer_versions",
        sa.Column("consumer", sa.String(100), primary_key=True),
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
    )


def _create_dead_letters() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("consumer", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("project_id", sa.String(36)),
        sa.Column("envelope", sa.Text, nullable=False),
        sa.Column("attempts", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("error_type", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("resolved_by", sa.String(200)),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.UniqueConstraint("consumer", "event_id", name="uq_dead_letters_event"),
    )
    op.create_index("ix_dead_letters_status", "dead_letters", ["status", "consumer"])


def downgrade() -> None:
    for table in ("dead_letters", "consumer_versions", "inbox", "consumer_offsets"):
        op.drop_table(table)
    with op.batch_alter_table("relay_offsets") as batch:
        batch.drop_column("last_txid")
    op.drop_index("ix_outbox_txid_seq", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("txid")
