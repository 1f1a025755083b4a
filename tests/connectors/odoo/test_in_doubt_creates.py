"""A create whose answer never came is in doubt: Odoo may still commit it.

A retry during the in-doubt window creates nothing; once the first create
has committed, the retry binds that one record; a create that never ran is
made once the window has passed. The windows here are short settings, and
the faults are the double's (these tests skip on a real Odoo).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tieline.connectors.odoo import (
    Limits,
    OdooClient,
    OdooCreateInDoubt,
    OdooResponseLost,
    OdooSync,
    OdooUnavailable,
)
from tieline.connectors.odoo._adapter import external_name
from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo.consumers import PUSH_RETRY
from tieline.model import Supplier
from tieline.store import Store, Transaction
from tieline.testing.odoo_double import Fault, OdooDouble

from .chain import Chain, build_chain
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo

TIMEOUT = 1.0  # how long the client waits for an answer
STALL = 4.0  # how long the double holds the create before running it

Push = Callable[[OdooSync, Transaction, Chain, str], Any]


def _push_partner(sync: OdooSync, tx: Transaction, chain: Chain, tag: str) -> Any:
    return sync.push_supplier(tx, chain.supplier)


def _push_order(sync: OdooSync, tx: Transaction, chain: Chain, tag: str) -> Any:
    return sync.push_commitment(tx, chain.commitment)


def _push_bill(sync: OdooSync, tx: Transaction, chain: Chain, tag: str) -> Any:
    invoice = chain.invoice(f"INV-{tag}")
    tx.save(invoice, actor="test")
    return sync.push_invoice(tx, invoice)


CASES = [
    pytest.param("res.partner", _push_partner, id="partner"),
    pytest.param("purchase.order", _push_order, id="order"),
    pytest.param("account.move", _push_bill, id="bill"),
]


def _count(client: OdooClient, model: str, chain: Chain, tag: str) -> int:
    domains = {
        "res.partner": [("name", "=", chain.supplier.legal_name)],
        "purchase.order": [("origin", "=", chain.commitment.number)],
        "account.move": [("ref", "=", f"INV-{tag}")],
    }
    return len(client.search(model, domains[model], context={"active_test": False}))


def _canonical(chain: Chain, tag: str, model: str) -> tuple[str, str]:
    if model == "res.partner":
        return chain.supplier.kind, chain.supplier.id
    if model == "purchase.order":
        return chain.commitment.kind, chain.commitment.id
    invoice = chain.invoice(f"INV-{tag}")
    return invoice.kind, invoice.id


def _setup(odoo: OdooTarget, store: Store, model: str) -> Chain:
    """The chain's records, and the order in Odoo first when a bill is pushed."""
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        if model == "account.move":
            with store.transaction() as tx:
                sync.push_commitment(tx, chain.commitment)
    return chain


def _impatient(odoo: OdooTarget) -> OdooClient:
    return odoo.client(limits=Limits(calls_per_second=1000, timeout=TIMEOUT))


def _eventually(check: Callable[[], bool], within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


@pytest.mark.parametrize(("model", "push"), CASES)
def test_a_stalled_create_is_made_once_and_bound_when_it_commits(
    double: OdooDouble, odoo: OdooTarget, store: Store, model: str, push: Push
) -> None:
    chain = _setup(odoo, store, model)
    with _impatient(odoo) as client:
        sync = OdooSync(client, instance="main", in_doubt_window=60.0)

        # Given a create Odoo runs only after the client has stopped waiting
        double.inject(Fault("stall", model=model, method="create", seconds=STALL))
        with pytest.raises(OdooResponseLost), store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # When the push is retried at once, while Odoo still holds the create
        with pytest.raises(OdooCreateInDoubt) as waiting, store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # Then no second record is made, and the retry is told how long to wait
        assert _count(client, model, chain, odoo.tag) == 0
        assert waiting.value.retry_after is not None
        assert 0 < waiting.value.retry_after <= 60.0

        # When the first create has committed and the push runs again
        assert _eventually(lambda: _count(client, model, chain, odoo.tag) == 1)
        with store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # Then that one record is bound, and carries tieline's external id
        assert _count(client, model, chain, odoo.tag) == 1
        kind, canonical_id = _canonical(chain, odoo.tag, model)
        with store.transaction() as tx:
            bound = Binder(tx.connection, "main").odoo_id(model, canonical_id)
        stamped = client.search_read(
            "ir.model.data",
            [
                ("module", "=", "tieline"),
                ("name", "=", external_name(kind, canonical_id)),
            ],
            ["res_id", "model"],
        )
        assert bound is not None
        assert [(r["model"], r["res_id"]) for r in stamped] == [(model, bound)]


@pytest.mark.parametrize(("model", "push"), CASES)
def test_a_create_that_never_ran_is_made_once_after_the_window(
    double: OdooDouble, odoo: OdooTarget, store: Store, model: str, push: Push
) -> None:
    window = 2.0
    chain = _setup(odoo, store, model)
    with odoo.client() as client:
        sync = OdooSync(client, instance="main", in_doubt_window=window)

        # Given a create a proxy answered 504 for, without Odoo running it
        double.inject(
            Fault("fail", model=model, method="create", status=504, body="Timeout")
        )
        with pytest.raises(OdooUnavailable) as failed, store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)
        assert failed.value.in_doubt

        # When the push is retried within the window
        with pytest.raises(OdooCreateInDoubt), store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # Then nothing is made yet
        assert _count(client, model, chain, odoo.tag) == 0

        # When the window has passed and the push runs again
        time.sleep(window)
        with store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # Then the record is made, once
        assert _count(client, model, chain, odoo.tag) == 1


def test_a_create_odoo_refused_is_not_in_doubt(
    double: OdooDouble, odoo: OdooTarget, store: Store
) -> None:
    chain = _setup(odoo, store, "res.partner")
    with odoo.client() as client:
        sync = OdooSync(client, instance="main", in_doubt_window=60.0)

        # Given Odoo answering 503 to the create twice more than the client
        # retries (nothing ran: no worker took it)
        double.inject(Fault("fail", model="res.partner", method="create", times=99))
        with pytest.raises(OdooUnavailable), store.transaction() as tx:
            _push_partner(sync, tx, chain, odoo.tag)
        double.faults.clear()

        # When the push is retried at once
        with store.transaction() as tx:
            _push_partner(sync, tx, chain, odoo.tag)

        # Then it creates the partner without waiting out the window
        assert _count(client, "res.partner", chain, odoo.tag) == 1


def test_a_bound_record_without_external_id_is_stamped(
    odoo: OdooTarget, store: Store
) -> None:
    chain = _setup(odoo, store, "res.partner")
    supplier = chain.supplier
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")

        # Given a partner bound to the supplier without tieline's external id
        # (as a pull binds one it matched by tax id)
        partner = client.create(
            "res.partner",
            {"name": supplier.legal_name, "is_company": True, "supplier_rank": 1},
        )
        with store.transaction() as tx:
            Binder(tx.connection, "main").bind(
                "res.partner",
                supplier.id,
                partner,
                kind=supplier.kind,
                external_id=None,
            )

        # When the supplier is pushed
        with store.transaction() as tx:
            assert sync.push_supplier(tx, supplier) == partner

        # Then the partner carries the external id, and the binding says so
        rows = client.search_read(
            "ir.model.data",
            [
                ("module", "=", "tieline"),
                ("name", "=", external_name(supplier.kind, supplier.id)),
            ],
            ["res_id"],
        )
        assert [r["res_id"] for r in rows] == [partner]
        with store.transaction() as tx:
            binder = Binder(tx.connection, "main")
            assert binder.external_id("res.partner", supplier.id) == (
                f"tieline.{external_name(supplier.kind, supplier.id)}"
            )


def test_a_pull_binds_a_partner_whose_create_was_in_doubt_to_its_supplier(
    double: OdooDouble, odoo: OdooTarget, store: Store
) -> None:
    chain = _setup(odoo, store, "res.partner")
    supplier = chain.supplier  # no tax id: found by its name only
    with _impatient(odoo) as client:
        sync = OdooSync(client, instance="main", in_doubt_window=60.0)

        # Given a partner create that committed after the push gave up on it
        double.inject(
            Fault("stall", model="res.partner", method="create", seconds=STALL)
        )
        with pytest.raises(OdooResponseLost), store.transaction() as tx:
            sync.push_supplier(tx, supplier)
        assert _eventually(lambda: _count(client, "res.partner", chain, "") == 1)

        # When a pull reads it before the push is retried, and then the push is
        with store.transaction() as tx:
            sync.pull_suppliers(tx)
        with store.transaction() as tx:
            partner = sync.push_supplier(tx, supplier)

        # Then the pull took it for the supplier it is: one partner, one
        # supplier, bound to each other
        assert _count(client, "res.partner", chain, "") == 1
        with store.transaction() as tx:
            named = [
                s.id for s in tx.list(Supplier) if s.legal_name == supplier.legal_name
            ]
            bound = Binder(tx.connection, "main").canonical_id("res.partner", partner)
        assert named == [supplier.id]
        assert bound == supplier.id


def test_the_push_consumer_retries_a_create_in_doubt_after_its_window() -> None:
    waiting = OdooCreateInDoubt("in doubt", retry_after=120.0)

    verdict = PUSH_RETRY.decide(waiting, attempts=1, age=0.0)

    assert not verdict.give_up
    assert verdict.delay >= 120.0
