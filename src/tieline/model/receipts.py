"""Goods receipts: what arrived on site against which commitment lines."""

from __future__ import annotations

import enum
from datetime import date
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.model._base import CanonicalRecord, check_rounded
from tieline.model._types import Amount, CurrencyCode, NonNegative


class ReceiptStatus(enum.StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"


class ReceiptLine(BaseModel):
    """A quantity received against one commitment line, and its value.

    `amount` is the received quantity at the line's unit price, rounded once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    commitment_line_key: str = Field(min_length=1)
    quantity: NonNegative
    amount: Amount


class GoodsReceipt(CanonicalRecord):
    """One delivery (partial or final) against a commitment."""

    kind: ClassVar[str] = "goods_receipt"

    commitment_id: str
    number: str = Field(min_length=1)
    received_on: date
    currency: CurrencyCode
    status: ReceiptStatus = ReceiptStatus.CONFIRMED
    final: bool = False
    lines: list[ReceiptLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        for index, line in enumerate(self.lines):
            check_rounded(
                line.amount,
                self.currency,
                field=f"lines[{index}].amount",
                record=f"receipt {self.number}",
            )
        return self
