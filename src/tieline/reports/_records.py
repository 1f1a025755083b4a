"""What the cost report reads: the records, read once, and which ones count.

Shared by the cost report (`_cost`) and the commitment figures
(`_commitments`), so neither has to import the other for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tieline.model import (
    Budget,
    BudgetRevision,
    ChangeOrder,
    ClaimStatus,
    Commitment,
    CommitmentStatus,
    CostCode,
    GoodsReceipt,
    InvoiceStatus,
    Payment,
    ProgressClaim,
    Project,
)
from tieline.model.invoices import SupplierInvoice
from tieline.store import Transaction

COUNTED_COMMITMENTS = frozenset({CommitmentStatus.APPROVED, CommitmentStatus.CLOSED})
COUNTED_INVOICES = frozenset(
    {
        InvoiceStatus.MATCHED,
        InvoiceStatus.APPROVED,
        InvoiceStatus.POSTED,
        InvoiceStatus.PAID,
    }
)


@dataclass(frozen=True, slots=True)
class CostRecords:
    """Every record the cost report reads, as read in one transaction."""

    projects: Sequence[Project]
    cost_codes: Sequence[CostCode] = ()
    budgets: Sequence[Budget] = ()
    revisions: Sequence[BudgetRevision] = ()
    commitments: Sequence[Commitment] = ()
    change_orders: Sequence[ChangeOrder] = ()
    receipts: Sequence[GoodsReceipt] = ()
    invoices: Sequence[SupplierInvoice] = ()
    payments: Sequence[Payment] = ()
    claims: Sequence[ProgressClaim] = ()


def read_cost_records(tx: Transaction) -> CostRecords:
    """Read each kind of record the report needs, once, in `tx`."""
    return CostRecords(
        projects=tx.list(Project),
        cost_codes=tx.list(CostCode),
        budgets=tx.list(Budget),
        revisions=tx.list(BudgetRevision),
        commitments=tx.list(Commitment),
        change_orders=tx.list(ChangeOrder),
        receipts=tx.list(GoodsReceipt),
        invoices=tx.list(SupplierInvoice),
        payments=tx.list(Payment),
        claims=tx.list(ProgressClaim),
    )


def latest_certificates(claims: Iterable[ProgressClaim]) -> dict[str, ProgressClaim]:
    """The certified (or paid) claim of the latest period, per commitment id."""
    latest: dict[str, ProgressClaim] = {}
    for claim in claims:
        if claim.status not in (ClaimStatus.CERTIFIED, ClaimStatus.PAID):
            continue
        known = latest.get(claim.commitment_id)
        if known is None or claim.period > known.period:
            latest[claim.commitment_id] = claim
    return latest
