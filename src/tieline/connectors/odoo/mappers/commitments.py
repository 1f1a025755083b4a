"""Commitment <-> purchase.order; each line's analytic distribution carries
its project and cost code as one cross-plan key ("<project>,<cost code>": 100).

A subcontract is a purchase order of service lines (no receipt); a purchase
order's lines are goods, received through the order's incoming picking.

Each line names its taxes explicitly, so that Odoo adds none of the product's
default vendor taxes (those of whichever company made the product): the
order's totals in Odoo are then tieline's. A commitment's amounts are net
and its lines carry no tax rate, so every line goes with no tax at all.

TODO: commitment lines have no tax rate in the canonical model; an order in
Odoo therefore shows no VAT (its total is the net agreed value), and the
VAT appears on the vendor bill only, from the supplier invoice's rates.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import Mapper, to_wire
from tieline.model import Commitment, CommitmentLine, CommitmentType


def distribution(project_account: int, cost_code_account: int) -> dict[str, Decimal]:
    """An analytic distribution of 100% on one project and one cost code."""
    return {f"{project_account},{cost_code_account}": Decimal(100)}


def line_quantity_and_price(line: CommitmentLine) -> tuple[Decimal, Decimal]:
    """The quantity and unit price to send; the line's amount is authoritative.

    With a quantity and a unit price that multiply to the amount, they go as
    they are; otherwise the line is one unit at its amount, so Odoo's subtotal
    is the agreed value to the cent.
    """
    priced = line.quantity and line.unit_price is not None
    if priced and line.quantity * line.unit_price == line.amount:  # type: ignore[operator]
        return line.quantity, line.unit_price  # type: ignore[return-value]
    return Decimal(1), line.amount


class CommitmentMapper(Mapper):
    """Order header and lines; lines are keyed by their commitment line key."""

    model: ClassVar[str] = "purchase.order"
    direct = (("number", "origin"), ("order_date", "date_order"))

    def to_odoo(
        self,
        commitment: Commitment,
        *,
        partner_id: int,
        company_id: int,
        currency_id: int,
        product_id: int,
        accounts: Callable[[CommitmentLine], dict[str, Decimal]],
        taxes_field: str,
    ) -> dict[str, Any]:
        """Values of the order with its lines as (0, 0, vals) commands;
        `taxes_field` is the lines' tax field of the Odoo version."""
        values = self.direct_to_odoo(commitment)
        values.update(
            partner_id=partner_id, company_id=company_id, currency_id=currency_id
        )
        if not values["date_order"]:
            values.pop("date_order")
        values["order_line"] = [
            [0, 0, self._line(line, product_id, accounts(line), taxes_field)]
            for line in commitment.lines
        ]
        return values

    def _line(
        self,
        line: CommitmentLine,
        product_id: int,
        analytic: dict[str, Decimal],
        taxes_field: str,
    ) -> dict[str, Any]:
        quantity, price = line_quantity_and_price(line)
        return {
            "product_id": product_id,
            "name": line.description or f"{line.cost_code} {line.line_key}",
            "product_qty": quantity,
            "price_unit": price,
            "analytic_distribution": analytic,
            # An empty set, not nothing: nothing would let Odoo add the
            # product's default vendor taxes (see the module's docstring).
            taxes_field: [[6, 0, []]],
        }

    def natural_key(self, commitment: Commitment, *, partner_id: int) -> list[Any]:
        """An order of this vendor whose source document is the commitment number."""
        return [
            ("origin", "=", to_wire(commitment.number)),
            ("partner_id", "=", partner_id),
        ]

    def product_kind(self, commitment: Commitment) -> str:
        """`service` lines for a subcontract, `goods` for a purchase order."""
        if commitment.commitment_type is CommitmentType.SUBCONTRACT:
            return "service"
        return "goods"
