"""Each legal entity maps to its own Odoo company."""

from __future__ import annotations

import pytest

from tieline.connectors.odoo import OdooSync
from tieline.model import LegalEntity, Origin
from tieline.store import Store

from .chain import build_chain
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


def test_an_order_of_a_second_company_gets_that_companys_receipt(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        (first,) = client.read(
            "res.company",
            [
                client.read("res.users", [client.uid], ["company_id"])[0]["company_id"][
                    0
                ]
            ],
            ["currency_id"],
        )
        # Given a second company, in the same currency, and a legal entity bound to it
        second = client.create(
            "res.company",
            {
                "name": f"Builder East {odoo.tag}",
                "currency_id": first["currency_id"][0],
            },
        )
        east = LegalEntity(
            origin=Origin(system="test", key=f"East-{odoo.tag}"),
            code=f"X{odoo.tag}",
            name=f"Builder East {odoo.tag}",
            base_currency=chain.entity.base_currency,
        )
        commitment = chain.commitment.model_copy(update={"legal_entity_id": east.id})
        project = chain.project.model_copy(update={"legal_entity_id": east.id})
        with store.transaction() as tx:
            tx.save(east, actor="test")
            tx.save(project, actor="test")
            tx.save(commitment, actor="test")
            sync.bind_legal_entity(tx, east, second)

        # When its commitment is pushed
        with store.transaction() as tx:
            order = sync.push_commitment(tx, commitment)

        # Then the order, and the receipt Odoo made for it, belong to that company
        (po,) = client.read("purchase.order", [order], ["company_id", "picking_ids"])
        assert po["company_id"][0] == second
        (picking,) = client.read(
            "stock.picking", po["picking_ids"], ["picking_type_id", "company_id"]
        )
        assert picking["company_id"][0] == second
        (kind,) = client.read(
            "stock.picking.type", [picking["picking_type_id"][0]], ["company_id"]
        )
        assert kind["company_id"][0] == second
