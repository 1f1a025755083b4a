"""End to end: supplier, project, cost codes, order, receipts, bill, payment."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tieline.connectors.odoo import OdooClient, OdooSync
from tieline.model import InvoiceStatus, Payment
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store

from .chain import build_chain
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo


def _pay_in_odoo(client: OdooClient, bill: int) -> None:
    # What an accountant does in Odoo: Register Payment on the bill.
    context: dict[str, Any] = {"active_model": "account.move", "active_ids": [bill]}
    wizard = client.create("account.payment.register", {}, context=context)
    client.call(
        "account.payment.register", "action_create_payments", [wizard], context=context
    )


def test_the_procure_to_pay_chain_runs_through_the_connector(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)

        # When the approved commitment is pushed
        with store.transaction() as tx:
            order = sync.push_commitment(tx, chain.commitment)

        # Then Odoo has a confirmed order whose lines carry project and cost code
        (po,) = client.read(
            "purchase.order", [order], ["state", "order_line", "origin"]
        )
        assert (po["state"], po["origin"]) == ("purchase", chain.commitment.number)
        lines = client.read(
            "purchase.order.line",
            po["order_line"],
            ["analytic_distribution", "product_qty", "price_unit"],
        )
        keys = [list(line["analytic_distribution"]) for line in lines]
        assert [len(k) == 1 and len(k[0].split(",")) == 2 for k in keys] == [True, True]
        assert [
            line["analytic_distribution"][k[0]]
            for line, k in zip(lines, keys, strict=True)
        ] == [Decimal(100), Decimal(100)]
        assert [(line["product_qty"], line["price_unit"]) for line in lines] == [
            (Decimal(10), Decimal("118.5")),
            (Decimal(5), Decimal(42)),
        ]

        # When a partial receipt, then the final one, arrive
        with store.transaction() as tx:
            first = sync.push_receipt(
                tx, chain.receipt("GRN-1", {"1": "6", "2": "5"}, final=False)
            )
        backorders = client.search("stock.picking", [("backorder_id", "=", first)])
        assert len(backorders) == 1
        with store.transaction() as tx:
            sync.push_receipt(tx, chain.receipt("GRN-2", {"1": "4"}, final=True))

        # Then Odoo counts everything received
        received = client.read(
            "purchase.order.line", po["order_line"], ["qty_received"]
        )
        assert [r["qty_received"] for r in received] == [Decimal(10), Decimal(5)]

        # When the approved invoice is pushed
        invoice = chain.invoice(f"NW-INV-{odoo.tag}")
        with store.transaction() as tx:
            tx.save(invoice, actor="test")
            bill = sync.push_invoice(tx, invoice)

        # Then a posted bill links the order lines
        (row,) = client.read(
            "account.move",
            [bill],
            ["state", "move_type", "amount_total", "invoice_line_ids", "ref"],
        )
        assert (row["state"], row["move_type"], row["ref"]) == (
            "posted",
            "in_invoice",
            invoice.supplier_reference,
        )
        assert row["amount_total"] == Decimal("1395.00")
        bill_lines = client.read(
            "account.move.line", row["invoice_line_ids"], ["purchase_line_id"]
        )
        assert sorted(line["purchase_line_id"][0] for line in bill_lines) == sorted(
            po["order_line"]
        )

        # When the accountant pays the bill in Odoo and the status is read back
        _pay_in_odoo(client, bill)
        with store.transaction() as tx:
            stored = tx.get(SupplierInvoice, invoice.id)
            assert stored is not None
            assert stored.status is InvoiceStatus.POSTED
            paid = sync.read_payment_status(tx, stored)

        # Then the invoice is paid and the payment is recorded, attributed to Odoo
        assert paid.status is InvoiceStatus.PAID
        with store.transaction() as tx:
            (payment,) = tx.list(Payment)
            reread = tx.get(SupplierInvoice, invoice.id)
        assert payment.amount == Decimal("1395.00")
        assert payment.allocations[0].invoice_id == invoice.id
        assert payment.changed_by == "odoo:main"
        assert reread is not None
        assert reread.status is InvoiceStatus.PAID
