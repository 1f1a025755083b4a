"""The port through which workflows reach the ERP, and an in-memory ERP.

Workflows never import a connector (the core never calls out): a consumer of
a committed event calls an `ErpGateway`, passing the store transaction it
runs in, so whatever the gateway keeps in the store (its bindings) commits
with the workflow's own change. Every call is keyed by the canonical
record's id, so a retry after a crash finds what the first attempt did
instead of making a second order, receipt or bill.

The Odoo connector's gateway is `tieline.connectors.odoo.OdooErp`;
`InMemoryErp` stands in for it in tests that do not look at the ERP.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from tieline.errors import RecordNotFound, RetryableError
from tieline.model import Commitment, GoodsReceipt, Origin, SupplierInvoice
from tieline.store import Transaction

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ErpPayment:
    """One payment the ERP made on a bill: the part of it that settles the bill."""

    reference: str
    paid_on: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PaymentState:
    """Where the ERP says a posted bill stands.

    `paid` means settled in full; `amount_paid` is what is settled so far
    (a bill paid in part, a subcontract bill whose retention stays open, has
    `paid` false and `amount_paid` above zero), and `payments` the payments
    that settled it, oldest first.
    """

    paid: bool
    amount_paid: Decimal = _ZERO
    payments: tuple[ErpPayment, ...] = ()


class ErpGateway(Protocol):
    """What workflows ask of the ERP; each write is idempotent by record id."""

    def owns(self, origin: Origin) -> bool:
        """Whether a record of this origin came from the ERP (so is there)."""
        ...

    def push_purchase_order(self, tx: Transaction, commitment: Commitment) -> str:
        """Create or find the commitment as a confirmed order; returns its ref."""
        ...

    def push_receipt(self, tx: Transaction, receipt: GoodsReceipt) -> str:
        """Record a delivery on its order in the ERP; returns the receipt's ref."""
        ...

    def post_vendor_bill(self, tx: Transaction, invoice: SupplierInvoice) -> str:
        """Create or find the invoice as a posted bill; returns its ref."""
        ...

    def read_payment_state(
        self, tx: Transaction, invoice: SupplierInvoice
    ) -> PaymentState:
        """Whether, when and how much the ERP paid on the invoice's bill."""
        ...


def owned_by(system: str, origin: Origin) -> bool:
    """Whether `origin` is `system` or one instance of it (`odoo:main`)."""
    return origin.system == system or origin.system.startswith(system + ":")


class InMemoryErp:
    """An ERP in a dict, for tests and demos; thread-safe, keyed like Odoo's.

    It stands in for Odoo: records whose origin is `odoo` are its own.
    """

    def __init__(self, system: str = "odoo") -> None:
        self.system = system
        self.orders: dict[str, Commitment] = {}
        self.receipts: dict[str, GoodsReceipt] = {}
        self.bills: dict[str, SupplierInvoice] = {}
        self.payments: dict[str, list[ErpPayment]] = {}
        self.calls: list[str] = []
        self._refs: dict[str, str] = {}
        self._lock = threading.Lock()

    def owns(self, origin: Origin) -> bool:
        """Records from the system this ERP stands in for."""
        return owned_by(self.system, origin)

    def push_purchase_order(self, tx: Transaction, commitment: Commitment) -> str:
        """Keep the order under a ref made once per commitment id."""
        with self._lock:
            self.calls.append(f"push_purchase_order {commitment.number}")
            ref = self._refs.setdefault(commitment.id, f"P{len(self._refs) + 1:05d}")
            self.orders[ref] = commitment
            return ref

    def push_receipt(self, tx: Transaction, receipt: GoodsReceipt) -> str:
        """Keep the receipt; its order must have been pushed first."""
        with self._lock:
            if receipt.commitment_id not in self._refs:
                raise RetryableError(
                    f"receipt {receipt.number}: its order is not in the ERP yet"
                )
            self.calls.append(f"push_receipt {receipt.number}")
            ref = self._refs.setdefault(receipt.id, f"WH/IN/{len(self._refs) + 1:05d}")
            self.receipts[ref] = receipt
            return ref

    def post_vendor_bill(self, tx: Transaction, invoice: SupplierInvoice) -> str:
        """Keep the bill under a ref made once per invoice id."""
        with self._lock:
            self.calls.append(f"post_vendor_bill {invoice.supplier_reference}")
            ref = self._refs.setdefault(invoice.id, f"BILL/{len(self._refs) + 1:05d}")
            self.bills[ref] = invoice
            return ref

    def read_payment_state(
        self, tx: Transaction, invoice: SupplierInvoice
    ) -> PaymentState:
        """The bill's payments so far; paid once they reach its gross total."""
        with self._lock:
            ref = self._refs.get(invoice.id)
            if ref is None or ref not in self.bills:
                raise RecordNotFound("vendor bill", invoice.supplier_reference)
            payments = tuple(self.payments.get(ref, ()))
            paid = sum((p.amount for p in payments), _ZERO)
            return PaymentState(paid >= invoice.gross_total, paid, payments)

    def pay(self, bill_ref: str, amount: Decimal, on: date, reference: str) -> None:
        """Record a payment as the ERP's payment run would (tests)."""
        with self._lock:
            self.payments.setdefault(bill_ref, []).append(
                ErpPayment(reference, on, amount)
            )
