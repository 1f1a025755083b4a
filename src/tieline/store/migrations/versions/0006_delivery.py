"""Delivery: outbound webhook endpoints, messages, attempts; the inbound inbox.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SeqKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_endpoints()
    _create_messages()
    _create_inbound()


def _create_endpoints() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("event_types", sa.JSON, nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text),
        sa.Column("previous_until", Stamp),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("disabled_reason", sa.Text),
        sa.Column("rate_limit", sa.Float),
        sa.Column("failing_since", Stamp),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
    )


def _create_messages() -> None:
    op.create_table(
        "webhook_messages",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False, unique=True),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("event_time", Stamp, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Stamp, nullable=False),
        sa.Column("lease_owner", sa.String(36)),
        sa.Column("lease_until", Stamp),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("delivered_at", Stamp),
        sa.UniqueConstraint(
            "endpoint_id", "event_id", name="uq_webhook_messages_event"
        ),
    )
    op.create_index(
        "ix_webhook_messages_due", "webhook_messages", ["status", "next_attempt_at"]
    )
    op.create_index(
        "ix_webhook_messages_endpoint",
        "webhook_messages",
        ["endpoint_id", "created_at"],
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", Stamp, nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("response_excerpt", sa.Text),
    )
    op.create_index(
        "ix_webhook_attempts_message", "webhook_attempts", ["message_id", "attempt"]
    )


def _create_inbound() -> None:
    op.create_table(
        "inbound_sources",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("scheme", sa.String(20), nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text),
        sa.Column("tolerance", sa.Float, nullable=False),
        sa.Column("id_header", sa.String(100)),
        sa.Column("signature_header", sa.String(100)),
        sa.Column("created_at", Stamp, nullable=False),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("source", sa.String(63), nullable=False),
        sa.Column("dedup_key", sa.String(128), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("content_type", sa.String(200)),
        sa.Column("received_at", Stamp, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("processed_at", Stamp),
        sa.UniqueConstraint("source", "dedup_key", name="uq_inbound_messages_key"),
    )


def downgrade() -> None:
    for table in (
        "inbound_messages",
        "inbound_sources",
        "webhook_attempts",
        "webhook_messages",
        "webhook_endpoints",
    ):
        op.drop_table(table)
