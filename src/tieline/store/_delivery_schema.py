"""The delivery tables (migration 0006): outbound webhooks and the inbound inbox.

Outbound: `webhook_endpoints` (URL, subscription, secrets, state), one
`webhook_messages` row per (event, endpoint) holding the exact body and the
retry schedule's state, and `webhook_attempts`, one row per HTTP attempt.
Inbound: `inbound_sources` (scheme, secret and processor per sender; the
last two columns come from migration 0010) and
`inbound_messages`, the durable inbox a verified request is written to before
it is answered. They join the shared metadata so tests and Alembic see them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tieline.store._schema import SeqKey, metadata

Stamp = DateTime(timezone=True)

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("url", Text, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("event_types", JSON, nullable=False),
    Column("filters", JSON, nullable=False),
    Column("secret", Text, nullable=False),
    # Rotation: the secret replaced last keeps signing until `previous_until`.
    Column("previous_secret", Text),
    Column("previous_until", Stamp),
    Column("status", String(20), nullable=False),
    Column("disabled_reason", Text),
    Column("rate_limit", Float),
    Column("failing_since", Stamp),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
)

webhook_messages = Table(
    "webhook_messages",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    # The `webhook-id` header: stable per (event, endpoint), so every retry
    # and every re-send carries the same one.
    Column("message_id", String(64), nullable=False, unique=True),
    Column("endpoint_id", String(36), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("event_time", Stamp, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Stamp, nullable=False),
    Column("lease_owner", String(36)),
    Column("lease_until", Stamp),
    Column("last_error", Text),
    Column("created_at", Stamp, nullable=False),
    Column("delivered_at", Stamp),
    UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_messages_event"),
    Index("ix_webhook_messages_due", "status", "next_attempt_at"),
    Index("ix_webhook_messages_endpoint", "endpoint_id", "created_at"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("message_id", String(64), nullable=False),
    Column("endpoint_id", String(36), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("started_at", Stamp, nullable=False),
    Column("status_code", Integer),
    Column("latency_ms", Float, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("error", Text),
    Column("response_excerpt", Text),
    Index("ix_webhook_attempts_message", "message_id", "attempt"),
)

inbound_sources = Table(
    "inbound_sources",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("scheme", String(20), nullable=False),
    Column("secret", Text, nullable=False),
    Column("previous_secret", Text),
    # Migration 0010: the rotated secret verifies until then (None: no end).
    Column("previous_until", Stamp),
    Column("tolerance", Float, nullable=False),
    Column("id_header", String(100)),
    Column("signature_header", String(100)),
    Column("created_at", Stamp, nullable=False),
    # Migration 0010: the processor its messages go through; None forwards
    # them as events only.
    Column("processor", String(63)),
)

inbound_messages = Table(
    "inbound_messages",
    metadata,
    # The id of the `tieline.inbound.received` event written with the row.
    Column("id", String(36), primary_key=True),
    Column("source", String(63), nullable=False),
    Column("dedup_key", String(128), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("content_type", String(200)),
    Column("received_at", Stamp, nullable=False),
    Column("status", String(20), nullable=False),
    Column("processed_at", Stamp),
    UniqueConstraint("source", "dedup_key", name="uq_inbound_messages_key"),
)
