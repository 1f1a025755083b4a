"""Tax rate <-> account.tax: the company's purchase tax of the line's rate.

An invoice line carries its tax rate (`tax_percent`, from the UBL document's
ClassifiedTaxCategory); a bill line wants Odoo's tax record. The tax chosen
for a rate is an active purchase tax (`type_tax_use` purchase) of the bill's
company or of its parent company, computed as a percentage (`amount_type`
percent) of a price that excludes it (tieline sends net prices), whose
`amount` is the rate. Among several, the company's default purchase tax
comes first, then Odoo's own order (sequence, then id).

A line without a rate goes without tax; that is right only on an invoice
without tax, so an invoice that carries tax and has such a line is refused.

TODO: the line's tax category (UBL's S, Z, E, AE...) is not used: two
purchase taxes of one rate (a standard 21% and a 21% reverse-charge one) are
told apart only by the order above. A wrong pick is never posted (the bill's
totals are checked against the invoice first), but it stops the bill until a
person reorders the taxes in Odoo.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import many2one_id
from tieline.errors import ValidationFailed
from tieline.model.invoices import SupplierInvoice


class TaxMapper:
    """Finds the Odoo purchase tax of each rate an invoice's lines carry."""

    model: ClassVar[str] = "account.tax"

    def rates(self, invoice: SupplierInvoice) -> set[Decimal]:
        """The lines' tax rates; refuses a line without one on a taxed invoice."""
        for index, line in enumerate(invoice.lines):
            if line.tax_percent is None and invoice.tax_total != 0:
                raise ValidationFailed(
                    f"the invoice carries tax of {invoice.tax_total} "
                    f"{invoice.currency}, but line {line.line_key} has no tax "
                    "rate, so Odoo cannot be told which tax it bears",
                    record=f"invoice {invoice.supplier_reference}",
                    field=f"lines[{index}].tax_percent",
                )
        return {
            line.tax_percent for line in invoice.lines if line.tax_percent is not None
        }

    def domain(self, company: int) -> list[Any]:
        """Percentage purchase taxes usable by `company` (a branch uses its
        parent's)."""
        return [
            ("type_tax_use", "=", "purchase"),
            ("amount_type", "=", "percent"),
            ("company_id", "parent_of", company),
        ]

    def fields(self) -> list[str]:
        """Tax fields `pick` reads (`price_include` is read, not searched:
        from Odoo 18 it is computed, from `price_include_override`)."""
        return ["name", "amount", "price_include", "sequence"]

    def company_fields(self) -> list[str]:
        """Company fields `pick` reads."""
        return ["name", "account_purchase_tax_id"]

    def pick(
        self,
        rows: list[dict[str, Any]],
        rate: Decimal,
        company: dict[str, Any],
        *,
        invoice: SupplierInvoice,
    ) -> int:
        """The tax of `rate` among `rows`, or a clear error naming the rate."""
        default = many2one_id(company["account_purchase_tax_id"])
        matching = sorted(
            (
                row
                for row in rows
                if not row["price_include"] and Decimal(str(row["amount"])) == rate
            ),
            key=lambda row: (row["id"] != default, row["sequence"] or 0, row["id"]),
        )
        if not matching:
            raise ValidationFailed(
                f"Odoo company {company['name']} has no purchase tax of "
                f"{rate.normalize():f}% (a percentage, excluded from the price) "
                "for its lines: create one in Odoo (Accounting, Configuration, "
                "Taxes), then replay",
                record=f"invoice {invoice.supplier_reference}",
                field="tax_percent",
            )
        return int(matching[0]["id"])
