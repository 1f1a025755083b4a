"""Bindings: writing one twice is a no-op, a conflicting one names both sides."""

from __future__ import annotations

import pytest

from tieline.connectors.odoo import BindingMismatch
from tieline.connectors.odoo._binder import Binder
from tieline.store import Store


def _bind(store: Store, canonical_id: str, odoo_id: int) -> None:
    with store.transaction() as tx:
        Binder(tx.connection, "main").bind(
            "res.partner", canonical_id, odoo_id, kind="supplier", external_id=None
        )


def _bound(store: Store) -> dict[int, str]:
    with store.transaction() as tx:
        return Binder(tx.connection, "main").bound("res.partner")


def test_binding_the_same_records_again_changes_nothing(store: Store) -> None:
    _bind(store, "s-1", 7)

    _bind(store, "s-1", 7)

    assert _bound(store) == {7: "s-1"}


def test_an_odoo_record_bound_to_another_supplier_is_refused_naming_both(
    store: Store,
) -> None:
    _bind(store, "s-1", 7)

    with pytest.raises(BindingMismatch) as refused:
        _bind(store, "s-2", 7)

    assert str(refused.value).startswith(
        "res.partner 7 on Odoo main is bound to supplier s-1 already, so it "
        "cannot stand for supplier s-2 as well"
    )
    assert _bound(store) == {7: "s-1"}


def test_a_supplier_bound_to_another_odoo_record_is_refused_naming_both(
    store: Store,
) -> None:
    _bind(store, "s-1", 7)

    with pytest.raises(BindingMismatch) as refused:
        _bind(store, "s-1", 8)

    assert str(refused.value).startswith(
        "supplier s-1 is bound to res.partner 7 on Odoo main already, not to 8"
    )


def test_a_binding_to_a_deleted_odoo_record_makes_way_for_the_new_one(
    store: Store,
) -> None:
    _bind(store, "s-1", 7)
    with store.transaction() as tx:
        Binder(tx.connection, "main").mark_deleted("res.partner", 7)

    _bind(store, "s-1", 8)

    assert _bound(store) == {8: "s-1"}
