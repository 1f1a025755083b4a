"""Migration 0005 creates exactly the workflow tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import tieline.workflows  # noqa: F401 - registers the workflow tables
from tieline.store import Store
from tieline.store._schema import metadata


def test_the_migrated_schema_has_every_workflow_table_as_declared(
    store: Store,
) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, metadata)
    workflow_tables = {
        t.name
        for t in metadata.sorted_tables
        if t.name.startswith(("workflow_", "invoice_"))
    }
    assert workflow_tables == {
        "workflow_instances",
        "workflow_transitions",
        "workflow_assignments",
        "workflow_timers",
        "workflow_exceptions",
        "workflow_exception_notes",
        "invoice_references",
    }
    mine = [d for d in differences if any(name in repr(d) for name in workflow_tables)]
    assert mine == []
