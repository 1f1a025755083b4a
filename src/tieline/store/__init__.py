"""The store: SQLAlchemy 2 over SQLite (embedded default) or PostgreSQL."""

from tieline.store._store import (
    Action,
    Change,
    Store,
    Transaction,
    content_hash,
    record_type,
)

__all__ = ["Action", "Change", "Store", "Transaction", "content_hash", "record_type"]
