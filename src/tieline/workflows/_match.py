"""The three-way match: order, receipt and invoice, line by line.

For each invoice line, against the commitment line it names:

- **price** (lines with a unit price on both sides): the billed unit price
  may differ from the order's by at most `price_percent` of the order's price;
- **quantity** (lines with quantities): what is billed to date on the line
  (earlier counted invoices plus this one) may exceed neither what was
  received to date nor what was ordered by more than `quantity_percent`;
- **amount** (lines without quantities, such as subcontract lines valued by
  certificate): what is billed to date may exceed neither what was received
  (for a subcontract: certified) to date nor the line's contract value, by
  more than `quantity_percent`;
- a line naming no order line, or one the order does not have, is a
  difference in itself.

The defaults (stated in `Tolerance`): quantity 0 %, price 2 %. The result
lists every difference with what was expected, what was billed and what the
tolerance allowed, so a person sees why the invoice came to them.

TODO: a subcontract valuation sent as Peppol (the example estate's NSF-V02)
bills each lump-sum line as quantity 1 at this period's value and deducts
retention as a document allowance. The match reads those as price and
quantity differences against the contract's 1 x full value, and the
allowance as a line naming no order line, so such a valuation always waits
for a person, although the intake finds it within what was certified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from tieline.model import InvoiceLine, SupplierInvoice
from tieline.workflows._common import ContractLine
from tieline.workflows._policy import Tolerance

_ZERO = Decimal(0)
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Progress:
    """Quantity and amount to date on one commitment line."""

    quantity: Decimal = _ZERO
    amount: Decimal = _ZERO

    def plus(self, quantity: Decimal | None, amount: Decimal) -> Progress:
        """This progress with one more line added."""
        return Progress(self.quantity + (quantity or _ZERO), self.amount + amount)


@dataclass(frozen=True, slots=True)
class Difference:
    """One way an invoice line differs from its order or receipt."""

    line_key: str
    check: str
    expected: str
    billed: str
    allowed: str

    def __str__(self) -> str:
        return (
            f"line {self.line_key}: {self.check} billed {self.billed}, expected "
            f"{self.expected} (allowed up to {self.allowed})"
        )


def three_way_match(
    invoice: SupplierInvoice,
    order: Mapping[str, ContractLine],
    received: Mapping[str, Progress],
    billed_before: Mapping[str, Progress],
    tolerance: Tolerance,
) -> list[Difference]:
    """Every difference of `invoice` from its order and receipts; [] is a match."""
    differences: list[Difference] = []
    for line in invoice.lines:
        key = line.commitment_line_key
        ordered = order.get(key) if key else None
        if key is None or ordered is None:
            differences.append(
                Difference(
                    line.line_key, "order line", "a line of the order", str(key), "none"
                )
            )
            continue
        before = billed_before.get(key, Progress())
        differences.extend(_price(line, ordered, tolerance))
        differences.extend(
            _to_date(line, ordered, received.get(key, Progress()), before, tolerance)
        )
    return differences


def _price(
    line: InvoiceLine, ordered: ContractLine, tolerance: Tolerance
) -> list[Difference]:
    if line.unit_price is None or ordered.unit_price is None:
        return []
    allowed = ordered.unit_price * tolerance.price_percent / _HUNDRED
    if abs(line.unit_price - ordered.unit_price) <= allowed:
        return []
    band = f"{ordered.unit_price} +/- {tolerance.price_percent}%"
    return [
        Difference(
            line.line_key,
            "unit price",
            str(ordered.unit_price),
            str(line.unit_price),
            band,
        )
    ]


def _to_date(
    line: InvoiceLine,
    ordered: ContractLine,
    received: Progress,
    before: Progress,
    tolerance: Tolerance,
) -> list[Difference]:
    slack = 1 + tolerance.quantity_percent / _HUNDRED
    by_quantity = line.quantity is not None and ordered.quantity is not None
    if by_quantity:
        billed = before.quantity + (line.quantity or _ZERO)
        limits = (
            ("received quantity", received.quantity),
            ("ordered quantity", ordered.quantity or _ZERO),
        )
    else:
        billed = before.amount + line.net_amount
        limits = (
            ("received or certified value", received.amount),
            ("contract value", ordered.amount),
        )
    found = []
    for name, limit in limits:
        if billed > limit * slack:
            found.append(
                Difference(
                    line.line_key,
                    f"{name} to date",
                    str(limit),
                    str(billed),
                    f"{limit} + {tolerance.quantity_percent}%",
                )
            )
    return found
