"""The workflows' ERP port (`tieline.workflows.ErpGateway`) on one Odoo.

`OdooErp(sync)` is what `workflow_consumers(hub, gateway)` calls to

- push an approved commitment as a confirmed `purchase.order`, lines carrying
  project and cost code as analytic distributions;
- validate a confirmed delivery on the order's receipt (a partial one leaves
  a backorder; a final one cancels what is left);
- post an approved invoice as an `in_invoice` linked to the order lines;
- read a bill's `payment_state` and `amount_residual` back, with the
  payments that settled it (17: `account.payment.reconciled_bill_ids`;
  19: the bill's `matched_payment_ids`).

Every write goes through `OdooSync`, in the caller's store transaction, so a
retry finds the first attempt's record by its binding or external id and
creates nothing twice. Writes hold `sync.lock`, the lock the connector's own
push consumer takes, so the two never create one partner or product twice in
one process; while it is held, a wait for a row another lane holds is bounded
(`_locks.push_lock`) and ends in `BindingConflict`, a `RetryableError` the
workflows' consumer retries.

The refs returned are Odoo's names (`P00012`, `WH/IN/00007`,
`BILL/2026/03/0001`): what a person looks for in Odoo.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tieline.connectors.odoo._adapter import external_name
from tieline.connectors.odoo._binder import Binder
from tieline.connectors.odoo._errors import OdooRecordMissing
from tieline.connectors.odoo._locks import push_lock
from tieline.connectors.odoo._sync import OdooSync
from tieline.connectors.odoo.mappers._base import many2one_id, money
from tieline.logging import get_logger
from tieline.model import Commitment, GoodsReceipt, Origin
from tieline.model.invoices import SupplierInvoice
from tieline.store import Transaction
from tieline.workflows.erp import ErpPayment, PaymentState

log = get_logger(__name__)

GATEWAY = "odoo gateway"  # who pushes, in a BindingConflict's message

# payment_state values that mean the bill is settled (in_payment: paid and
# waiting for the bank statement, Enterprise only).
SETTLED = frozenset({"paid", "in_payment"})
_BILL_FIELDS = [
    "name",
    "state",
    "payment_state",
    "amount_total",
    "amount_residual",
    "partner_id",
    "invoice_date",
]


class OdooErp:
    """The workflows' `ErpGateway` on the Odoo instance of `sync`."""

    def __init__(self, sync: OdooSync) -> None:
        self.sync = sync
        self.client = sync.client

    def owns(self, origin: Origin) -> bool:
        """Records that came from Odoo (`odoo`, or `odoo:<this instance>`)."""
        return origin.system in ("odoo", self.sync.actor)

    def push_purchase_order(self, tx: Transaction, commitment: Commitment) -> str:
        """The commitment as a confirmed purchase order; returns the order's name."""
        with push_lock(self.sync, tx, GATEWAY):
            order = self.sync.push_commitment(tx, commitment)
        return self._name("purchase.order", order)

    def push_receipt(self, tx: Transaction, receipt: GoodsReceipt) -> str:
        """Validate the delivery on the order's receipt; returns the picking's name."""
        with push_lock(self.sync, tx, GATEWAY):
            picking = self.sync.push_receipt(tx, receipt)
        return self._name("stock.picking", picking)

    def post_vendor_bill(self, tx: Transaction, invoice: SupplierInvoice) -> str:
        """The invoice as a posted vendor bill; returns the bill's number."""
        with push_lock(self.sync, tx, GATEWAY):
            bill = self.sync.push_invoice(tx, invoice)
        return self._name("account.move", bill)

    def read_payment_state(
        self, tx: Transaction, invoice: SupplierInvoice
    ) -> PaymentState:
        """The bill's payment state and the payments that settled it."""
        bill_id = self._bill_id(tx, invoice)
        (bill,) = self.client.read("account.move", [bill_id], _BILL_FIELDS)
        paid = money(bill["amount_total"], invoice.currency) - money(
            bill["amount_residual"], invoice.currency
        )
        payments = _allocate(self._payments(bill), paid, invoice.currency)
        state = PaymentState(bill["payment_state"] in SETTLED, paid, payments)
        log.debug(
            "odoo.bill.payment_state",
            bill=bill_id,
            payment_state=bill["payment_state"],
            payments=len(payments),
        )
        return state

    def _bill_id(self, tx: Transaction, invoice: SupplierInvoice) -> int:
        binder = Binder(tx.connection, self.sync.instance)
        bound = binder.odoo_id("account.move", invoice.id)
        if bound is not None:
            return bound
        name = external_name(invoice.kind, invoice.id)
        rows = self.client.search_read(
            "ir.model.data",
            [("module", "=", "tieline"), ("name", "=", name)],
            ["res_id"],
        )
        if not rows:
            missing = OdooRecordMissing(
                f"invoice {invoice.supplier_reference} has no bill in Odoo"
            )
            missing.locate(
                model="account.move", method="read", name=None, message=str(missing)
            )
            raise missing
        return int(rows[0]["res_id"])

    def _payments(self, bill: dict[str, Any]) -> list[dict[str, Any]]:
        """The done payments reconciled with the bill, oldest first."""
        version = self.client.version
        fields = ["name", "date", "amount", "state"]
        if version.major >= 19:
            ids = self._matched(bill["id"])
            rows = self.client.read("account.payment", ids, fields) if ids else []
        else:
            rows = self._reconciled_17(bill, fields)
        done = version.done_payment_states
        found = [row for row in rows if row["state"] in done]
        return sorted(found, key=lambda row: (row["date"], row["id"]))

    def _matched(self, bill_id: int) -> list[int]:
        (row,) = self.client.read("account.move", [bill_id], ["matched_payment_ids"])
        return list(row["matched_payment_ids"] or [])

    def _reconciled_17(
        self, bill: dict[str, Any], fields: list[str]
    ) -> list[dict[str, Any]]:
        # 17 answers which bills a payment settled, not which payments settled
        # a bill, and `reconciled_bill_ids` is not searchable: read the
        # vendor's outgoing payments since the bill's date and keep the
        # ones naming it.
        domain: list[Any] = [
            ("partner_id", "=", many2one_id(bill["partner_id"])),
            ("payment_type", "=", "outbound"),
        ]
        if bill["invoice_date"]:
            domain.append(("date", ">=", bill["invoice_date"]))
        rows = self.client.search_read(
            "account.payment", domain, [*fields, "reconciled_bill_ids"]
        )
        return [row for row in rows if bill["id"] in row["reconciled_bill_ids"]]

    def _name(self, model: str, odoo_id: int) -> str:
        (row,) = self.client.read(model, [odoo_id], ["name"])
        return str(row["name"])


def _allocate(
    rows: list[dict[str, Any]], paid: Decimal, currency: str
) -> tuple[ErpPayment, ...]:
    """Each payment with the part of it that settles the bill.

    A payment of several bills is counted here up to what is still unsettled
    on this bill, oldest payment first, so the parts add up to what Odoo says
    is paid on the bill (never more).
    """
    left = paid
    payments = []
    for row in rows:
        part = min(money(row["amount"], currency), left)
        if part <= 0:
            break
        left -= part
        payments.append(
            ErpPayment(str(row["name"]), date.fromisoformat(row["date"]), part)
        )
    return tuple(payments)
