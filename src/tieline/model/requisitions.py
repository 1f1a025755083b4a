"""Requisitions: a request from site or project controls to buy something.

Added for the requisition-to-order workflow (issue "Governed construction
workflows"): a requisition is approved by a person under the approval policy
and then becomes a commitment; until then it commits nothing and no report
counts it.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.errors import ValidationFailed
from tieline.model._base import CanonicalRecord, check_rounded
from tieline.model._types import Amount, CurrencyCode, NonNegative, Percent
from tieline.model.commitments import CommitmentType


class RequisitionStatus(enum.StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ORDERED = "ordered"


class RequisitionLine(BaseModel):
    """One thing asked for: a quantity at an expected unit price, coded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_key: str = Field(min_length=1)
    description: str = ""
    cost_code: str = Field(min_length=1)
    quantity: NonNegative
    unit: str | None = None
    unit_price: Amount
    amount: Amount


class Requisition(CanonicalRecord):
    """A request to buy from a supplier for a project; approved, it is ordered.

    `requested_by` is the requester's login as the sending system knows it
    (`origin.system` says which system); the workflow maps it to a person.
    A subcontract's retention (rate, cap, release terms) is carried onto the
    commitment it becomes; a purchase order holds none.
    """

    kind: ClassVar[str] = "requisition"

    number: str = Field(min_length=1)
    legal_entity_id: str
    project_id: str
    supplier_id: str
    requested_by: str = Field(min_length=1)
    commitment_type: CommitmentType = CommitmentType.PURCHASE_ORDER
    currency: CurrencyCode
    status: RequisitionStatus = RequisitionStatus.SUBMITTED
    description: str = ""
    retention_percent: Percent = Decimal(0)
    retention_cap: NonNegative | None = None
    retention_terms: str = Field(default="", max_length=500)
    lines: list[RequisitionLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        record = f"requisition {self.number}"
        if self.commitment_type is CommitmentType.PURCHASE_ORDER:
            for name in ("retention_percent", "retention_cap", "retention_terms"):
                if getattr(self, name):
                    raise ValidationFailed(
                        "retention is held on subcontracts only; send "
                        "commitment_type subcontract",
                        record=record,
                        field=name,
                    )
        if self.retention_cap is not None:
            check_rounded(
                self.retention_cap, self.currency, field="retention_cap", record=record
            )
        for index, line in enumerate(self.lines):
            check_rounded(
                line.amount,
                self.currency,
                field=f"lines[{index}].amount",
                record=record,
            )
        return self

    def total(self) -> Decimal:
        """The sum of the lines' amounts."""
        return sum((line.amount for line in self.lines), Decimal(0))
