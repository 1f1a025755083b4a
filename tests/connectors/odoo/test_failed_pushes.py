"""A push that cannot go leaves nothing in Odoo; what an interrupted push left
there is recognised by the pull and by the replay, never duplicated."""

from __future__ import annotations

import pytest

from tieline.connectors.odoo import OdooClient, OdooSync
from tieline.errors import ValidationFailed
from tieline.model import Origin, Supplier
from tieline.store import Store

from .chain import build_chain, user_company
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


class Crash(Exception):
    """The hub dies after Odoo answered and before the store committed."""


def _partners(client: OdooClient, name: str) -> list[int]:
    return client.search(
        "res.partner", [("name", "=", name)], context={"active_test": False}
    )


def _suppliers_named(store: Store, name: str) -> list[str]:
    with store.transaction() as tx:
        return [s.id for s in tx.list(Supplier) if s.legal_name == name]


def test_a_commitment_of_a_legal_entity_without_odoo_company_leaves_nothing_in_odoo(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        # Given a legal entity that TIELINE_ODOO_COMPANIES does not map, and
        # that no Odoo company is named after
        chain = build_chain(store, client, None, odoo.tag)
        sync = OdooSync(client, instance="main")

        # When its approved commitment is pushed
        with pytest.raises(ValidationFailed) as failed, store.transaction() as tx:
            sync.push_commitment(tx, chain.commitment)

        # Then it fails naming the legal entity and the setting, and Odoo
        # holds no partner (nor anything else) for it
        message = str(failed.value)
        assert f"legal entity {chain.entity.code}" in message
        assert f"add {chain.entity.code}=<company id or name> to " in message
        assert "TIELINE_ODOO_COMPANIES" in message
        assert _partners(client, chain.supplier.legal_name) == []

        # And once the entity is mapped, the replay pushes one partner and
        # one order, and a pull finds no second supplier
        company, _ = user_company(client)
        mapped = OdooSync(
            client, instance="main", companies={chain.entity.code: company}
        )
        with store.transaction() as tx:
            order = mapped.push_commitment(tx, chain.commitment)
        with store.transaction() as tx:
            mapped.pull_suppliers(tx)
        (partner,) = _partners(client, chain.supplier.legal_name)
        (row,) = client.read("purchase.order", [order], ["partner_id", "company_id"])
        assert (row["partner_id"][0], row["company_id"][0]) == (partner, company)
        assert _suppliers_named(store, chain.supplier.legal_name) == [chain.supplier.id]


def test_a_partner_left_by_an_interrupted_push_is_bound_by_the_pull_and_the_replay(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)

        # Given a push whose store transaction died after Odoo made the partner
        with pytest.raises(Crash), store.transaction() as tx:  # noqa: PT012
            sync.push_supplier(tx, chain.supplier)
            raise Crash

        # When the pull runs, before the push is replayed
        with store.transaction() as tx:
            sync.pull_suppliers(tx)

        # Then the partner is bound to the supplier it was made for: no second
        # supplier is imported from it
        assert _suppliers_named(store, chain.supplier.legal_name) == [chain.supplier.id]

        # When the push is replayed
        with store.transaction() as tx:
            order = sync.push_commitment(tx, chain.commitment)

        # Then it uses that partner: one partner, and the order is its
        (partner,) = _partners(client, chain.supplier.legal_name)
        (row,) = client.read("purchase.order", [order], ["partner_id"])
        assert row["partner_id"][0] == partner


def test_a_partner_with_a_known_suppliers_tax_id_is_bound_to_that_supplier(
    odoo: OdooTarget, store: Store
) -> None:
    # A US employer identification number: it starts with no country code, so
    # Odoo takes it on a partner without a country, VAT checks (base_vat) or not.
    ein = f"47-{int(odoo.tag, 16) % 10_000_000:07d}"
    supplier = Supplier(
        origin=Origin(system="test", key=f"S-{odoo.tag}"),
        legal_name=f"Cascade Steel Erectors {odoo.tag}",
        tax_id=ein.replace("-", ""),
    )
    with store.transaction() as tx:
        tx.save(supplier, actor="test")
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")

        # Given a partner made by hand in Odoo with that supplier's tax id,
        # written its own way, under a shorter name
        client.create(
            "res.partner",
            {
                "name": f"Cascade Steel {odoo.tag}",
                "vat": ein,
                "is_company": True,
                "supplier_rank": 1,
            },
        )

        # When the pull runs
        with store.transaction() as tx:
            sync.pull_suppliers(tx)

        # Then the supplier takes Odoo's name; no second supplier is made
        with store.transaction() as tx:
            mine = [s for s in tx.list(Supplier) if s.tax_id == supplier.tax_id]
        assert [(s.id, s.legal_name) for s in mine] == [
            (supplier.id, f"Cascade Steel {odoo.tag}")
        ]


def test_a_commitment_in_a_currency_inactive_in_odoo_leaves_nothing_in_odoo(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        # Given a commitment in a currency Odoo has but keeps inactive (a new
        # database has EUR and GBP so)
        inactive = client.search_read(
            "res.currency",
            [("active", "=", False)],
            ["name"],
            limit=1,
            context={"active_test": False},
        )
        if not inactive:
            pytest.skip("every currency is active on this Odoo")
        code = inactive[0]["name"]
        chain = build_chain(store, client, sync, odoo.tag)
        commitment = chain.commitment.model_copy(update={"currency": code})

        # When it is pushed
        with pytest.raises(ValidationFailed) as failed, store.transaction() as tx:
            sync.push_commitment(tx, commitment)

        # Then it fails naming the currency and what to do, before any write
        assert failed.value.field == "currency"
        assert f"currency {code} is not active in Odoo main: activate it" in str(
            failed.value
        )
        assert _partners(client, chain.supplier.legal_name) == []
        assert (
            client.search("purchase.order", [("origin", "=", commitment.number)]) == []
        )
