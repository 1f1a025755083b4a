"""Payments to suppliers, allocated to the invoices they settle."""

from __future__ import annotations

import enum
from datetime import date
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.errors import ValidationFailed
from tieline.model._base import CanonicalRecord, check_rounded
from tieline.model._types import Amount, CurrencyCode


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"


class PaymentAllocation(BaseModel):
    """The part of a payment that settles one invoice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    invoice_id: str
    amount: Amount


class Payment(CanonicalRecord):
    """Money paid to a supplier, and which invoices it settles."""

    kind: ClassVar[str] = "payment"

    legal_entity_id: str
    supplier_id: str
    reference: str = Field(min_length=1)
    paid_on: date
    currency: CurrencyCode
    amount: Amount
    status: PaymentStatus = PaymentStatus.PAID
    allocations: list[PaymentAllocation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_allocations(self) -> Self:
        record = f"payment {self.reference}"
        check_rounded(self.amount, self.currency, field="amount", record=record)
        allocated = sum((a.amount for a in self.allocations), self.amount * 0)
        if allocated > self.amount:
            raise ValidationFailed(
                f"allocations {allocated} exceed the payment {self.amount}",
                record=record,
                field="allocations",
            )
        return self
