"""A crash between Odoo's answer to a create and the binding's commit never
leaves a second partner, order or bill after the retry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tieline.connectors.odoo import OdooClient, OdooResponseLost, OdooSync
from tieline.store import Store, Transaction
from tieline.testing.odoo_double import Fault, OdooDouble

from .chain import Chain, build_chain
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo

Push = Callable[[OdooSync, Transaction, Chain, str], Any]


def _push_partner(sync: OdooSync, tx: Transaction, chain: Chain, tag: str) -> Any:
    return sync.push_supplier(tx, chain.supplier)


def _push_order(sync: OdooSync, tx: Transaction, chain: Chain, tag: str) -> Any:
    return sync.push_commitment(tx, chain.commitment)


def _push_bill(sync: OdooSync, tx: Transaction, chain: Chain, tag: str) -> Any:
    invoice = chain.invoice(f"INV-{tag}")
    tx.save(invoice, actor="test")
    return sync.push_invoice(tx, invoice)


def _count(client: OdooClient, what: str, chain: Chain, tag: str) -> int:
    domains = {
        "res.partner": [("name", "=", chain.supplier.legal_name)],
        "purchase.order": [("origin", "=", chain.commitment.number)],
        "account.move": [("ref", "=", f"INV-{tag}")],
    }
    return len(client.search(what, domains[what], context={"active_test": False}))


CASES = [
    pytest.param("res.partner", _push_partner, id="partner"),
    pytest.param("purchase.order", _push_order, id="order"),
    pytest.param("account.move", _push_bill, id="bill"),
]


def _prepare(sync: OdooSync, store: Store, chain: Chain, model: str) -> None:
    # A bill needs its order (and receipt) in Odoo first.
    if model == "account.move":
        with store.transaction() as tx:
            sync.push_commitment(tx, chain.commitment)


class Crash(Exception):
    """The hub dies after Odoo answered and before the store committed."""


@pytest.mark.parametrize(("model", "push"), CASES)
def test_a_crash_before_the_binding_commits_leaves_one_record(
    odoo: OdooTarget, store: Store, model: str, push: Push
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        _prepare(sync, store, chain, model)

        # Given a push whose store transaction dies after Odoo created the record
        with pytest.raises(Crash), store.transaction() as tx:  # noqa: PT012
            push(sync, tx, chain, odoo.tag)
            raise Crash

        # When the push runs again after the restart
        with store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # Then Odoo holds exactly one record
        assert _count(client, model, chain, odoo.tag) == 1


@pytest.mark.parametrize(("model", "push"), CASES)
def test_a_lost_answer_to_create_leaves_one_record_after_retry(
    double: OdooDouble, odoo: OdooTarget, store: Store, model: str, push: Push
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        _prepare(sync, store, chain, model)

        # Given Odoo commits the create but its answer never arrives
        double.inject(Fault("lose", model=model, method="create"))
        with pytest.raises(OdooResponseLost), store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # When the push is retried
        with store.transaction() as tx:
            push(sync, tx, chain, odoo.tag)

        # Then there is one record, found again by its natural key
        assert _count(client, model, chain, odoo.tag) == 1
