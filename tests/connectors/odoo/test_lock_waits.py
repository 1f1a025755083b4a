"""On PostgreSQL, work holding the push lock that waits for a binding another
lane wrote and has not committed gives up after `lock_wait` seconds with a
retryable error, releasing the lock, instead of waiting for ever.

Both lanes run in this test's one thread, so without the bound the second
would wait for the first for ever; the store's `statement_timeout` turns
that into a failure after 20 seconds instead of a hung test run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy import create_engine

from tieline.connectors.odoo import OdooErp, OdooSync
from tieline.connectors.odoo.consumers import BindingConflict
from tieline.connectors.odoo.runtime import OdooConfig, OdooRuntime
from tieline.model import Supplier
from tieline.retry import ErrorClass
from tieline.store import Store
from tieline.store._schema import metadata
from tieline.workflows import workflow_consumers

from .chain import build_chain
from .conftest import OdooTarget

pytestmark = [pytest.mark.odoo, pytest.mark.postgres]

LOCK_WAIT = 0.2


@pytest.fixture
def pg_store(postgres_database: str) -> Iterator[Store]:
    """An empty store on PostgreSQL whose statements fail after 20 s."""
    engine = create_engine(
        postgres_database, connect_args={"options": "-c statement_timeout=20000"}
    )
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
    yield Store(postgres_database, engine=engine)
    engine.dispose()


def test_a_gateway_push_waiting_on_another_lanes_binding_becomes_a_retry(
    odoo: OdooTarget, pg_store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main", lock_wait=LOCK_WAIT)
        chain = build_chain(pg_store, client, sync, odoo.tag)
        gateway = OdooErp(sync)
        (erp_consumer,) = [
            c
            for c in workflow_consumers(lambda: None, gateway)
            if c.name == "workflow-erp"
        ]

        # Given another lane that pushed the supplier and has not committed
        with pg_store.transaction() as other:
            sync.push_supplier(other, chain.supplier)

            # When the workflows' gateway pushes the order, whose partner's
            # binding that lane holds
            with pytest.raises(BindingConflict) as waited, pg_store.transaction() as tx:
                gateway.push_purchase_order(tx, chain.commitment)

            # Then the wait ended in an error the workflows' consumer retries,
            # and the push lock is free again
            assert erp_consumer.retry.classify(waited.value) is ErrorClass.RETRYABLE
            assert not sync.lock.locked()

        # And once the other lane committed, the retry pushes the order once
        with pg_store.transaction() as tx:
            ref = gateway.push_purchase_order(tx, chain.commitment)
        orders = client.search_read(
            "purchase.order", [("origin", "=", chain.commitment.number)], ["name"]
        )
        assert [o["name"] for o in orders] == [ref]


def test_a_pull_waiting_on_a_push_lanes_binding_is_deferred(
    odoo: OdooTarget, pg_store: Store
) -> None:
    config = OdooConfig(
        url=odoo.url,
        database=odoo.database,
        login=odoo.login,
        secret=SecretStr(odoo.secret),
    )
    runtime = OdooRuntime(config, lock_wait=LOCK_WAIT)
    try:
        with odoo.client() as client:
            chain = build_chain(pg_store, client, runtime.sync, odoo.tag)

        # Given a push lane that made the supplier's partner and has not
        # committed its binding
        with pg_store.transaction() as other:
            runtime.sync.push_supplier(other, chain.supplier)

            # When the periodic pull reads that partner
            with pytest.raises(BindingConflict):
                runtime.pull(pg_store)

            # Then it gave up waiting, releasing the push lock
            assert not runtime.sync.lock.locked()

        # And the next pull binds the partner to the supplier, importing none
        runtime.pull(pg_store)
        with pg_store.transaction() as tx:
            named = [
                s.id
                for s in tx.list(Supplier)
                if s.legal_name == chain.supplier.legal_name
            ]
        assert named == [chain.supplier.id]
    finally:
        runtime.close()
