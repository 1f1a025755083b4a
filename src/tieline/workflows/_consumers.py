"""The consumers that drive workflows from committed events.

- `workflow-documents`: starts a document's workflow when it arrives
  (a submitted requisition, a received invoice, a submitted claim, revision
  or change order), moves orders on confirmed goods receipts, and records
  a decision the document's own system wrote (`_owned`);
- `workflow-erp` (only with an `ErpGateway`): pushes approved commitments
  that did not come from the ERP (orders tieline made from requisitions,
  contracts awarded in project controls) as confirmed purchase orders,
  records their confirmed deliveries there, and posts approved invoices as
  bills.

Handlers read the record as it is now (the event only says which one), so a
late event acts on current data; starting a workflow twice finds the first
instance, so a replay changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tieline.events.consumers import Consumer
from tieline.events.registry import register
from tieline.model import (
    BudgetRevision,
    CanonicalRecord,
    ChangeOrder,
    Commitment,
    CommitmentStatus,
    GoodsReceipt,
    ProgressClaim,
    ReceiptStatus,
    Requisition,
    SupplierInvoice,
)
from tieline.retry import RetryPolicy
from tieline.store import Transaction
from tieline.workflows._machine import Hub
from tieline.workflows._owned import FOLLOWED, follow_owner
from tieline.workflows.changes import start_change
from tieline.workflows.erp import ErpGateway
from tieline.workflows.invoices import post_invoice, start_invoice
from tieline.workflows.requisitions import (
    dispatch_order,
    record_receipt,
    start_requisition,
)
from tieline.workflows.valuations import start_claim

HubSource = Callable[[], Hub]

# An ERP restarting for an upgrade is down for minutes, and a delivery may
# arrive before its order is in the ERP: retry for up to an hour before a
# person is asked to look (the dead letter keeps the ERP's message).
ERP_RETRY = RetryPolicy(
    initial_delay=1.0, max_delay=300.0, max_attempts=None, max_age=3600.0
)

_STARTS: dict[
    str, tuple[type[CanonicalRecord], Callable[[Transaction, Hub, Any], None]]
] = {
    "requisition": (Requisition, start_requisition),
    "supplier_invoice": (SupplierInvoice, start_invoice),
    "progress_claim": (ProgressClaim, start_claim),
    "budget_revision": (BudgetRevision, start_change),
    "change_order": (ChangeOrder, start_change),
    "goods_receipt": (GoodsReceipt, record_receipt),
}

DOCUMENT_PATTERNS = tuple(
    f"tieline.{kind}.{action}"
    for kind in _STARTS
    for action in ("created", "updated", "submitted", "confirmed")
    if action in ("created", "updated")
    or (
        action == "submitted" and kind != "supplier_invoice" and kind != "goods_receipt"
    )
    or (action == "confirmed" and kind == "goods_receipt")
) + tuple(
    # A decided status written by the document's own system (`_owned`).
    f"tieline.{kind}.{status}"
    for kind, (_, states) in FOLLOWED.items()
    for status in states
)


def _record(tx: Transaction, event: dict[str, Any], cls: type[CanonicalRecord]) -> Any:
    record_id = str(event["subject"]).partition("/")[2]
    return tx.get(cls, record_id)


def document_handler(hub: HubSource) -> Callable[[Transaction, dict[str, Any]], None]:
    """The handler that starts or advances a document's workflow."""

    def handle(tx: Transaction, event: dict[str, Any]) -> None:
        kind = str(event["subject"]).partition("/")[0]
        cls, start = _STARTS[kind]
        record = _record(tx, event, cls)
        if record is not None:
            start(tx, hub(), record)
            follow_owner(tx, hub(), record)

    return handle


def erp_handler(
    hub: HubSource, gateway: ErpGateway
) -> Callable[[Transaction, dict[str, Any]], None]:
    """The handler that pushes orders and receipts and posts bills."""

    def handle(tx: Transaction, event: dict[str, Any]) -> None:
        kind = str(event["subject"]).partition("/")[0]
        if kind == "commitment":
            commitment = _record(tx, event, Commitment)
            if _pushable(commitment, gateway):
                ref = gateway.push_purchase_order(tx, commitment)
                dispatch_order(tx, hub(), commitment, ref)
        elif kind == "goods_receipt":
            receipt = _record(tx, event, GoodsReceipt)
            if receipt is not None and receipt.status is ReceiptStatus.CONFIRMED:
                commitment = tx.get(Commitment, receipt.commitment_id)
                # Receipts are pushed in the order their events are handled,
                # not of the deliveries; the gateway keeps a final receipt
                # from closing the order before its partial ones
                # (`OdooSync.push_receipt`).
                if commitment is not None and not gateway.owns(commitment.origin):
                    gateway.push_receipt(tx, receipt)
        elif kind == "supplier_invoice":
            invoice = _record(tx, event, SupplierInvoice)
            if invoice is not None:
                post_invoice(tx, hub(), invoice, gateway)

    return handle


def _pushable(commitment: Commitment | None, gateway: ErpGateway) -> bool:
    # The ERP's own orders are there already; everything else approved goes.
    return (
        commitment is not None
        and commitment.status is CommitmentStatus.APPROVED
        and not gateway.owns(commitment.origin)
    )


def workflow_consumers(
    hub: HubSource,
    gateway: ErpGateway | None = None,
    *,
    erp_retry: RetryPolicy = ERP_RETRY,
) -> list[Consumer]:
    """The workflow consumers; the ERP one only when a gateway is given."""
    consumers = [
        Consumer("workflow-documents", DOCUMENT_PATTERNS, document_handler(hub))
    ]
    if gateway is not None:
        patterns = (
            "tieline.commitment.created",
            "tieline.commitment.approved",
            "tieline.goods_receipt.created",
            "tieline.goods_receipt.confirmed",
            "tieline.supplier_invoice.approved",
        )
        consumers.append(
            Consumer(
                "workflow-erp", patterns, erp_handler(hub, gateway), retry=erp_retry
            )
        )
    return consumers


def register_workflow_consumers(
    hub: HubSource, gateway: ErpGateway | None = None
) -> None:
    """Make the workflow consumers known to `tieline serve --role worker`."""
    for consumer in workflow_consumers(hub, gateway):
        register(consumer)
