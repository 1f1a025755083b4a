"""Pushes as backbone consumers: events in, Odoo records out, each once."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from tieline.connectors.odoo import OdooClient, OdooSync
from tieline.connectors.odoo.consumers import consumer_name, push_consumer
from tieline.events import Consumer, ConsumerWorker, SqlLogBus
from tieline.events.deadletters import DeadLetterFilter, list_dead_letters
from tieline.model import Commitment, CommitmentStatus, InvoiceStatus
from tieline.model.invoices import SupplierInvoice
from tieline.retry import RetryPolicy
from tieline.store import Store
from tieline.store._schema import consumer_offsets
from tieline.testing.waiting import drain

from .chain import Chain, build_chain
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo

# A receipt's lane may run before its order's lane and wait for the order.
QUICK = RetryPolicy(initial_delay=0.02, max_delay=0.2, max_attempts=30)


def _drain(store: Store, consumer: Consumer) -> ConsumerWorker:
    """Run the consumer over the SQL event log until it settled every event."""
    bus = SqlLogBus(store, poll_interval=0.01)
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.5)
    (feed,) = bus.feeds(consumer.subscription)
    try:
        drain(store, worker, consumer, feed)
    finally:
        worker.close()
    return worker


def _redeliver_everything(store: Store, consumer: Consumer) -> None:
    # Forget the consumer's position on the log: the bus serves every event
    # again, as it would after a crash before the acknowledgement.
    with store.transaction() as tx:
        tx.connection.execute(
            delete(consumer_offsets).where(consumer_offsets.c.consumer == consumer.name)
        )


def _approve(store: Store, chain: Chain) -> None:
    """Put the chain's (created approved) commitment back to draft, then approve
    it again: the consumer sees both `created` and `approved` for one order."""
    for status in (CommitmentStatus.DRAFT, CommitmentStatus.APPROVED):
        with store.transaction() as tx:
            stored = tx.get(Commitment, chain.commitment.id)
            assert stored is not None
            tx.save(stored.model_copy(update={"status": status}), actor="test")


def _count(client: OdooClient, model: str, domain: list[object]) -> int:
    return len(client.search(model, domain, context={"active_test": False}))


def test_each_event_pushes_once_even_when_delivered_twice(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        consumer = push_consumer(sync, retry=QUICK)

        # Given a commitment approved, then received in full and invoiced
        _approve(store, chain)
        receipt = chain.receipt("GR-1", {"1": "10", "2": "5"}, final=True)
        invoice = chain.invoice(f"INV-{odoo.tag}")
        with store.transaction() as tx:
            tx.save(receipt, actor="test")
            tx.save(
                invoice.model_copy(update={"status": InvoiceStatus.MATCHED}),
                actor="test",
            )
        with store.transaction() as tx:
            matched = tx.get(SupplierInvoice, invoice.id)
            assert matched is not None
            tx.save(
                matched.model_copy(update={"status": InvoiceStatus.APPROVED}),
                actor="test",
            )

        # When the consumer runs, and then the bus serves every event again
        first = _drain(store, consumer)
        _redeliver_everything(store, consumer)
        second = _drain(store, consumer)

        # Then Odoo holds one confirmed order, one done receipt, one posted bill
        orders = client.search_read(
            "purchase.order", [("origin", "=", chain.commitment.number)], ["state"]
        )
        assert [o["state"] for o in orders] == ["purchase"]
        pickings = client.search_read(
            "stock.picking", [("purchase_id", "=", orders[0]["id"])], ["state"]
        )
        assert [p["state"] for p in pickings] == ["done"]
        bills = client.search_read(
            "account.move",
            [
                ("ref", "=", invoice.supplier_reference),
                ("move_type", "=", "in_invoice"),
            ],
            ["state"],
        )
        assert [b["state"] for b in bills] == ["posted"]
        partner_name = chain.supplier.legal_name
        assert _count(client, "res.partner", [("name", "=", partner_name)]) == 1

        # And the second delivery was recognised as such, not pushed again
        name = consumer_name("main")
        assert first.stats.get(name, "dead_lettered") == 0
        assert second.stats.get(name, "handled") == 0
        assert second.stats.get(name, "duplicate") == first.stats.get(name, "handled")
        with store.transaction() as tx:
            posted = tx.get(SupplierInvoice, invoice.id)
        assert posted is not None
        assert posted.status is InvoiceStatus.POSTED


def test_an_odoo_refusal_ends_in_a_dead_letter_with_odoos_message(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        # Given an Odoo instance on which the legal entity is bound to a
        # company that Odoo does not have
        other = OdooSync(client, instance="other")
        with store.transaction() as tx:
            other.bind_legal_entity(tx, chain.entity, 999_999)
        consumer = push_consumer(other, retry=QUICK)

        # When the approved commitment's event is consumed
        worker = _drain(store, consumer)

        # Then it is dead-lettered at once, with Odoo's reason
        name = consumer_name("other")
        assert worker.stats.get(name, "retried") == 0
        letters = list_dead_letters(store, DeadLetterFilter(consumer=name))
        assert len(letters) == 1
        assert letters[0].reason == (
            "OdooAccessError is permanent: Access to unauthorized or invalid companies."
        )
        assert (
            _count(client, "purchase.order", [("origin", "=", chain.commitment.number)])
            == 0
        )
