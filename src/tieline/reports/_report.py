"""The typed cost report: projects, their cost-code lines, totals and warnings.

These objects hold exact `Decimal` amounts in the project's currency; the
renderers (`tieline.reports._render`) turn them into text.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Self

from tieline.model import CommitmentType


class Figure(enum.StrEnum):
    """A figure the report sums from records (the derived ones are not here)."""

    ORIGINAL_BUDGET = "original_budget"
    APPROVED_CHANGES = "approved_changes"
    COMMITTED = "committed"
    RECEIVED = "received"
    INVOICED = "invoiced"
    PAID = "paid"
    PENDING_BUDGET_CHANGES = "pending_budget_changes"
    PENDING_CHANGE_ORDERS = "pending_change_orders"
    RECEIVED_NOT_INVOICED = "received_not_invoiced"
    OPEN_COMMITMENT = "open_commitment"


# The order amounts appear in, in every format. The first eight are the keys
# the issue fixes; the pending ones follow, then the accrual and the open
# commitment (summed per commitment line, see `tieline.reports._commitments`).
AMOUNT_KEYS: Final[tuple[str, ...]] = (
    "original_budget",
    "approved_changes",
    "revised_budget",
    "committed",
    "received",
    "invoiced",
    "paid",
    "remaining",
    "pending_budget_changes",
    "pending_change_orders",
    "received_not_invoiced",
    "open_commitment",
)

# The amounts of one commitment, in the order they appear in every format.
COMMITMENT_KEYS: Final[tuple[str, ...]] = (
    "committed",
    "received",
    "invoiced",
    "received_not_invoiced",
    "open_commitment",
    "certified_to_date",
    "retention_held",
    "retention_released",
)

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CostAmounts:
    """The amounts of one cost code, or of a whole project."""

    original_budget: Decimal = _ZERO
    approved_changes: Decimal = _ZERO
    committed: Decimal = _ZERO
    received: Decimal = _ZERO
    invoiced: Decimal = _ZERO
    paid: Decimal = _ZERO
    pending_budget_changes: Decimal = _ZERO
    pending_change_orders: Decimal = _ZERO
    received_not_invoiced: Decimal = _ZERO
    open_commitment: Decimal = _ZERO

    @classmethod
    def from_sums(cls, sums: Mapping[Figure, Decimal]) -> Self:
        """Amounts from the sums of each figure (a missing figure is zero)."""
        return cls(**{figure.value: amount for figure, amount in sums.items()})

    @classmethod
    def total(cls, parts: Iterable[CostAmounts]) -> Self:
        """The sum of `parts`, figure by figure."""
        sums = dict.fromkeys(Figure, _ZERO)
        for part in parts:
            for figure in Figure:
                sums[figure] += getattr(part, figure.value)
        return cls.from_sums(sums)

    @property
    def revised_budget(self) -> Decimal:
        """Original budget plus approved changes."""
        return self.original_budget + self.approved_changes

    @property
    def remaining(self) -> Decimal:
        """Revised budget minus committed: what is left to commit."""
        return self.revised_budget - self.committed

    def as_dict(self) -> dict[str, Decimal]:
        """Every amount, derived ones included, under its key, in report order."""
        return {key: getattr(self, key) for key in AMOUNT_KEYS}


@dataclass(frozen=True, slots=True)
class ReportWarning:
    """A record the report left out or could not place, and why."""

    record: str
    subject: str
    reason: str

    def __str__(self) -> str:
        return f"{self.record}: {self.reason}"


@dataclass(frozen=True, slots=True)
class CostLine:
    """The amounts of one cost code of a project."""

    cost_code: str
    cost_code_name: str | None
    amounts: CostAmounts


@dataclass(frozen=True, slots=True)
class CommitmentFigures:
    """One commitment's figures, in its own currency."""

    commitment_id: str
    number: str
    commitment_type: CommitmentType
    project_id: str
    currency: str
    committed: Decimal
    received: Decimal
    invoiced: Decimal
    received_not_invoiced: Decimal
    certified_to_date: Decimal
    retention_held: Decimal
    retention_released: Decimal

    @property
    def open_commitment(self) -> Decimal:
        """Committed minus invoiced."""
        return self.committed - self.invoiced

    def as_dict(self) -> dict[str, Decimal]:
        """Every amount under its key, in `COMMITMENT_KEYS` order."""
        return {key: getattr(self, key) for key in COMMITMENT_KEYS}


@dataclass(frozen=True, slots=True)
class ProjectCost:
    """One project's cost report: lines sorted by cost code, totals, warnings.

    `commitments` are the project's approved and closed commitments in its
    currency, by number, with their accruals, certified work and retention.
    """

    project_id: str
    code: str
    source_key: str
    name: str
    currency: str
    lines: tuple[CostLine, ...]
    totals: CostAmounts
    warnings: tuple[ReportWarning, ...]
    commitments: tuple[CommitmentFigures, ...] = ()


@dataclass(frozen=True, slots=True)
class CostReport:
    """The cost report of every project asked for, sorted by code and source key.

    `warnings` holds what could not be placed in any known project (a record
    naming a project or commitment the store does not have, say).
    """

    projects: tuple[ProjectCost, ...]
    warnings: tuple[ReportWarning, ...] = ()
