"""Budgets: the original lines of a project, and revisions that change them."""

from __future__ import annotations

import enum
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tieline.model._base import CanonicalRecord, check_rounded
from tieline.model._types import Amount, CurrencyCode, NonNegative


class BudgetStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


class BudgetLine(BaseModel):
    """One original budget line: an amount against a cost code."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    line_key: str = Field(min_length=1)
    cost_code: str = Field(min_length=1)
    description: str = ""
    quantity: NonNegative | None = None
    unit: str | None = None
    # An original budget line is never negative; cuts are budget revisions.
    amount: NonNegative


class Budget(CanonicalRecord):
    """A project's original budget; only an approved one counts in reports."""

    kind: ClassVar[str] = "budget"

    project_id: str
    currency: CurrencyCode
    status: BudgetStatus = BudgetStatus.DRAFT
    lines: list[BudgetLine] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        for index, line in enumerate(self.lines):
            check_rounded(
                line.amount,
                self.currency,
                field=f"lines[{index}].amount",
                record=f"budget {self.origin.key}",
            )
        return self


class RevisionStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class BudgetRevisionLine(BaseModel):
    """The change a revision makes to one cost code (positive or negative)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cost_code: str = Field(min_length=1)
    amount: Amount
    description: str = ""


class BudgetRevision(CanonicalRecord):
    """A change to a project's budget, with its reason; counts once approved."""

    kind: ClassVar[str] = "budget_revision"

    project_id: str
    number: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    currency: CurrencyCode
    status: RevisionStatus = RevisionStatus.DRAFT
    lines: list[BudgetRevisionLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        for index, line in enumerate(self.lines):
            check_rounded(
                line.amount,
                self.currency,
                field=f"lines[{index}].amount",
                record=f"budget revision {self.number}",
            )
        return self
