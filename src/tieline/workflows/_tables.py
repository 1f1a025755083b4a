"""The workflow tables, on the store's shared metadata (migration 0005).

An instance is one business document's life in one workflow; its transitions
are append-only; timers and exceptions hang off an instance. Assignments say
who may act on an instance in its current state (approvers, their delegates,
the escalation owner after a breach).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql, sqlite

from tieline.store._schema import SeqKey, metadata

Stamp = DateTime(timezone=True)

workflow_instances = Table(
    "workflow_instances",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("workflow", String(40), nullable=False),
    Column("document_kind", String(40), nullable=False),
    Column("document_id", String(36), nullable=False),
    Column("document_ref", String(200), nullable=False),
    Column("state", String(40), nullable=False),
    Column("legal_entity_id", String(36)),
    Column("project_id", String(36)),
    Column("data", JSON, nullable=False),
    Column("stamps", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    UniqueConstraint("workflow", "document_id", name="uq_workflow_instances_doc"),
    Index("ix_workflow_instances_ref", "document_ref"),
    Index("ix_workflow_instances_state", "workflow", "state"),
)

workflow_transitions = Table(
    "workflow_transitions",
    metadata,
    Column("seq", SeqKey, primary_key=True, autoincrement=True),
    Column("instance_id", String(36), nullable=False),
    Column("document_id", String(36), nullable=False),
    Column("from_state", String(40)),
    Column("to_state", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_kind", String(20), nullable=False),
    Column("system", String(100), nullable=False),
    Column("login", String(200)),
    Column("correlation_id", String(64), nullable=False),
    Column("causation_id", String(64)),
    Column("comment", Text),
    Column("at", Stamp, nullable=False),
    Index("ix_workflow_transitions_doc", "document_id", "seq"),
)

workflow_assignments = Table(
    "workflow_assignments",
    metadata,
    Column("instance_id", String(36), primary_key=True),
    Column("person", String(200), primary_key=True),
    Column("state", String(40), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("assigned_at", Stamp, nullable=False),
    Index("ix_workflow_assignments_person", "person"),
)

workflow_timers = Table(
    "workflow_timers",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("instance_id", String(36), nullable=False),
    Column("state", String(40), nullable=False),
    Column("step", String(80), nullable=False),
    Column("due_at", Stamp, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("fired_at", Stamp),
    UniqueConstraint("instance_id", "state", name="uq_workflow_timers_step"),
    Index("ix_workflow_timers_due", "status", "due_at"),
)

workflow_exceptions = Table(
    "workflow_exceptions",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("instance_id", String(36), nullable=False),
    Column("document_ref", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("owner", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("resolved_by", String(200)),
    Column("resolved_at", Stamp),
    Index("ix_workflow_exceptions_owner", "status", "owner"),
)

workflow_exception_notes = Table(
    "workflow_exception_notes",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("exception_id", Integer, nullable=False),
    Column("author", String(200), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", Stamp, nullable=False),
)

# One row per (supplier, reference) an invoice was seen under: the second
# invoice with the same key is a duplicate, even when both arrive at once
# (the unique key decides which one came first).
invoice_references = Table(
    "invoice_references",
    metadata,
    Column("supplier_key", String(200), primary_key=True),
    Column("reference", String(200), primary_key=True),
    Column("invoice_id", String(36), nullable=False),
    Column("seen_at", Stamp, nullable=False),
)


def insert_or_skip(connection: Connection, table: Table, **values: Any) -> Any:
    """An INSERT that does nothing on a key conflict, in the connection's dialect."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing()
