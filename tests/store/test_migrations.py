"""The migrations build exactly the tables the code declares, on each back-end."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

# Every module that declares tables on the shared metadata, so the comparison
# sees them all (the store alone knows only its own and governance's).
import tieline.connectors.odoo._schema
import tieline.workflows._tables  # noqa: F401
from tieline.store import Store
from tieline.store._schema import metadata


def test_the_migrated_schema_matches_the_declared_tables(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)

    assert differences == []


def test_migrating_twice_changes_nothing(store: Store) -> None:
    store.migrate()

    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
