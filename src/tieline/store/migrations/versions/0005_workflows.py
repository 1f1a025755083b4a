"""Workflows: instances, transitions, assignments, SLA timers, exceptions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

The tables mirror `tieline.workflows._tables`. Revisions 0003 and 0004 are
made on other branches; whoever merges them re-chains this one after them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SeqKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    _create_instances()
    _create_timers_and_exceptions()
    op.create_table(
        "invoice_references",
        sa.Column("supplier_key", sa.String(200), primary_key=True),
        sa.Column("reference", sa.String(200), primary_key=True),
        sa.Column("invoice_id", sa.String(36), nullable=False),
        sa.Column("seen_at", Stamp, nullable=False),
    )


def _create_instances() -> None:
    op.create_table(
        "workflow_instances",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("workflow", sa.String(40), nullable=False),
        sa.Column("document_kind", sa.String(40), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("document_ref", sa.String(200), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("legal_entity_id", sa.String(36)),
        sa.Column("project_id", sa.String(36)),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("stamps", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("updated_at", Stamp, nullable=False),
        sa.UniqueConstraint(
            "workflow", "document_id", name="uq_workflow_instances_doc"
        ),
    )
    op.create_index("ix_workflow_instances_ref", "workflow_instances", ["document_ref"])
    op.create_index(
        "ix_workflow_instances_state", "workflow_instances", ["workflow", "state"]
    )
    op.create_table(
        "workflow_transitions",
        sa.Column("seq", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("document_id", sa.String(36), nullable=False),
        sa.Column("from_state", sa.String(40)),
        sa.Column("to_state", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("system", sa.String(100), nullable=False),
        sa.Column("login", sa.String(200)),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("causation_id", sa.String(64)),
        sa.Column("comment", sa.Text),
        sa.Column("at", Stamp, nullable=False),
    )
    op.create_index(
        "ix_workflow_transitions_doc", "workflow_transitions", ["document_id", "seq"]
    )
    op.create_table(
        "workflow_assignments",
        sa.Column("instance_id", sa.String(36), primary_key=True),
        sa.Column("person", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("assigned_at", Stamp, nullable=False),
    )
    op.create_index(
        "ix_workflow_assignments_person", "workflow_assignments", ["person"]
    )


def _create_timers_and_exceptions() -> None:
    op.create_table(
        "workflow_timers",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("step", sa.String(80), nullable=False),
        sa.Column("due_at", Stamp, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("fired_at", Stamp),
        sa.UniqueConstraint("instance_id", "state", name="uq_workflow_timers_step"),
    )
    op.create_index("ix_workflow_timers_due", "workflow_timers", ["status", "due_at"])
    op.create_table(
        "workflow_exceptions",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.String(36), nullable=False),
        sa.Column("document_ref", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("resolved_by", sa.String(200)),
        sa.Column("resolved_at", Stamp),
    )
    op.create_index(
        "ix_workflow_exceptions_owner", "workflow_exceptions", ["status", "owner"]
    )
    op.create_table(
        "workflow_exception_notes",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column("exception_id", sa.Integer, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", Stamp, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "invoice_references",
        "workflow_exception_notes",
        "workflow_exceptions",
        "workflow_timers",
        "workflow_assignments",
        "workflow_transitions",
        "workflow_instances",
    ):
        op.drop_table(table)
