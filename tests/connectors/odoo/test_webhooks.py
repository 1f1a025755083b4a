"""Odoo's "Send Webhook Notification", received, read back and applied once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tieline.api import create_app
from tieline.connectors.odoo import OdooClient, OdooSync
from tieline.connectors.odoo.webhooks import PROCESSOR, register_odoo_webhooks
from tieline.delivery import Scheme, add_source, inbound_consumer
from tieline.delivery.inbound import reset_processors
from tieline.events import ConsumerWorker, SqlLogBus
from tieline.events.deadletters import DeadLetterFilter, list_dead_letters
from tieline.model import Supplier
from tieline.retry import RetryPolicy
from tieline.store import Store, Transaction
from tieline.store._schema import outbox
from tieline.testing.odoo_double import OdooDouble
from tieline.testing.waiting import drain

from .conftest import OdooTarget

pytestmark = pytest.mark.odoo

QUICK = RetryPolicy(initial_delay=0.05, max_delay=0.2, max_attempts=20)


@pytest.fixture
def api(store: Store) -> Iterator[TestClient]:
    """The API over `store`, and no processor left registered after."""
    with TestClient(create_app(store)) as running:
        yield running
    reset_processors()
    _buses.pop(id(store), None)


def _body(partner: dict[str, Any]) -> bytes:
    # What Odoo posts: its chosen fields plus _model, _id and _action, sorted.
    return json.dumps(
        {
            "_action": "Send Webhook Notification(#9)",
            "_id": partner["id"],
            "_model": "res.partner",
            "id": partner["id"],
            "name": partner["name"],
            "write_date": partner["write_date"],
        },
        sort_keys=True,
    ).encode()


_buses: dict[int, SqlLogBus] = {}


def _process(store: Store) -> ConsumerWorker:
    """Run the inbound consumer until it settled every inbound message."""
    # One bus per store: the SQL log leases a consumer's feed to one reader.
    bus = _buses.setdefault(id(store), SqlLogBus(store, poll_interval=0.01))
    consumer = inbound_consumer()
    consumer = type(consumer)(
        consumer.name, consumer.patterns, consumer.handler, retry=QUICK
    )
    worker = ConsumerWorker(store, bus, [consumer], fetch_timeout=0.5)
    (feed,) = bus.feeds(consumer.subscription)
    try:
        drain(store, worker, consumer, feed)
    finally:
        worker.close()
    return worker


def _supplier_events(store: Store) -> list[str]:
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.type).where(outbox.c.type.like("tieline.supplier.%"))
        ).all()
    return [row.type for row in rows]


def _new_vendor(client: OdooClient, name: str) -> dict[str, Any]:
    partner = client.create(
        "res.partner", {"name": name, "is_company": True, "supplier_rank": 1}
    )
    (row,) = client.read("res.partner", [partner], ["id", "name", "write_date"])
    return row


def test_a_burst_of_notifications_is_read_once_and_applied_like_a_pull(
    odoo: OdooTarget, store: Store, api: TestClient
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        processor = register_odoo_webhooks("odoo", sync, delay=0.1)
        source = add_source(store, "odoo", Scheme.TOKEN)
        url = f"/hooks/odoo/{source.secret}"
        vendor = _new_vendor(client, f"Cascade Rebar {odoo.tag}")

        # When Odoo sends 14 identical notifications and one with another body
        body = _body(vendor)
        answers = [api.post(url, content=body).status_code for _ in range(14)]
        other = _body({**vendor, "name": vendor["name"] + " "})
        answers.append(api.post(url, content=other).status_code)
        _process(store)

        # Then the receiver kept two messages, and Odoo was read once for both
        assert answers == [202] + [200] * 13 + [202]
        assert processor.reads == 1
        with store.transaction() as tx:
            suppliers = [s for s in tx.list(Supplier) if s.legal_name == vendor["name"]]
        assert len(suppliers) == 1
        assert _supplier_events(store) == ["tieline.supplier.created"]

        # And a pull of the same change applies nothing more
        with store.transaction() as tx:
            pulled = sync.pull_suppliers(tx)
        assert pulled.changed == 0
        assert _supplier_events(store) == ["tieline.supplier.created"]

        # When the vendor changes in Odoo and Odoo notifies again
        client.write("res.partner", [vendor["id"]], {"vat": f"US{odoo.tag}"})
        (changed,) = client.read("res.partner", [vendor["id"]], ["write_date"])
        api.post(url, content=_body({**vendor, **changed, "name": "x"}))
        _process(store)

        # Then the change is applied once, as an update
        assert processor.reads == 2
        assert _supplier_events(store) == [
            "tieline.supplier.created",
            "tieline.supplier.updated",
        ]


def test_a_record_not_yet_committed_is_read_when_it_appears(
    odoo: OdooTarget,
    double: OdooDouble,
    store: Store,
    api: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        register_odoo_webhooks("odoo", sync, delay=0.0, not_visible_retry=0.05)
        source = add_source(store, "odoo", Scheme.TOKEN)
        first = _new_vendor(client, f"Alder Steel {odoo.tag}")
        # Given a notification for the next partner, sent before Odoo committed
        # it (the double hands out ids in order)
        pending = {**first, "id": first["id"] + 1, "name": f"Birch Glass {odoo.tag}"}
        api.post(f"/hooks/odoo/{source.secret}", content=_body(pending))

        # When Odoo commits the partner just after the first read missed it
        missed: list[int] = []
        read_and_apply = sync.apply_partner

        def commit_after_a_miss(tx: Transaction, odoo_id: int) -> int | None:
            applied = read_and_apply(tx, odoo_id)
            if applied is None and not missed:
                missed.append(odoo_id)
                _new_vendor(client, f"Birch Glass {odoo.tag}")
            return applied

        monkeypatch.setattr(sync, "apply_partner", commit_after_a_miss)
        worker = _process(store)

        # Then it was retried, then applied
        assert missed == [pending["id"]]
        assert worker.stats.get("inbound", "retried") == 1
        assert list_dead_letters(store, DeadLetterFilter(consumer="inbound")) == []
        with store.transaction() as tx:
            names = {s.legal_name for s in tx.list(Supplier)}
        assert f"Birch Glass {odoo.tag}" in names


def test_a_notification_for_a_model_not_applied_yet_is_dead_lettered(
    odoo: OdooTarget, store: Store, api: TestClient
) -> None:
    with odoo.client() as client:
        register_odoo_webhooks("odoo", OdooSync(client, instance="main"), delay=0.0)
        source = add_source(store, "odoo", Scheme.TOKEN)
        body = json.dumps({"_id": 7, "_model": "purchase.order"}).encode()
        api.post(f"/hooks/odoo/{source.secret}", content=body)

        _process(store)

        (letter,) = list_dead_letters(store, DeadLetterFilter(consumer="inbound"))
        assert letter.reason == (
            "PermanentError is permanent: "
            "Odoo webhooks for purchase.order are not applied yet"
        )


def test_a_second_source_bound_to_the_odoo_processor_goes_through_it(
    odoo: OdooTarget, store: Store, api: TestClient
) -> None:
    with odoo.client() as client:
        # Given the hub's Odoo source, and a second one bound to its processor
        # (as `tieline hooks add-source ... --processor odoo` makes it)
        processor = register_odoo_webhooks(
            "odoo-main", OdooSync(client, instance="main"), delay=0.0
        )
        add_source(store, "odoo-main", Scheme.TOKEN)
        second = add_source(store, "odoo-rule-2", Scheme.TOKEN, processor=PROCESSOR)
        vendor = _new_vendor(client, f"Hemlock Joinery {odoo.tag}")

        # When Odoo notifies on the second source's URL
        answer = api.post(f"/hooks/odoo-rule-2/{second.secret}", content=_body(vendor))
        _process(store)

        # Then the Odoo processor read and applied it
        assert answer.status_code == 202
        assert processor.reads == 1
        assert _supplier_events(store) == ["tieline.supplier.created"]
        assert list_dead_letters(store, DeadLetterFilter(consumer="inbound")) == []


def test_a_notification_odoo_rolled_back_holds_up_nothing_and_is_let_go(
    odoo: OdooTarget,
    store: Store,
    api: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        register_odoo_webhooks(
            "odoo", sync, delay=0.0, not_visible_retry=0.05, give_up_after=0.5
        )
        source = add_source(store, "odoo", Scheme.TOKEN)
        vendor = _new_vendor(client, f"Cedar Roofing {odoo.tag}")
        # Given a notification for a partner Odoo never committed (it sends
        # before it commits, and this change was rolled back), then one for a
        # partner that exists
        phantom = {**vendor, "id": 10**9, "name": f"Rolled Back {odoo.tag}"}
        api.post(f"/hooks/odoo/{source.secret}", content=_body(phantom))
        api.post(f"/hooks/odoo/{source.secret}", content=_body(vendor))

        calls: list[tuple[int, bool]] = []
        read_and_apply = sync.apply_partner

        def noted(tx: Transaction, odoo_id: int) -> int | None:
            applied = read_and_apply(tx, odoo_id)
            calls.append((odoo_id, applied is not None))
            return applied

        monkeypatch.setattr(sync, "apply_partner", noted)

        # When the inbound consumer works through both
        _process(store)

        # Then the real partner was applied while the phantom still waited,
        # and the phantom was let go without a dead letter
        applied_at = calls.index((vendor["id"], True))
        phantom_tries = [i for i, call in enumerate(calls) if call[0] == 10**9]
        assert len(phantom_tries) >= 2
        assert applied_at < phantom_tries[-1]
        assert _supplier_events(store) == ["tieline.supplier.created"]
        assert list_dead_letters(store, DeadLetterFilter(consumer="inbound")) == []
