"""Governance: identities, API keys, role grants, audit log, idempotency keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SeqKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identities",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("issuer", sa.String(300)),
        sa.Column("subject", sa.String(300)),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("disabled_at", Stamp),
        sa.UniqueConstraint("issuer", "subject", name="uq_identities_oidc_subject"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "identity_id",
            sa.String(36),
            sa.ForeignKey("identities.id"),
            nullable=False,
        ),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.Column("expires_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp),
        sa.Column("replaces", sa.String(40)),
    )
    op.create_index("ix_api_keys_identity", "api_keys", ["identity_id"])
    op.create_table(
        "role_grants",
        sa.Column("id", SeqKey, primary_key=True, autoincrement=True),
        sa.Column(
            "identity_id",
            sa.String(36),
            sa.ForeignKey("identities.id"),
            nullable=False,
        ),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("legal_entity_id", sa.String(36), nullable=False),
        sa.Column("supplier_id", sa.String(36)),
        sa.Column("granted_by", sa.String(200), nullable=False),
        sa.Column("granted_at", Stamp, nullable=False),
        sa.Column("revoked_at", Stamp),
    )
    op.create_index("ix_role_grants_identity", "role_grants", ["identity_id"])
    _create_audit_tables()
    op.create_table(
        "idempotency_keys",
        sa.Column("identity_id", sa.String(36), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("created_at", Stamp, nullable=False),
        sa.PrimaryKeyConstraint("identity_id", "key", name="pk_idempotency_keys"),
    )


def _create_audit_tables() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at", Stamp, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_kind", sa.String(20), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("prev_mac", sa.String(64), nullable=False),
        sa.Column("mac", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_lock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    )
    op.bulk_insert(sa.table("audit_lock", sa.column("id", sa.Integer)), [{"id": 1}])


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "audit_lock",
        "audit_log",
        "role_grants",
        "api_keys",
        "identities",
    ):
        op.drop_table(table)
