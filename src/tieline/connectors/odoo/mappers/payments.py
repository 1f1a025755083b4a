"""Payment status read back from the bill: payment_state and amount_residual.

A bill that Odoo reports `paid` (or `partial`) becomes a canonical payment
of the amount settled so far, allocated to the invoice; a fully paid bill
marks the invoice paid.

TODO: individual account.payment records (their own numbers and dates) are
not mapped yet: one canonical payment stands for everything paid on a bill,
so two instalments show as one payment of their sum.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import Mapper, money
from tieline.model import Origin, Payment, PaymentAllocation, PaymentStatus
from tieline.model.invoices import SupplierInvoice

PAID_STATES = frozenset({"paid", "in_payment", "partial"})


class PaymentMapper(Mapper):
    """Reads the bill's payment fields into a canonical payment."""

    model: ClassVar[str] = "account.move"

    def fields(self) -> list[str]:
        """Bill fields the read-back needs."""
        return [
            "name",
            "payment_state",
            "amount_residual",
            "amount_total",
            "write_date",
        ]

    def paid_amount(self, bill: dict[str, Any], currency: str) -> Decimal:
        """What has been paid on the bill so far."""
        return money(bill["amount_total"], currency) - money(
            bill["amount_residual"], currency
        )

    def from_odoo(
        self,
        bill: dict[str, Any],
        invoice: SupplierInvoice,
        *,
        legal_entity_id: str,
        supplier_id: str,
        system: str,
        today: date,
    ) -> Payment | None:
        """The payment the bill shows, or None while nothing is paid."""
        if bill["payment_state"] not in PAID_STATES:
            return None
        amount = self.paid_amount(bill, invoice.currency)
        return Payment(
            origin=Origin(system=system, key=f"account.move:{bill['id']}:payments"),
            legal_entity_id=legal_entity_id,
            supplier_id=supplier_id,
            reference=f"{bill['name']} payments",
            paid_on=today,
            currency=invoice.currency,
            amount=amount,
            status=PaymentStatus.PAID,
            allocations=[PaymentAllocation(invoice_id=invoice.id, amount=amount)],
        )
