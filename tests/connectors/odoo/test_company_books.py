"""Each company keeps its own taxes and journals, in Odoo and in what tieline
sends: an order carries no other company's tax, and a bill goes only to a
company that has a purchase journal.

A company created over RPC gets a warehouse but no chart of accounts (as
recorded in 080): no journal and no tax. Tests make one of their own.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tieline.connectors.odoo import OdooClient, OdooSync, OdooUserError
from tieline.errors import PermanentError
from tieline.model import LegalEntity, Origin
from tieline.store import Store

from .chain import Chain, build_chain, user_company
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


def _taxes_field(client: OdooClient) -> str:
    return client.version.order_line_taxes_field


def _bare_company(client: OdooClient, tag: str) -> tuple[int, str]:
    """A company made over RPC, in the user's currency: no chart of accounts."""
    _, currency = user_company(client)
    (currency_id,) = client.search(
        "res.currency", [("name", "=", currency)], context={"active_test": False}
    )
    name = f"Builder East {tag}"
    return client.create(
        "res.company", {"name": name, "currency_id": currency_id}
    ), name


def _purchase_tax(client: OdooClient, company: int, tag: str) -> int:
    return client.create(
        "account.tax",
        {
            "name": f"VAT 15% {tag}",
            "amount": 15,
            "amount_type": "percent",
            "type_tax_use": "purchase",
            "company_id": company,
        },
    )


def _move_to(
    store: Store, sync: OdooSync, chain: Chain, company: int, name: str
) -> Chain:
    """The chain again, for a legal entity of its own bound to `company`."""
    east = LegalEntity(
        origin=Origin(system="test", key=f"East-{name}"),
        code=f"X{name[-8:]}",
        name=name,
        base_currency=chain.entity.base_currency,
    )
    commitment = chain.commitment.model_copy(update={"legal_entity_id": east.id})
    project = chain.project.model_copy(update={"legal_entity_id": east.id})
    with store.transaction() as tx:
        tx.save(east, actor="test")
        tx.save(project, actor="test")
        tx.save(commitment, actor="test")
        sync.bind_legal_entity(tx, east, company)
    return Chain(east, chain.supplier, project, chain.codes, commitment)


def _order(client: OdooClient, order: int) -> tuple[dict[str, Any], list[Any]]:
    (po,) = client.read(
        "purchase.order",
        [order],
        ["amount_untaxed", "amount_tax", "amount_total", "order_line"],
    )
    lines = client.read("purchase.order.line", po["order_line"], [_taxes_field(client)])
    return po, [line[_taxes_field(client)] for line in lines]


def test_an_order_line_gets_the_products_taxes_of_its_own_company_only(
    odoo: OdooTarget,
) -> None:
    with odoo.client() as client:
        # Given a product whose vendor tax belongs to the user's company
        home, _ = user_company(client)
        tax = _purchase_tax(client, home, odoo.tag)
        product = client.create(
            "product.product",
            {"name": f"Grout {odoo.tag}", "supplier_taxes_id": [[6, 0, [tax]]]},
        )
        partner = client.create("res.partner", {"name": f"Vendor {odoo.tag}"})
        east, _ = _bare_company(client, odoo.tag)

        # When an order of each company buys it, naming no taxes
        orders = {
            company: client.create(
                "purchase.order",
                {
                    "partner_id": partner,
                    "company_id": company,
                    "order_line": [
                        [
                            0,
                            0,
                            {"product_id": product, "product_qty": 2, "price_unit": 50},
                        ]
                    ],
                },
                context={"allowed_company_ids": [company]},
            )
            for company in (home, east)
        }

        # Then the home order's line has the tax, the other company's none
        po, taxes = _order(client, orders[home])
        assert taxes == [[tax]]
        assert (po["amount_untaxed"], po["amount_total"]) == (100.0, 115.0)
        po, taxes = _order(client, orders[east])
        assert taxes == [[]]
        assert po["amount_untaxed"] == po["amount_total"] == 100.0
        client.write("account.tax", [tax], {"active": False})


def test_a_pushed_order_names_no_tax_so_odoo_totals_are_tielines(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        home, _ = user_company(client)
        # Given tieline's goods product exists with a vendor tax as its default
        tax = _purchase_tax(client, home, odoo.tag)
        with store.transaction() as tx:
            product = sync.product_id(tx, "goods")
        client.write("product.product", [product], {"supplier_taxes_id": [[4, tax]]})

        # When the commitment is pushed
        with store.transaction() as tx:
            order = sync.push_commitment(tx, chain.commitment)

        # Then no line carries a tax and Odoo's total is the commitment's
        po, taxes = _order(client, order)
        total = sum((line.amount for line in chain.commitment.lines), Decimal(0))
        assert taxes == [[], []]
        assert Decimal(str(po["amount_untaxed"])) == total
        assert Decimal(str(po["amount_total"])) == total
        client.write("account.tax", [tax], {"active": False})


def test_an_order_of_a_company_without_taxes_is_at_tielines_total(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        home, _ = user_company(client)
        home_taxes = set(client.search("account.tax", [("company_id", "=", home)]))
        east, name = _bare_company(client, odoo.tag)
        chain = _move_to(
            store, sync, build_chain(store, client, sync, odoo.tag), east, name
        )

        # When an order of the company without taxes is pushed
        with store.transaction() as tx:
            order = sync.push_commitment(tx, chain.commitment)

        # Then it carries none of the first company's taxes, and Odoo's
        # total, untaxed, is tieline's
        po, taxes = _order(client, order)
        total = sum((line.amount for line in chain.commitment.lines), Decimal(0))
        assert not {t for line in taxes for t in line} & home_taxes
        assert Decimal(str(po["amount_total"])) == total
        assert Decimal(str(po["amount_untaxed"])) == total


def test_odoo_refuses_a_bill_in_a_company_without_a_purchase_journal(
    odoo: OdooTarget,
) -> None:
    with odoo.client() as client:
        east, name = _bare_company(client, odoo.tag)
        partner = client.create("res.partner", {"name": f"Vendor {odoo.tag}"})

        with pytest.raises(OdooUserError) as caught:
            client.create(
                "account.move",
                {"move_type": "in_invoice", "partner_id": partner, "company_id": east},
                context={"allowed_company_ids": [east]},
            )

        assert caught.value.odoo_message == (
            f"No journal could be found in company {name} for any of those "
            "types: purchase"
        )


def test_a_bill_for_a_company_without_a_purchase_journal_is_refused_before_writing(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        east, name = _bare_company(client, odoo.tag)
        chain = _move_to(
            store, sync, build_chain(store, client, sync, odoo.tag), east, name
        )
        invoice = chain.invoice(f"INV-{odoo.tag}")
        bills_before = client.search("account.move", [], context={"active_test": False})

        # When its invoice is pushed
        with store.transaction() as tx, pytest.raises(PermanentError) as caught:
            sync.push_invoice(tx, invoice)

        # Then the push stops for good, naming the legal entity, the company
        # and Odoo's own words, and Odoo has no new bill
        message = str(caught.value)
        assert f"legal entity {chain.entity.code}" in message
        assert (
            f"No journal could be found in company {name} for any of those "
            "types: purchase"
        ) in message
        after = client.search("account.move", [], context={"active_test": False})
        assert after == bills_before


def test_a_bill_and_its_payment_use_the_journals_of_the_bills_company(
    odoo: OdooTarget, double: object, store: Store
) -> None:
    # The double only: a real Odoo books nothing in a company without a chart
    # of accounts, journals or not, so its second company would need one.
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        east, name = _bare_company(client, odoo.tag)
        journals = {
            kind: client.create(
                "account.journal",
                {"name": f"{kind} {odoo.tag}", "code": code, "type": kind},
                context={"allowed_company_ids": [east]},
            )
            for kind, code in (("purchase", "EBILL"), ("bank", "EBNK"))
        }
        chain = _move_to(
            store, sync, build_chain(store, client, sync, odoo.tag), east, name
        )
        with store.transaction() as tx:
            sync.push_commitment(tx, chain.commitment)

        # When its invoice is pushed and the bill paid in Odoo
        with store.transaction() as tx:
            bill = sync.push_invoice(tx, chain.invoice(f"INV-{odoo.tag}"))
        context: dict[str, Any] = {
            "active_model": "account.move",
            "active_ids": [bill],
            "allowed_company_ids": [east],
        }
        wizard = client.create("account.payment.register", {}, context=context)
        answer = client.call(
            "account.payment.register",
            "action_create_payments",
            [wizard],
            context=context,
        )

        # Then the bill is on the company's purchase journal, the payment on
        # its bank journal, both in that company
        (row,) = client.read("account.move", [bill], ["journal_id", "company_id"])
        assert (row["journal_id"][0], row["company_id"][0]) == (
            journals["purchase"],
            east,
        )
        (payment,) = client.read(
            "account.payment", [answer["res_id"]], ["journal_id", "company_id"]
        )
        assert (payment["journal_id"][0], payment["company_id"][0]) == (
            journals["bank"],
            east,
        )
