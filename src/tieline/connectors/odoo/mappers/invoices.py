"""Supplier invoice / credit note <-> vendor bill (account.move in_invoice /
in_refund), linked to the order lines and posted when approved.

TODO: tax categories are not mapped to Odoo taxes yet: bill lines go with no
tax, so Odoo's total is the net amount and the tax must be added in Odoo by
hand; until then a bill's tax differs from the invoice's.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import Mapper
from tieline.model import InvoiceLine, InvoiceType
from tieline.model.invoices import SupplierInvoice


class InvoiceMapper(Mapper):
    """Bill header and lines; a line billing an order line keeps the link."""

    model: ClassVar[str] = "account.move"
    direct = (
        ("supplier_reference", "ref"),
        ("issue_date", "invoice_date"),
        ("due_date", "invoice_date_due"),
    )

    def move_type(self, invoice: SupplierInvoice) -> str:
        """in_refund for a credit note, in_invoice otherwise."""
        return (
            "in_refund"
            if invoice.invoice_type is InvoiceType.CREDIT_NOTE
            else "in_invoice"
        )

    def to_odoo(
        self,
        invoice: SupplierInvoice,
        *,
        partner_id: int,
        company_id: int,
        currency_id: int,
        line_values: Callable[[InvoiceLine], dict[str, Any]],
    ) -> dict[str, Any]:
        """Values of the bill with its lines."""
        values = self.direct_to_odoo(invoice)
        if not values["invoice_date_due"]:
            values.pop("invoice_date_due")
        values.update(
            move_type=self.move_type(invoice),
            partner_id=partner_id,
            company_id=company_id,
            currency_id=currency_id,
            invoice_line_ids=[[0, 0, line_values(line)] for line in invoice.lines],
        )
        return values

    def line(
        self,
        line: InvoiceLine,
        *,
        product_id: int,
        purchase_line_id: int | None,
        analytic: dict[str, Decimal] | None,
    ) -> dict[str, Any]:
        """One bill line: quantity and price give exactly the net amount."""
        if (
            line.quantity
            and line.unit_price is not None
            and (line.quantity * line.unit_price == line.net_amount)
        ):
            quantity, price = line.quantity, line.unit_price
        else:
            quantity, price = Decimal(1), line.net_amount
        values: dict[str, Any] = {
            "product_id": product_id,
            "name": line.description or line.line_key,
            "quantity": quantity,
            "price_unit": price,
            "tax_ids": [[6, 0, []]],
            "analytic_distribution": analytic or False,
        }
        if purchase_line_id is not None:
            values["purchase_line_id"] = purchase_line_id
        return values

    def natural_key(self, invoice: SupplierInvoice, *, partner_id: int) -> list[Any]:
        """A bill of this vendor with the same vendor reference and type."""
        return [
            ("move_type", "=", self.move_type(invoice)),
            ("partner_id", "=", partner_id),
            ("ref", "=", invoice.supplier_reference),
        ]
