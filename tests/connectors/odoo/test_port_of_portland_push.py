"""The Port of Portland estate's awarded subcontracts, pushed to Odoo.

The bid tabulations are imported with the `port-of-portland` profile; every
approved subcontract then goes to Odoo with its supplier, project, cost codes
and analytic lines. What Odoo holds is read back through the client.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tieline.connectors.odoo import OdooClient, OdooSync
from tieline.connectors.odoo._binder import Binder
from tieline.intake import run_import
from tieline.model import Commitment, CommitmentType, LegalEntity, Supplier
from tieline.store import Store

from .conftest import OdooTarget

pytestmark = [pytest.mark.odoo, pytest.mark.shared_data]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """An embedded store of its own: the estate is large, and what is under
    test is the connector, so the store contract's matrix is not repeated."""
    opened = Store(f"sqlite:///{tmp_path / 'portland.db'}")
    opened.migrate()
    yield opened
    opened.close()


def _import(store: Store, shared_data: Path, runs: Path) -> list[Commitment]:
    run_import(
        store,
        "port-of-portland",
        [shared_data / "port-of-portland-bid-tabs"],
        runs_dir=runs,
    )
    with store.transaction() as tx:
        return list(tx.list(Commitment, status="approved"))


def _bind_entities(store: Store, client: OdooClient, sync: OdooSync) -> None:
    (user,) = client.read("res.users", [client.uid], ["company_id"])
    with store.transaction() as tx:
        for entity in tx.list(LegalEntity):
            sync.bind_legal_entity(tx, entity, user["company_id"][0])


def _push_all(store: Store, sync: OdooSync, awards: list[Commitment]) -> None:
    for commitment in awards:
        with store.transaction() as tx:
            sync.push_commitment(tx, commitment)


def _counts(client: OdooClient) -> dict[str, int]:
    everything = {"active_test": False}
    return {
        model: len(client.search(model, [], context=everything))
        for model in (
            "res.partner",
            "purchase.order",
            "purchase.order.line",
            "account.analytic.account",
        )
    }


def test_every_award_becomes_one_confirmed_order_at_the_award_total(
    odoo: OdooTarget, store: Store, shared_data: Path, tmp_path: Path
) -> None:
    # Given the estate imported: 22 awarded subcontracts from 17 suppliers
    awards = _import(store, shared_data, tmp_path / "runs")
    assert len(awards) == 22
    assert {a.commitment_type for a in awards} == {CommitmentType.SUBCONTRACT}

    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        _bind_entities(store, client, sync)

        # When every award is pushed
        _push_all(store, sync, awards)

        # Then each is one confirmed order at its award total, to the cent
        with store.transaction() as tx:
            binder = Binder(tx.connection, "main")
            orders = {a.id: binder.odoo_id("purchase.order", a.id) for a in awards}
            partners = {
                a.supplier_id: binder.odoo_id("res.partner", a.supplier_id)
                for a in awards
            }
            names = {
                s.id: s.legal_name
                for s in (tx.get(Supplier, a.supplier_id) for a in awards)
                if s is not None
            }
        assert None not in orders.values()
        rows = {
            row["id"]: row
            for row in client.read(
                "purchase.order",
                [o for o in orders.values() if o is not None],
                [
                    "state",
                    "origin",
                    "amount_untaxed",
                    "amount_total",
                    "partner_id",
                    "order_line",
                ],
            )
        }
        by_supplier: dict[int, set[str]] = defaultdict(set)
        for award in awards:
            row = rows[orders[award.id]]
            total = sum((line.amount for line in award.lines), Decimal(0))
            assert (row["state"], row["origin"]) == ("purchase", award.number)
            # Lines name no tax (awards are net), so Odoo adds none of the
            # product's default vendor taxes: its total is the award's.
            assert Decimal(str(row["amount_untaxed"])) == total, award.number
            assert Decimal(str(row["amount_total"])) == total, award.number
            assert len(row["order_line"]) == len(award.lines), award.number
            assert row["partner_id"][0] == partners[award.supplier_id]
            by_supplier[row["partner_id"][0]].add(award.supplier_id)
            same_origin = client.search(
                "purchase.order", [("origin", "=", award.number)]
            )
            assert same_origin == [orders[award.id]], award.number

        # And one partner per awarded supplier, found by name exactly once
        assert len(by_supplier) == len(names) == 17
        assert all(len(s) == 1 for s in by_supplier.values())
        for name in names.values():
            found = client.search(
                "res.partner", [("name", "=", name)], context={"active_test": False}
            )
            assert len(found) == 1, name

        # When everything is pushed a second time, Odoo gains nothing
        before = _counts(client)
        _push_all(store, sync, awards)
        assert _counts(client) == before


def test_order_lines_carry_project_and_cost_code(
    odoo: OdooTarget, store: Store, shared_data: Path, tmp_path: Path
) -> None:
    awards = _import(store, shared_data, tmp_path / "runs")
    award = max(awards, key=lambda a: len(a.lines))
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        _bind_entities(store, client, sync)

        # When the award with the most lines is pushed
        _push_all(store, sync, [award])

        # Then each line's distribution names the project and its cost code
        with store.transaction() as tx:
            binder = Binder(tx.connection, "main")
            order = binder.odoo_id("purchase.order", award.id)
            project = binder.odoo_id("account.analytic.account", award.project_id)
        (row,) = client.read("purchase.order", [order], ["order_line"])
        lines = client.read(
            "purchase.order.line", row["order_line"], ["analytic_distribution"]
        )
        codes = {line.cost_code for line in award.lines}
        accounts: set[str] = set()
        for line in lines:
            (key,) = line["analytic_distribution"]
            ids = key.split(",")
            assert str(project) in ids
            accounts |= set(ids) - {str(project)}
        found = client.read(
            "account.analytic.account", sorted(int(a) for a in accounts), ["code"]
        )
        assert {a["code"] for a in found} == codes
