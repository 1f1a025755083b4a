"""Commitment figures: open commitment, accruals, certified work and retention.

Per commitment line (rules stated once; tests/workflows checks each):

- **committed**: the line's amount plus the lines of its approved change
  orders with the same key (a new key is a line the change order adds);
  counted for approved and closed commitments only;
- **received**: confirmed goods-receipt lines, plus for a subcontract the
  work certified to date on the latest certified (or paid) claim;
- **invoiced**: net lines of invoices that count (`COUNTED_INVOICES`) naming
  the commitment and the line; a credit note's lines count negative;
- **received not invoiced** (the accrual): received minus invoiced when that
  is positive, else nothing (billing ahead of receipt accrues nothing);
- **open commitment**: committed minus invoiced.

Per subcontract, from its latest certificate: certified to date, retention
held (the claim's own `retention_held()`), and whether it was released (the
commitment's `retention_released_on`): released retention is no longer held.

The cost report (`_cost`) sums each line's accrual and open commitment into
the line's project and cost code, and lists each commitment's figures under
its project.

TODO: an invoice line that names no commitment line (a UBL document-level
allowance or charge, such as "Retention 5%", coded to the item lines' cost
code on import) counts in its cost code's invoiced but in no commitment's:
on the example estate RIV 03.10 shows 138,700.00 invoiced while SC-RIV-001
shows 146,000.00. Until such lines are attributed to their commitment (or
retention deductions are told apart from other allowances), the two
invoiced figures differ by them and a reader must reconcile by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from tieline.model import (
    ChangeOrderStatus,
    Commitment,
    GoodsReceipt,
    ProgressClaim,
    ReceiptStatus,
    SupplierInvoice,
)
from tieline.reports._records import (
    COUNTED_COMMITMENTS,
    COUNTED_INVOICES,
    CostRecords,
    latest_certificates,
    read_cost_records,
)
from tieline.reports._report import CommitmentFigures
from tieline.store import Store, Transaction

_ZERO = Decimal(0)
LineKey = tuple[str, str]  # (commitment id, line key)


def committed_by_line(records: CostRecords) -> dict[LineKey, Decimal]:
    """Committed per line of approved and closed commitments, change orders in."""
    counted = {c.id for c in records.commitments if c.status in COUNTED_COMMITMENTS}
    sums: defaultdict[LineKey, Decimal] = defaultdict(Decimal)
    for commitment in records.commitments:
        if commitment.id in counted:
            for line in commitment.lines:
                sums[(commitment.id, line.line_key)] += line.amount
    for order in records.change_orders:
        if (
            order.status is ChangeOrderStatus.APPROVED
            and order.commitment_id in counted
        ):
            for change in order.lines:
                sums[(order.commitment_id, change.line_key)] += change.amount
    return dict(sums)


def received_by_line(records: CostRecords) -> dict[LineKey, Decimal]:
    """Receipts and certified work to date, per commitment line."""
    sums: defaultdict[LineKey, Decimal] = defaultdict(Decimal)
    for receipt in records.receipts:
        if receipt.status is ReceiptStatus.CONFIRMED:
            for line in receipt.lines:
                sums[(receipt.commitment_id, line.commitment_line_key)] += line.amount
    for commitment_id, claim in latest_certificates(records.claims).items():
        for claim_line in claim.lines:
            certified = claim_line.certified_to_date or _ZERO
            sums[(commitment_id, claim_line.commitment_line_key)] += certified
    return dict(sums)


def invoiced_by_line(records: CostRecords) -> dict[LineKey, Decimal]:
    """Net invoiced per commitment line, credit notes negative."""
    sums: defaultdict[LineKey, Decimal] = defaultdict(Decimal)
    for invoice in records.invoices:
        if invoice.status not in COUNTED_INVOICES or invoice.commitment_id is None:
            continue
        for line in invoice.lines:
            if line.commitment_line_key:
                key = (invoice.commitment_id, line.commitment_line_key)
                sums[key] += invoice.sign * line.net_amount
    return dict(sums)


def accruals(records: CostRecords) -> dict[LineKey, Decimal]:
    """Received not invoiced per commitment line (positive amounts only)."""
    invoiced = invoiced_by_line(records)
    found = {}
    for key, received in received_by_line(records).items():
        accrued = received - invoiced.get(key, _ZERO)
        if accrued > _ZERO:
            found[key] = accrued
    return found


def open_by_line(records: CostRecords) -> dict[LineKey, Decimal]:
    """Open commitment per line of approved and closed commitments.

    Committed minus invoiced, not held at zero: a line billed past its
    value shows how far, as the commitment's own figure does.
    """
    invoiced = invoiced_by_line(records)
    return {
        key: committed - invoiced.get(key, _ZERO)
        for key, committed in committed_by_line(records).items()
    }


def accruals_by_line(tx: Transaction, project_id: str) -> dict[LineKey, Decimal]:
    """The accruals of one project's commitments, read in `tx`."""
    records = CostRecords(
        projects=(),
        commitments=tx.list(Commitment, project_id=project_id),
        receipts=tx.list(GoodsReceipt),
        invoices=tx.list(SupplierInvoice),
        claims=tx.list(ProgressClaim),
    )
    mine = {c.id for c in records.commitments}
    return {key: amount for key, amount in accruals(records).items() if key[0] in mine}


def accruals_by_cost_code(records: CostRecords) -> dict[tuple[str, str], Decimal]:
    """Received not invoiced per (project id, cost code), from the line accruals."""
    places = {
        (c.id, line.line_key): (line.project_id, line.cost_code)
        for c in records.commitments
        for line in c.lines
    }
    for order in records.change_orders:
        commitment = next(
            (c for c in records.commitments if c.id == order.commitment_id), None
        )
        for change in order.lines:
            if commitment is not None:
                places.setdefault(
                    (order.commitment_id, change.line_key),
                    (commitment.project_id, change.cost_code),
                )
    sums: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for key, amount in accruals(records).items():
        place = places.get(key)
        if place is not None:
            sums[place] += amount
    return dict(sums)


def build_commitment_figures(records: CostRecords) -> list[CommitmentFigures]:
    """The figures of every approved or closed commitment, by number."""
    committed = committed_by_line(records)
    received = received_by_line(records)
    invoiced = invoiced_by_line(records)
    accrued = accruals(records)
    latest = latest_certificates(records.claims)
    figures = []
    for commitment in sorted(records.commitments, key=lambda c: (c.number, c.id)):
        if commitment.status not in COUNTED_COMMITMENTS:
            continue

        def total(sums: dict[LineKey, Decimal], cid: str = commitment.id) -> Decimal:
            return sum((v for (c, _), v in sums.items() if c == cid), _ZERO)

        figures.append(
            _figures(
                commitment,
                latest.get(commitment.id),
                total(committed),
                total(received),
                total(invoiced),
                total(accrued),
            )
        )
    return figures


def _figures(
    commitment: Commitment,
    certificate: ProgressClaim | None,
    committed: Decimal,
    received: Decimal,
    invoiced: Decimal,
    accrued: Decimal,
) -> CommitmentFigures:
    held = certificate.retention_held() if certificate else _ZERO
    released = held if commitment.retention_released_on is not None else _ZERO
    return CommitmentFigures(
        commitment_id=commitment.id,
        number=commitment.number,
        commitment_type=commitment.commitment_type,
        project_id=commitment.project_id,
        currency=commitment.currency,
        committed=committed,
        received=received,
        invoiced=invoiced,
        received_not_invoiced=accrued,
        certified_to_date=certificate.certified_to_date() if certificate else _ZERO,
        retention_held=held - released,
        retention_released=released,
    )


def load_commitment_figures(store: Store) -> list[CommitmentFigures]:
    """The commitment figures over what `store` holds now."""
    with store.transaction() as tx:
        records = read_cost_records(tx)
    return build_commitment_figures(records)


__all__: Sequence[str] = (
    "CommitmentFigures",
    "accruals",
    "accruals_by_cost_code",
    "accruals_by_line",
    "build_commitment_figures",
    "committed_by_line",
    "load_commitment_figures",
    "open_by_line",
)
