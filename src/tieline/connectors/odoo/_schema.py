"""The Odoo connector's tables, on the store's metadata (migration 0003).

`odoo_bindings` cross-references a canonical id and an Odoo record: one row
per (instance, model, Odoo id), and per (instance, model, canonical id). A
canonical record may be bound to several models (a project is both a
`project.project` and an analytic account); order lines are bound as
`<commitment id>#<line key>`. `odoo_watermarks` remembers, per instance and
model, the last `write_date` pulled and the ids already seen at it.
`odoo_in_doubt` (migration 0009) notes each create sent to Odoo whose record
is not found and bound yet: see `_in_doubt`.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    String,
    Table,
    UniqueConstraint,
)

from tieline.store._schema import SeqKey, metadata

odoo_bindings = Table(
    "odoo_bindings",
    metadata,
    Column("id", SeqKey, primary_key=True, autoincrement=True),
    Column("instance", String(100), nullable=False),
    Column("model", String(64), nullable=False),
    Column("odoo_id", BigInteger, nullable=False),
    Column("canonical_kind", String(40), nullable=False),
    Column("canonical_id", String(120), nullable=False),
    Column("external_id", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    UniqueConstraint("instance", "model", "odoo_id", name="uq_odoo_bindings_odoo"),
    UniqueConstraint(
        "instance", "model", "canonical_id", name="uq_odoo_bindings_canonical"
    ),
)

odoo_watermarks = Table(
    "odoo_watermarks",
    metadata,
    Column("instance", String(100), primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("write_date", String(19), nullable=False),
    Column("seen_at_mark", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

odoo_in_doubt = Table(
    "odoo_in_doubt",
    metadata,
    Column("instance", String(100), primary_key=True),
    Column("model", String(64), primary_key=True),
    Column("canonical_id", String(120), primary_key=True),
    Column("external_id", String(200), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)
