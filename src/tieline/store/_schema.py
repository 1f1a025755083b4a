"""The tables, as SQLAlchemy Core metadata; Alembic's migrations create them.

Canonical records live in one table as validated JSON documents with the
columns that queries need (kind, origin, entity, project, status) pulled out
and indexed. One aggregate (an order with its lines, an invoice with its
lines) is one row, so a change to it is one version and one event.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# BigInteger keys become INTEGER on SQLite so that they alias the rowid and
# autoincrement; on PostgreSQL they are BIGINT identities.
SeqKey = BigInteger().with_variant(Integer(), "sqlite")

records = Table(
    "records",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("source_system", String(100), nullable=False),
    Column("source_key", String(200), nullable=False),
    Column("legal_entity_id", String(36)),
    Column("project_id", String(36)),
    Column("status", String(40)),
    Column("data", JSON, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("kind", "source_system", "source_key", name="uq_records_origin"),
    Index("ix_records_kind_project", "kind", "project_id"),
    Index("ix_records_kind_status", "kind", "status"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("seq", SeqKey, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(120), nullable=False),
    Column("source", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("causation_id", String(64)),
    Column("envelope", Text, nullable=False),
    # PostgreSQL only: the writing transaction's id, filled by the column's
    # server default (migration 0002). Readers order by (txid, seq) and read
    # only below the oldest running transaction, so a slow writer's lower seq
    # can never commit behind a reader's position. NULL on SQLite.
    Column("txid", BigInteger),
    Index("ix_outbox_subject", "subject"),
    Index("ix_outbox_txid_seq", "txid", "seq"),
)

relay_offsets = Table(
    "relay_offsets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_txid", BigInteger, nullable=False, server_default="0"),
)

import_runs = Table(
    "import_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("profile", String(100), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(20)),
    Column("counts", JSON),
    Column("run_dir", Text),
    Column("correlation_id", String(64), nullable=False),
)

# Items that wait for a person's decision (a near supplier match, say). The
# decision is remembered by `item_key`, so the same question is asked once.
review_items = Table(
    "review_items",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("topic", String(60), nullable=False),
    Column("item_key", String(400), nullable=False),
    Column("subject", Text, nullable=False),
    Column("score", Float),
    Column("evidence", JSON, nullable=False),
    Column("decision", String(40)),
    Column("decided_by", String(200)),
    Column("decided_at", DateTime(timezone=True)),
    Column("note", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("topic", "item_key", name="uq_review_items_key"),
)

# The event backbone (migration 0002): consumer positions on the SQL event
# log, the inbox of handled events, the newest version each consumer saw per
# subject, and the dead letters.
consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("last_txid", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

inbox = Table(
    "inbox",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("outcome", String(20), nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False),
)

consumer_versions = Table(
    "consumer_versions",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("subject", String(200), primary_key=True),
    Column("version", Integer, nullable=False),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("project_id", String(36)),
    Column("envelope", Text, nullable=False),
    Column("attempts", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("error_type", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("note", Text),
    Column("resolved_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("consumer", "event_id", name="uq_dead_letters_event"),
    Index("ix_dead_letters_status", "status", "consumer"),
)

# Periodic jobs (migration 0007): when each last ran and with what outcome,
# and which worker holds it now, so a restart neither repeats nor forgets one.
scheduled_jobs = Table(
    "scheduled_jobs",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("lease_owner", String(100)),
    Column("lease_until", DateTime(timezone=True)),
    Column("last_started_at", DateTime(timezone=True)),
    Column("last_finished_at", DateTime(timezone=True)),
    Column("next_due_at", DateTime(timezone=True)),
    Column("last_outcome", String(20)),
    Column("last_summary", Text),
    Column("last_correlation_id", String(36)),
    Column("runs", Integer, nullable=False),
    Column("failures", Integer, nullable=False),
)

# Parked retries (migration 0008): events whose next attempt is too far off to
# wait for in their lane, per consumer, in the order they were parked. The
# first row of a (consumer, subject) is its head, retried when due; the rows
# behind it wait for their turn (`next_attempt_at` NULL until they have
# failed once), so a subject's events keep their order while others flow.
parked_retries = Table(
    "parked_retries",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("envelope", Text, nullable=False),
    Column("attempts", JSON, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    UniqueConstraint("consumer", "event_id", name="uq_parked_retries_event"),
    Index("ix_parked_retries_subject", "consumer", "subject", "id"),
    Index("ix_parked_retries_due", "consumer", "next_attempt_at"),
)
