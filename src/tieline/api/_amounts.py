"""Amounts a write sends must agree with each other, to the cent.

- A line with a quantity and a unit price has the amount they make, rounded
  once, half-up, to the currency's minor unit (`tieline.money`, the
  project's one rule): 400 x 120.00 is 48000.00, and 47999.00 is refused.
- An invoice's net total is the sum of its lines. When every line has a tax
  rate, its tax total is what the rates give, rounded either per rate (the
  VAT breakdown of EN 16931) or per line (Odoo's default); gross is net plus
  tax (the model checks that).
- A negative quantity is a credit: only a credit note carries one.
- A goods receipt line's amount is its quantity at the order line's unit
  price, rounded the same way (40 x 25.50 is 1020.00, and 1000.00 is
  refused), in the order's currency. A line of no unit price (a lump sum, a
  line a change order added) is not checked.

Imports keep what a source wrote and flag it instead (an amount "as
agreed" may differ from quantity x price), so an update leaves the lines and
totals it does not change unchecked: a record imported with such a line
can still be approved or edited elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from tieline.errors import ValidationFailed
from tieline.model import (
    CanonicalRecord,
    Commitment,
    GoodsReceipt,
    InvoiceType,
    SupplierInvoice,
)
from tieline.money import round_money
from tieline.store import Transaction

# kind -> the field of a line that holds its amount.
_LINE_AMOUNTS = {"commitment": "amount", "supplier_invoice": "net_amount"}


def check_amounts(record: CanonicalRecord, previous: CanonicalRecord | None) -> None:
    """Raise ValidationFailed for the first amount that disagrees.

    With `previous` (an update), lines it already had as they are, and
    totals it already had over the same lines, are not checked.
    """
    data: Any = record
    before: Any = previous
    field = _LINE_AMOUNTS.get(record.kind)
    if field is None:
        return
    kept = list(before.lines) if before is not None else []
    for index, line in enumerate(data.lines):
        if line not in kept:
            _check_line(record, data.currency, index, line, field)
    if isinstance(record, SupplierInvoice) and not (
        before is not None and _same_totals(record, before)
    ):
        _check_totals(record)


def check_receipt_amounts(
    tx: Transaction, record: CanonicalRecord, previous: CanonicalRecord | None
) -> None:
    """Raise ValidationFailed for a receipt line not worth quantity x order price.

    Lines an update keeps as they were are not checked (as in `check_amounts`);
    a missing commitment is left to the reference checks.
    """
    if not isinstance(record, GoodsReceipt):
        return
    commitment = tx.get(Commitment, record.commitment_id)
    if commitment is None:
        return
    before = previous if isinstance(previous, GoodsReceipt) else None
    kept = list(before.lines) if before is not None else []
    changed = [
        (index, line) for index, line in enumerate(record.lines) if line not in kept
    ]
    moved = before is None or before.currency != record.currency
    if (changed or moved) and record.currency != commitment.currency:
        raise ValidationFailed(
            f"order {commitment.number} is in {commitment.currency}, not "
            f"{record.currency}",
            record=f"receipt {record.number}",
            field="currency",
        )
    prices = {line.line_key: line.unit_price for line in commitment.lines}
    for index, line in changed:
        price = prices.get(line.commitment_line_key)
        if price is None:
            continue
        expected = round_money(line.quantity * price, record.currency)
        if line.amount != expected:
            raise ValidationFailed(
                f"line {line.commitment_line_key} of order {commitment.number}: "
                f"{line.quantity} x {price} = {expected}, not {line.amount}",
                record=f"receipt {record.number}",
                field=f"lines[{index}].amount",
            )


def _fail(record: CanonicalRecord, field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, record=record.subject, field=field)


def _check_line(
    record: CanonicalRecord, currency: str, index: int, line: Any, field: str
) -> None:
    invoice = record if isinstance(record, SupplierInvoice) else None
    quantity, price = line.quantity, line.unit_price
    if (
        invoice is not None
        and invoice.invoice_type is not InvoiceType.CREDIT_NOTE
        and quantity is not None
        and quantity < 0
    ):
        raise _fail(
            record,
            f"lines[{index}].quantity",
            "a negative quantity is a credit: send it as a credit note",
        )
    if quantity is None or price is None:
        return
    amount = getattr(line, field)
    expected = round_money(quantity * price, currency)
    if amount != expected:
        raise _fail(
            record,
            f"lines[{index}].{field}",
            f"{quantity} x {price} = {expected}, not {amount}",
        )


def _same_totals(invoice: SupplierInvoice, before: SupplierInvoice) -> bool:
    return (
        invoice.lines == before.lines
        and invoice.net_total == before.net_total
        and invoice.tax_total == before.tax_total
    )


def _check_totals(invoice: SupplierInvoice) -> None:
    currency = invoice.currency
    lines_net = sum((line.net_amount for line in invoice.lines), Decimal(0))
    if lines_net != invoice.net_total:
        raise _fail(
            invoice,
            "net_total",
            f"the lines add up to {round_money(lines_net, currency)}, "
            f"not {invoice.net_total}",
        )
    if any(line.tax_percent is None for line in invoice.lines):
        return
    per_rate = _per_rate(invoice)
    by_rate = sum(
        (round_money(net * rate / 100, currency) for net, rate in per_rate),
        Decimal(0),
    )
    by_line = sum(
        (
            round_money(line.net_amount * (line.tax_percent or 0) / 100, currency)
            for line in invoice.lines
        ),
        Decimal(0),
    )
    if invoice.tax_total not in (by_rate, by_line):
        raise _fail(invoice, "tax_total", _tax_message(invoice, per_rate, by_rate))


def _per_rate(invoice: SupplierInvoice) -> list[tuple[Decimal, Decimal]]:
    """The net amount of each (tax category, rate), as the VAT breakdown has it."""
    nets: dict[tuple[str | None, Decimal], Decimal] = defaultdict(Decimal)
    for line in invoice.lines:
        rate = line.tax_percent if line.tax_percent is not None else Decimal(0)
        nets[(line.tax_category, rate)] += line.net_amount
    return [(net, rate) for (_, rate), net in nets.items()]


def _tax_message(
    invoice: SupplierInvoice,
    per_rate: Sequence[tuple[Decimal, Decimal]],
    total: Decimal,
) -> str:
    currency = invoice.currency
    parts = [
        f"{rate.normalize():f}% of {round_money(net, currency)} is "
        f"{round_money(net * rate / 100, currency)}"
        for net, rate in per_rate
    ]
    together = "" if len(parts) == 1 else f", together {total}"
    return f"{' and '.join(parts)}{together}, not {invoice.tax_total}"
