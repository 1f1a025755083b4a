"""Builders for receipts and invoices in workflow tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tieline.model import (
    Commitment,
    GoodsReceipt,
    InvoiceLine,
    Origin,
    ReceiptLine,
    SupplierInvoice,
)
from tieline.money import round_money

D = Decimal


def receipt(
    commitment: Commitment, number: str, *lines: tuple[str, str], final: bool = False
) -> GoodsReceipt:
    """A confirmed receipt of (line key, quantity) at the order's unit prices."""
    return GoodsReceipt(
        origin=Origin(system="fieldapp", key=number),
        commitment_id=commitment.id,
        number=number,
        received_on=date(2026, 3, 5),
        currency=commitment.currency,
        final=final,
        lines=[
            ReceiptLine(
                commitment_line_key=key,
                quantity=D(qty),
                amount=round_money(
                    D(qty) * (commitment.line(key).unit_price or D(0)), "USD"
                ),
            )
            for key, qty in lines
        ],
    )


def invoice(
    commitment: Commitment,
    reference: str,
    *lines: tuple[str, str | None, str | None, str],
    tax_percent: str = "0",
    key: str | None = None,
    system: str = "peppol",
) -> SupplierInvoice:
    """An invoice on (line key, quantity, unit price, net amount)."""
    net = sum((D(amount) for *_, amount in lines), D(0))
    tax = round_money(net * D(tax_percent) / 100, "USD")
    return SupplierInvoice(
        origin=Origin(system=system, key=key or reference),
        supplier_reference=reference,
        supplier_id=commitment.supplier_id,
        supplier_name="Cascade Concrete LLC",
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        commitment_id=commitment.id,
        issue_date=date(2026, 3, 9),
        currency="USD",
        lines=[
            InvoiceLine(
                line_key=str(index),
                quantity=None if qty is None else D(qty),
                unit_price=None if price is None else D(price),
                net_amount=D(amount),
                commitment_line_key=line_key,
            )
            for index, (line_key, qty, price, amount) in enumerate(lines, 1)
        ],
        net_total=net,
        tax_total=tax,
        gross_total=net + tax,
    )
