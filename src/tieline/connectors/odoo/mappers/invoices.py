"""Supplier invoice / credit note <-> vendor bill (account.move in_invoice /
in_refund), linked to the order lines and posted when approved.

Each line goes at its net amount with the Odoo purchase tax of its rate
(`mappers.taxes`); Odoo computes the tax itself, by its company's rounding
rule, and the bill's totals must then be the invoice's to the cent
(`totals_differ`) before it is posted.

A credit note is an `in_refund` with positive quantities and prices, as Odoo
makes one (recording 065): Odoo refuses to post a bill or refund whose total
is negative. A credit note written in negative amounts (some suppliers send
them so) is turned over: its quantities, or its one-unit prices, change sign,
and its totals are compared as positive ones.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import Mapper, money
from tieline.errors import ValidationFailed
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

    def sign(self, invoice: SupplierInvoice) -> Decimal:
        """-1 for a credit note written in negative amounts, else +1: what
        turns the document's amounts into the positive ones Odoo wants."""
        credit = invoice.invoice_type is InvoiceType.CREDIT_NOTE
        return Decimal(-1) if credit and invoice.gross_total < 0 else Decimal(1)

    def check_sign(self, invoice: SupplierInvoice) -> None:
        """Refuse an invoice (not a credit note) whose total is negative: Odoo
        would make the bill and then refuse to post it."""
        if invoice.invoice_type is InvoiceType.INVOICE and invoice.gross_total < 0:
            raise ValidationFailed(
                f"the invoice's total is {invoice.gross_total} {invoice.currency}, "
                "and Odoo posts no bill with a negative total; it is a credit "
                "note: record it as one (invoice_type credit_note), then replay",
                record=f"invoice {invoice.supplier_reference}",
                field="invoice_type",
            )

    def to_odoo(
        self,
        invoice: SupplierInvoice,
        *,
        partner_id: int,
        company_id: int,
        currency_id: int,
        lines: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """Values of the bill with its lines (values made by `line`)."""
        values = self.direct_to_odoo(invoice)
        if not values["invoice_date_due"]:
            values.pop("invoice_date_due")
        values.update(
            move_type=self.move_type(invoice),
            partner_id=partner_id,
            company_id=company_id,
            currency_id=currency_id,
            invoice_line_ids=[[0, 0, line] for line in lines],
        )
        return values

    def line(
        self,
        line: InvoiceLine,
        *,
        product_id: int,
        purchase_line_id: int | None,
        analytic: dict[str, Decimal] | None,
        tax_ids: list[int],
        sign: Decimal = Decimal(1),
    ) -> dict[str, Any]:
        """One bill line: quantity and price give exactly the net amount
        times `sign` (see `sign`), and `tax_ids` replace whatever taxes the
        product would bring."""
        if (
            line.quantity
            and line.unit_price is not None
            and (line.quantity * line.unit_price == line.net_amount)
        ):
            quantity, price = line.quantity * sign, line.unit_price
        else:
            quantity, price = Decimal(1), line.net_amount * sign
        values: dict[str, Any] = {
            "product_id": product_id,
            "name": line.description or line.line_key,
            "quantity": quantity,
            "price_unit": price,
            "tax_ids": [[6, 0, tax_ids]],
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

    def totals_fields(self) -> list[str]:
        """Bill fields the totals check reads."""
        return ["name", "state", "amount_untaxed", "amount_tax", "amount_total"]

    def totals_differ(
        self, bill: dict[str, Any], invoice: SupplierInvoice
    ) -> str | None:
        """Why Odoo's totals of the bill are not the invoice's, or None."""
        currency = invoice.currency
        net, tax, total = (
            money(bill[name], currency)
            for name in ("amount_untaxed", "amount_tax", "amount_total")
        )
        sign = self.sign(invoice)
        expected = (
            invoice.net_total * sign,
            invoice.tax_total * sign,
            invoice.gross_total * sign,
        )
        if (net, tax, total) == expected:
            return None
        name = bill["name"] if bill["name"] not in (False, "/") else f"id {bill['id']}"
        then = (
            "the bill stays in draft in Odoo; correct its taxes there (or delete "
            "the draft to have it made anew from the invoice), then replay"
            if bill["state"] == "draft"
            else "the bill is posted in Odoo already; settle the difference there"
        )
        turned = " (turned positive, as Odoo keeps it)" if sign < 0 else ""
        return (
            f"Odoo computes bill {name} at net {net} + tax {tax} = {total} "
            f"{currency}, the invoice says net {expected[0]} + tax "
            f"{expected[1]} = gross {expected[2]}{turned}: {then}"
        )
