"""The store: SQLAlchemy 2 over SQLite (embedded default) or PostgreSQL."""

# Imported for its side effect: the delivery tables join the shared metadata.
from tieline.store import _delivery_schema  # noqa: F401
from tieline.store._store import (
    Action,
    Change,
    Store,
    Transaction,
    as_utc,
    content_hash,
    record_type,
)

__all__ = [
    "Action",
    "Change",
    "Store",
    "Transaction",
    "as_utc",
    "content_hash",
    "record_type",
]

# Governance keeps its tables beside the store's, on the same MetaData, so
# that migrations, tests and tools see one schema. Imported last: the module
# needs only tieline.store._schema, which is loaded by now.
from tieline.governance import _schema as _governance_schema  # noqa: F401
