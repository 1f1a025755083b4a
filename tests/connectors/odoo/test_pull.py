"""Pulling suppliers from Odoo by write_date: nothing lost, nothing twice."""

from __future__ import annotations

from datetime import datetime

import pytest

from tieline.connectors.odoo import OdooSync
from tieline.model import Supplier, SupplierStatus
from tieline.store import Store

from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


def _suppliers(store: Store, tag: str) -> dict[str, Supplier]:
    with store.transaction() as tx:
        return {s.legal_name: s for s in tx.list(Supplier) if tag in s.legal_name}


def test_a_pull_picks_up_each_change_once(odoo: OdooTarget, store: Store) -> None:
    if odoo.double is not None:
        # Make "the same second" certain on the double; a real Odoo gets the
        # writes below within one second most of the time, and the
        # assertions hold either way.
        odoo.double.set_clock(datetime(2026, 12, 3, 15, 49, 36))  # noqa: DTZ001 - naive UTC
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        first = client.create(
            "res.partner",
            {"name": f"Alpha {odoo.tag}", "is_company": True, "supplier_rank": 1},
        )
        with store.transaction() as tx:
            pulled = sync.pull_suppliers(tx)
        assert pulled.changed >= 1
        assert set(_suppliers(store, odoo.tag)) == {f"Alpha {odoo.tag}"}

        # Given two more changes in the same second as the watermark, and an archive
        second = client.create(
            "res.partner",
            {"name": f"Bravo {odoo.tag}", "is_company": True, "supplier_rank": 1},
        )
        client.write("res.partner", [first], {"name": f"Alpha Renamed {odoo.tag}"})
        client.call("res.partner", "action_archive", [second])

        # When pulled (twice)
        with store.transaction() as tx:
            sync.pull_suppliers(tx)
        with store.transaction() as tx:
            again = sync.pull_suppliers(tx)

        # Then each change is there once, the archived one included
        suppliers = _suppliers(store, odoo.tag)
        assert set(suppliers) == {f"Alpha Renamed {odoo.tag}", f"Bravo {odoo.tag}"}
        assert suppliers[f"Bravo {odoo.tag}"].status is SupplierStatus.BLOCKED
        assert suppliers[f"Alpha Renamed {odoo.tag}"].changed_by == "odoo:main"
        assert suppliers[f"Alpha Renamed {odoo.tag}"].version == 2
        assert again.changed == 0


def test_a_partner_deleted_in_odoo_is_found_by_reconciling_ids(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        partner = client.create(
            "res.partner",
            {"name": f"Doomed {odoo.tag}", "is_company": True, "supplier_rank": 1},
        )
        with store.transaction() as tx:
            sync.pull_suppliers(tx)

        client.call("res.partner", "unlink", [partner])
        with store.transaction() as tx:
            result = sync.pull_suppliers(tx)

        assert result.deleted == 1
        assert (
            _suppliers(store, odoo.tag)[f"Doomed {odoo.tag}"].status
            is SupplierStatus.BLOCKED
        )
