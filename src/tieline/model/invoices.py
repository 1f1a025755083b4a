"""Supplier invoices and credit notes."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.errors import ValidationFailed
from tieline.model._base import CanonicalRecord, check_rounded
from tieline.model._types import Amount, CurrencyCode, Percent, Quantity


class InvoiceType(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(enum.StrEnum):
    RECEIVED = "received"
    UNMATCHED = "unmatched"
    MATCHED = "matched"
    APPROVED = "approved"
    REJECTED = "rejected"
    POSTED = "posted"
    PAID = "paid"


class InvoiceLine(BaseModel):
    """One invoice line, net of tax; amounts are positive on a credit note too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_key: str = Field(min_length=1)
    description: str = ""
    quantity: Quantity | None = None
    unit_price: Amount | None = None
    net_amount: Amount
    tax_category: str | None = None
    tax_percent: Percent | None = None
    commitment_line_key: str | None = None
    project_id: str | None = None
    cost_code: str | None = None


class SupplierInvoice(CanonicalRecord):
    """An invoice or credit note from a supplier, and what it bills.

    Amounts are as on the document (positive); `sign` turns a credit note's
    amounts negative where they are summed. `supplier_reference` is the
    supplier's own invoice number.
    """

    kind: ClassVar[str] = "supplier_invoice"

    invoice_type: InvoiceType = InvoiceType.INVOICE
    supplier_reference: str = Field(min_length=1)
    supplier_id: str | None = None
    supplier_name: str = Field(min_length=1)
    supplier_tax_id: str | None = None
    legal_entity_id: str | None = None
    project_id: str | None = None
    commitment_id: str | None = None
    commitment_reference: str | None = None
    issue_date: date
    due_date: date | None = None
    currency: CurrencyCode
    status: InvoiceStatus = InvoiceStatus.RECEIVED
    status_reason: str | None = None
    lines: list[InvoiceLine] = Field(min_length=1)
    net_total: Amount
    tax_total: Amount
    gross_total: Amount

    @model_validator(mode="after")
    def _check_totals(self) -> Self:
        record = f"invoice {self.supplier_reference}"
        for index, line in enumerate(self.lines):
            check_rounded(
                line.net_amount,
                self.currency,
                field=f"lines[{index}].net_amount",
                record=record,
            )
        for name in ("net_total", "tax_total", "gross_total"):
            check_rounded(getattr(self, name), self.currency, field=name, record=record)
        if self.net_total + self.tax_total != self.gross_total:
            raise ValidationFailed(
                f"net {self.net_total} + tax {self.tax_total} is not gross "
                f"{self.gross_total}",
                record=record,
                field="gross_total",
            )
        return self

    @property
    def sign(self) -> Decimal:
        """+1 for an invoice, -1 for a credit note."""
        return (
            Decimal(-1) if self.invoice_type is InvoiceType.CREDIT_NOTE else Decimal(1)
        )
