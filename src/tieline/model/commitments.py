"""Commitments (purchase orders and subcontracts) and their change orders."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.errors import ValidationFailed
from tieline.model._base import CanonicalRecord, check_rounded
from tieline.model._types import Amount, CurrencyCode, NonNegative, Percent, Quantity


class CommitmentType(enum.StrEnum):
    PURCHASE_ORDER = "purchase_order"
    SUBCONTRACT = "subcontract"


class CommitmentStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class CommitmentLine(BaseModel):
    """One line of an order or subcontract, coded to a project and a cost code.

    `amount` is the line's value as agreed (for a bid, the total price as
    written); `quantity * unit_price` need not equal it to the cent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_key: str = Field(min_length=1)
    description: str = ""
    project_id: str
    cost_code: str = Field(min_length=1)
    # An ordered quantity is never negative; a reduction is a change order.
    quantity: NonNegative | None = None
    unit: str | None = None
    unit_price: Amount | None = None
    amount: Amount


class Commitment(CanonicalRecord):
    """A purchase order or subcontract: what the group has agreed to pay."""

    kind: ClassVar[str] = "commitment"

    number: str = Field(min_length=1)
    commitment_type: CommitmentType
    legal_entity_id: str
    project_id: str
    supplier_id: str
    currency: CurrencyCode
    status: CommitmentStatus = CommitmentStatus.DRAFT
    retention_percent: Percent = Decimal(0)
    retention_cap: NonNegative | None = None
    order_date: date | None = None
    description: str = ""
    lines: list[CommitmentLine] = Field(min_length=1)
    # Release terms (added for the valuation workflow): retention is held
    # until completion and released in full then; the date says it was.
    # `retention_terms` keeps the contract's own words for people to read.
    # TODO: staged release (half at practical completion, half after the
    # defects period) is not modelled; such a contract is released in full
    # at completion, and the second half must be held back in Odoo by hand.
    retention_terms: str = Field(default="", max_length=500)
    retention_released_on: date | None = None

    @model_validator(mode="after")
    def _check_lines(self) -> Self:
        seen: set[str] = set()
        for index, line in enumerate(self.lines):
            check_rounded(
                line.amount,
                self.currency,
                field=f"lines[{index}].amount",
                record=f"commitment {self.number}",
            )
            if line.line_key in seen:
                raise ValidationFailed(
                    f"line key {line.line_key!r} appears twice",
                    record=f"commitment {self.number}",
                    field=f"lines[{index}].line_key",
                )
            seen.add(line.line_key)
        return self

    def line(self, line_key: str) -> CommitmentLine:
        """The line keyed `line_key`; raises if the commitment has none."""
        for line in self.lines:
            if line.line_key == line_key:
                return line
        raise ValidationFailed(
            f"no line {line_key!r}", record=f"commitment {self.number}", field="lines"
        )


class ChangeOrderStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class ChangeOrderLine(BaseModel):
    """A change to one commitment line, or a new line when the key is new."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_key: str = Field(min_length=1)
    cost_code: str = Field(min_length=1)
    description: str = ""
    quantity: Quantity | None = None
    amount: Amount


class ChangeOrder(CanonicalRecord):
    """A change to a commitment's value; counts in `committed` once approved."""

    kind: ClassVar[str] = "change_order"

    commitment_id: str
    number: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    currency: CurrencyCode
    status: ChangeOrderStatus = ChangeOrderStatus.DRAFT
    lines: list[ChangeOrderLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        for index, line in enumerate(self.lines):
            check_rounded(
                line.amount,
                self.currency,
                field=f"lines[{index}].amount",
                record=f"change order {self.number}",
            )
        return self
