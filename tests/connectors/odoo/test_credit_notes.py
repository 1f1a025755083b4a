"""Credit notes go to Odoo as vendor refunds in positive amounts, as Odoo
makes them (recording 065); Odoo refuses to post a negative bill."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tieline.connectors.odoo import OdooSync, OdooUserError
from tieline.errors import ValidationFailed
from tieline.model import InvoiceLine, InvoiceStatus, InvoiceType, Origin
from tieline.model.invoices import SupplierInvoice
from tieline.store import Store

from .chain import Chain, build_chain
from .conftest import OdooTarget

pytestmark = pytest.mark.odoo

NEGATIVE_TOTAL = (
    "You cannot validate an invoice with a negative total amount. You should "
    "create a credit note instead. Use the action menu to transform it into a "
    "credit note or refund."
)


def _credit_note(chain: Chain, reference: str, sign: int) -> SupplierInvoice:
    """An approved credit note of two lines (12.00 and 30.50), written in
    positive amounts (`sign` 1) or in negative ones (`sign` -1)."""
    lines = [
        InvoiceLine(
            line_key=str(index),
            description=f"returned {index}",
            quantity=Decimal(quantity * sign),
            unit_price=Decimal(price),
            net_amount=Decimal(price) * quantity * sign,
            project_id=chain.project.id,
            cost_code=chain.codes[0].code,
        )
        for index, (quantity, price) in enumerate(((1, "12.00"), (5, "6.10")), 1)
    ]
    net = sum((line.net_amount for line in lines), Decimal(0))
    return SupplierInvoice(
        origin=Origin(system="test", key=reference),
        invoice_type=InvoiceType.CREDIT_NOTE,
        supplier_reference=reference,
        supplier_id=chain.supplier.id,
        supplier_name=chain.supplier.legal_name,
        legal_entity_id=chain.entity.id,
        issue_date=date(2026, 12, 3),
        currency=chain.commitment.currency,
        status=InvoiceStatus.APPROVED,
        lines=lines,
        net_total=net,
        tax_total=Decimal(0),
        gross_total=net,
    )


@pytest.mark.parametrize("sign", [1, -1], ids=["positive", "negative"])
def test_a_credit_note_is_a_posted_refund_at_its_positive_total(
    odoo: OdooTarget, store: Store, sign: int
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        # Given a credit note of 42.50, as its supplier wrote it
        note = _credit_note(chain, f"CN-{odoo.tag}", sign)
        with store.transaction() as tx:
            tx.save(note, actor="test")

        # When it is pushed
        with store.transaction() as tx:
            refund = sync.push_invoice(tx, note)

        # Then Odoo holds a posted vendor refund of 42.50, lines positive
        (row,) = client.read(
            "account.move",
            [refund],
            ["move_type", "state", "amount_total", "invoice_line_ids"],
        )
        assert (row["move_type"], row["state"]) == ("in_refund", "posted")
        assert Decimal(str(row["amount_total"])) == abs(note.gross_total)
        assert abs(note.gross_total) == Decimal("42.50")
        lines = client.read(
            "account.move.line", row["invoice_line_ids"], ["quantity", "price_unit"]
        )
        assert sorted(
            (Decimal(str(line["quantity"])), Decimal(str(line["price_unit"])))
            for line in lines
        ) == [(1, Decimal("12")), (5, Decimal("6.1"))]


def test_odoo_refuses_to_post_a_bill_with_a_negative_total(odoo: OdooTarget) -> None:
    with odoo.client() as client:
        partner = client.create("res.partner", {"name": f"Vendor {odoo.tag}"})
        bill = client.create(
            "account.move",
            {
                "move_type": "in_invoice",
                "partner_id": partner,
                "invoice_date": "2026-12-03",
                "invoice_line_ids": [
                    [0, 0, {"name": "credit", "quantity": -1, "price_unit": 12}]
                ],
            },
        )

        with pytest.raises(OdooUserError) as caught:
            client.call("account.move", "action_post", [bill])

        assert caught.value.odoo_message == NEGATIVE_TOTAL
        (row,) = client.read("account.move", [bill], ["state"])
        assert row["state"] == "draft"


def test_an_invoice_with_a_negative_total_is_refused_before_writing(
    odoo: OdooTarget, store: Store
) -> None:
    with odoo.client() as client:
        sync = OdooSync(client, instance="main")
        chain = build_chain(store, client, sync, odoo.tag)
        # Given an invoice (not a credit note) whose amounts are negative
        note = _credit_note(chain, f"NEG-{odoo.tag}", -1)
        invoice = note.model_copy(update={"invoice_type": InvoiceType.INVOICE})
        moves_before = client.search("account.move", [])

        # When it is pushed
        with store.transaction() as tx, pytest.raises(ValidationFailed) as caught:
            sync.push_invoice(tx, invoice)

        # Then it is refused as a credit note in disguise, and Odoo has no bill
        assert caught.value.field == "invoice_type"
        assert "record it as one" in str(caught.value)
        assert client.search("account.move", []) == moves_before
