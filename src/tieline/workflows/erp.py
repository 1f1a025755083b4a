"""The port through which workflows reach the ERP, and an in-memory ERP.

Workflows never import a connector (the core never calls out): a consumer of
a committed event calls an `ErpGateway`. Every call is keyed by the canonical
record's id, so a retry after a crash finds what the first attempt did
instead of making a second order or bill.

TODO: the Odoo connector's synchronizer is to implement `ErpGateway` (a
confirmed `purchase.order`, a posted `account.move` vendor bill, and the
bill's `payment_state`); until it does, only `InMemoryErp` exists, so a
running hub records that an order or a bill is due in Odoo but sends nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from tieline.errors import RecordNotFound
from tieline.model import Commitment, SupplierInvoice


@dataclass(frozen=True, slots=True)
class PaymentState:
    """Where the ERP says a posted bill stands."""

    paid: bool
    amount_paid: Decimal = Decimal(0)
    paid_on: date | None = None
    reference: str | None = None


class ErpGateway(Protocol):
    """What workflows ask of the ERP; each write is idempotent by record id."""

    def push_purchase_order(self, commitment: Commitment) -> str:
        """Create or find the commitment as a confirmed order; returns its ref."""
        ...

    def post_vendor_bill(self, invoice: SupplierInvoice) -> str:
        """Create or find the invoice as a posted bill; returns its ref."""
        ...

    def read_payment_state(self, bill_ref: str) -> PaymentState:
        """Whether, when and how much the ERP paid on a bill."""
        ...


class InMemoryErp:
    """An ERP in a dict, for tests and demos; thread-safe, keyed like Odoo's."""

    def __init__(self) -> None:
        self.orders: dict[str, Commitment] = {}
        self.bills: dict[str, SupplierInvoice] = {}
        self.payments: dict[str, PaymentState] = {}
        self.calls: list[str] = []
        self._refs: dict[str, str] = {}
        self._lock = threading.Lock()

    def push_purchase_order(self, commitment: Commitment) -> str:
        """Keep the order under a ref made once per commitment id."""
        with self._lock:
            self.calls.append(f"push_purchase_order {commitment.number}")
            ref = self._refs.setdefault(commitment.id, f"P{len(self._refs) + 1:05d}")
            self.orders[ref] = commitment
            return ref

    def post_vendor_bill(self, invoice: SupplierInvoice) -> str:
        """Keep the bill under a ref made once per invoice id."""
        with self._lock:
            self.calls.append(f"post_vendor_bill {invoice.supplier_reference}")
            ref = self._refs.setdefault(invoice.id, f"BILL/{len(self._refs) + 1:05d}")
            self.bills[ref] = invoice
            return ref

    def read_payment_state(self, bill_ref: str) -> PaymentState:
        """The bill's payment, or unpaid."""
        with self._lock:
            if bill_ref not in self.bills:
                raise RecordNotFound("vendor bill", bill_ref)
            return self.payments.get(bill_ref, PaymentState(paid=False))

    def pay(self, bill_ref: str, amount: Decimal, on: date, reference: str) -> None:
        """Record a payment as the ERP's payment run would (tests)."""
        with self._lock:
            self.payments[bill_ref] = PaymentState(True, amount, on, reference)
