"""Pushes to Odoo as consumers of canonical events on the backbone.

Operator's notes
----------------
`push_consumer(sync)` is the durable consumer `odoo-<instance>` that turns

- `tieline.commitment.approved` into a confirmed purchase order,
- `tieline.goods_receipt.created` / `.confirmed` into a validated receipt,
- `tieline.supplier_invoice.approved` into a posted vendor bill,

and also takes `tieline.commitment.created` and
`tieline.supplier_invoice.created`, because a record that arrives already
approved (an import of awarded contracts) emits `created`, not `approved`;
those, and a receipt still in draft, are skipped unless approved (confirmed).

through `OdooSync`, inside the consumer's store transaction (bindings and the
canonical changes a push makes commit with the event's inbox row). Register it
with `register_push_consumer(sync)` so `tieline serve` and dead-letter replays
find it by name.

Each push works from the record as the event carried it (the state that was
approved), not from whatever the store holds by the time the event arrives.
Redeliveries are dropped by the inbox; a second event for the same record (a
replay, or a re-approval) finds the Odoo record by its binding or external id
and creates nothing new.

Failures: Odoo's transient faults (`OdooUnavailable`, `OdooThrottled`,
`OdooResponseLost`, `OdooConcurrency`), a create still in doubt
(`OdooCreateInDoubt`: an earlier create got no answer and may yet commit,
so the push waits out the in-doubt window rather than create twice; see
`_in_doubt`), "the order is not in Odoo yet" and a wait for another lane's
binding (`BindingConflict`, see `_locks`) are `RetryableError`s,
retried by the worker under `PUSH_RETRY`; Odoo's refusals (`OdooRejected`),
bad records (`ValidationFailed`) and a binding to another record
(`BindingMismatch`) are `PermanentError`s and go to a dead letter whose
reason carries Odoo's own message or names the records.

`tieline serve` registers it when the settings name an Odoo and no workflow
policy is in place (with one, the workflows' `workflow-erp` consumer pushes
the same documents once their workflow has approved them; see
`tieline.cli._hub`).

Log lines: `odoo.push.done` (info: consumer, event_type, subject, odoo_id).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tieline.connectors.odoo._locks import BindingConflict, push_lock
from tieline.connectors.odoo._sync import OdooSync
from tieline.errors import PermanentError
from tieline.events import registry
from tieline.events.consumers import Consumer
from tieline.logging import get_logger
from tieline.model import (
    Commitment,
    CommitmentStatus,
    GoodsReceipt,
    InvoiceStatus,
    ReceiptStatus,
)
from tieline.model.invoices import SupplierInvoice
from tieline.retry import RetryPolicy
from tieline.store import Transaction

log = get_logger(__name__)

COMMITMENT_CREATED = "tieline.commitment.created"
COMMITMENT_APPROVED = "tieline.commitment.approved"
RECEIPT_CREATED = "tieline.goods_receipt.created"
RECEIPT_CONFIRMED = "tieline.goods_receipt.confirmed"
INVOICE_CREATED = "tieline.supplier_invoice.created"
INVOICE_APPROVED = "tieline.supplier_invoice.approved"

# A customer's Odoo restarting for an upgrade is down for minutes, so retries
# run for up to an hour before a person is asked to look.
PUSH_RETRY = RetryPolicy(
    initial_delay=1.0, max_delay=300.0, max_attempts=None, max_age=3600.0
)

# Fields the event adds to the record's content; not part of the record.
_EVENT_ONLY = ("previous_status",)


Push = Callable[[OdooSync, Transaction, dict[str, Any]], int | None]


def _commitment(sync: OdooSync, tx: Transaction, data: dict[str, Any]) -> int | None:
    commitment = Commitment.model_validate(_record(data))
    if commitment.status is not CommitmentStatus.APPROVED:
        return None
    return sync.push_commitment(tx, commitment)


def _receipt(sync: OdooSync, tx: Transaction, data: dict[str, Any]) -> int | None:
    receipt = GoodsReceipt.model_validate(_record(data))
    if receipt.status is not ReceiptStatus.CONFIRMED:
        return None
    return sync.push_receipt(tx, receipt)


def _invoice(sync: OdooSync, tx: Transaction, data: dict[str, Any]) -> int | None:
    invoice = SupplierInvoice.model_validate(_record(data))
    if invoice.status is not InvoiceStatus.APPROVED:
        return None
    return sync.push_invoice(tx, invoice)


_PUSHES: dict[str, Push] = {
    COMMITMENT_CREATED: _commitment,
    COMMITMENT_APPROVED: _commitment,
    RECEIPT_CREATED: _receipt,
    RECEIPT_CONFIRMED: _receipt,
    INVOICE_CREATED: _invoice,
    INVOICE_APPROVED: _invoice,
}
PATTERNS = tuple(_PUSHES)


def _record(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _EVENT_ONLY}


def consumer_name(instance: str) -> str:
    """The push consumer's name for one Odoo instance."""
    return f"odoo-{instance}"


def push_consumer(sync: OdooSync, *, retry: RetryPolicy = PUSH_RETRY) -> Consumer:
    """The consumer that pushes approved documents to `sync`'s Odoo."""
    name = consumer_name(sync.instance)
    # Lanes run in parallel, but an order, its receipt and its bill share a
    # partner, products and analytic accounts: two lanes creating the same
    # partner at once would both miss it and create two. One push at a time
    # per instance (the ERP's own rate limit makes this cheap), under the
    # synchronizer's lock, which the workflows' gateway takes too.

    def handle(tx: Transaction, event: dict[str, Any]) -> None:
        push = _PUSHES.get(event["type"])
        if push is None:
            raise PermanentError(f"{name} has no push for {event['type']}")
        # The lock's wait for rows other lanes hold is bounded (`push_lock`).
        with push_lock(sync, tx, name):
            odoo_id = push(sync, tx, event["data"])
        if odoo_id is None:
            log.debug("odoo.push.skipped", consumer=name, subject=event["subject"])
            return
        log.info(
            "odoo.push.done",
            consumer=name,
            event_type=event["type"],
            subject=event["subject"],
            odoo_id=odoo_id,
        )

    return Consumer(name, PATTERNS, handle, retry=retry)


def register_push_consumer(sync: OdooSync) -> Consumer:
    """Build the push consumer for `sync` and register it by name."""
    return registry.register(push_consumer(sync))


__all__ = [
    "PATTERNS",
    "PUSH_RETRY",
    "BindingConflict",
    "consumer_name",
    "push_consumer",
    "register_push_consumer",
]
