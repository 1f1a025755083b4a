"""Progress claims: a subcontractor's valuation of work done, per period."""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.model._base import CanonicalRecord, check_rounded
from tieline.model._types import CurrencyCode, NonNegative, Percent
from tieline.money import round_money


class ClaimStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CERTIFIED = "certified"
    REJECTED = "rejected"
    PAID = "paid"


class ClaimLine(BaseModel):
    """Work done to date on one subcontract line, claimed and certified."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    commitment_line_key: str = Field(min_length=1)
    claimed_to_date: NonNegative
    certified_to_date: NonNegative | None = None
    previously_certified: NonNegative = Decimal(0)


class ProgressClaim(CanonicalRecord):
    """A valuation for one period of a subcontract.

    The amount due is this period's certified work less the retention that
    this period adds: `certified_to_date - previously_certified` summed over
    lines, less `retention_held - previous_retention_held`. Retention is held
    at `retention_percent` of work certified to date, rounded once on the
    total, and never above the contract's cap.
    """

    kind: ClassVar[str] = "progress_claim"

    commitment_id: str
    period: int = Field(ge=1)
    period_end: date
    currency: CurrencyCode
    status: ClaimStatus = ClaimStatus.SUBMITTED
    retention_percent: Percent = Decimal(0)
    retention_cap: NonNegative | None = None
    previous_retention_held: NonNegative = Decimal(0)
    lines: list[ClaimLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        record = f"claim {self.origin.key}"
        for index, line in enumerate(self.lines):
            for name in ("claimed_to_date", "previously_certified"):
                check_rounded(
                    getattr(line, name),
                    self.currency,
                    field=f"lines[{index}].{name}",
                    record=record,
                )
        return self

    def certified_to_date(self) -> Decimal:
        """Work certified to date over all lines (claimed, if not yet certified)."""
        return sum(
            (
                line.certified_to_date
                if line.certified_to_date is not None
                else line.claimed_to_date
                for line in self.lines
            ),
            Decimal(0),
        )

    def retention_held(self) -> Decimal:
        """Retention held to date: the rate on certified work, up to the cap."""
        held = round_money(
            self.certified_to_date() * self.retention_percent / 100, self.currency
        )
        if self.retention_cap is not None:
            held = min(held, self.retention_cap)
        return held

    def amount_due(self) -> Decimal:
        """What this period's certificate pays, after retention."""
        previously = sum((line.previously_certified for line in self.lines), Decimal(0))
        gross = self.certified_to_date() - previously
        return gross - (self.retention_held() - self.previous_retention_held)
