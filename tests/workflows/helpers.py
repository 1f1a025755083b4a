"""Builders for orders, receipts and invoices in workflow tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    GoodsReceipt,
    InvoiceLine,
    Origin,
    ReceiptLine,
    SupplierInvoice,
)
from tieline.money import round_money

from .conftest import Flow, origin

D = Decimal


def award(
    flow: Flow, number: str, quantity: str, price: str, *, system: str = "odoo"
) -> Commitment:
    """An approved order of one line on 27 15 00, saved.

    Made in Odoo by default (so the workflows push nothing); from another
    `system` (project controls), the workflows push it to the ERP.
    """
    order = Commitment(
        origin=origin(number, system),
        number=number,
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id=flow.entity.id,
        project_id=flow.project.id,
        supplier_id=flow.supplier.id,
        currency=flow.currency,
        status=CommitmentStatus.APPROVED,
        lines=[
            CommitmentLine(
                line_key="1",
                project_id=flow.project.id,
                cost_code="27 15 00",
                quantity=D(quantity),
                unit_price=D(price),
                amount=D(quantity) * D(price),
            )
        ],
    )
    flow.save(order)
    return order


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
                    D(qty) * (commitment.line(key).unit_price or D(0)),
                    commitment.currency,
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
    supplier_name: str = "Cascade Concrete LLC",
) -> SupplierInvoice:
    """An invoice on (line key, quantity, unit price, net amount)."""
    net = sum((D(amount) for *_, amount in lines), D(0))
    tax = round_money(net * D(tax_percent) / 100, commitment.currency)
    return SupplierInvoice(
        origin=Origin(system=system, key=key or reference),
        supplier_reference=reference,
        supplier_id=commitment.supplier_id,
        supplier_name=supplier_name,
        legal_entity_id=commitment.legal_entity_id,
        project_id=commitment.project_id,
        commitment_id=commitment.id,
        issue_date=date(2026, 3, 9),
        currency=commitment.currency,
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
