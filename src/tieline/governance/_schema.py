"""Governance tables, on the store's shared MetaData; migration 0004 creates them.

`tieline.store` imports this module, so every table here is in
`tieline.store._schema.metadata` wherever the store is used.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tieline.store._schema import SeqKey, metadata

Stamp = DateTime(timezone=True)

# A service (a system, an integration, a partner's portal account) or a human
# (a person who signs in through the customer's identity provider). The two
# are kept apart: only services hold API keys; only humans present OIDC
# tokens, matched by (issuer, subject).
identities = Table(
    "identities",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("name", String(200), nullable=False, unique=True),
    Column("issuer", String(300)),
    Column("subject", String(300)),
    Column("created_at", Stamp, nullable=False),
    Column("disabled_at", Stamp),
    UniqueConstraint("issuer", "subject", name="uq_identities_oidc_subject"),
)

# API keys of service identities. Only a SHA-256 of the secret part is kept:
# the secret is 256 random bits, so a slow password hash buys nothing.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("expires_at", Stamp, nullable=False),
    Column("revoked_at", Stamp),
    Column("replaces", String(40)),
    Index("ix_api_keys_identity", "identity_id"),
)

# A role an identity holds in one legal entity ('*' for all of them); a
# partner's grant also names the supplier it acts for.
role_grants = Table(
    "role_grants",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("identity_id", String(36), ForeignKey("identities.id"), nullable=False),
    Column("role", String(40), nullable=False),
    Column("legal_entity_id", String(36), nullable=False),
    Column("supplier_id", String(36)),
    Column("granted_by", String(200), nullable=False),
    Column("granted_at", Stamp, nullable=False),
    Column("revoked_at", Stamp),
    Index("ix_role_grants_identity", "identity_id"),
)

# The append-only audit log, each entry chained to the one before by an
# HMAC (see tieline.governance.audit). `seq` is assigned under a lock, so it
# has no gaps; a gap is itself a sign of a deleted entry.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", Stamp, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_kind", String(20), nullable=False),
    Column("action", String(80), nullable=False),
    Column("target", String(300), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("source", String(100), nullable=False),
    Column("correlation_id", String(64), nullable=False),
    Column("details", Text, nullable=False),
    Column("prev_mac", String(64), nullable=False),
    Column("mac", String(64), nullable=False),
)

# One row that every audit append locks (SELECT ... FOR UPDATE on
# PostgreSQL), so that appends from many processes form one chain.
audit_lock = Table(
    "audit_lock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
)

# The first answer to each (identity, Idempotency-Key), replayed for a retry.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("identity_id", String(36), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("created_at", Stamp, nullable=False),
    PrimaryKeyConstraint("identity_id", "key", name="pk_idempotency_keys"),
)
