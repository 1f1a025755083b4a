"""What landed in Odoo, read through the client as any Odoo user would.

Nothing here looks inside the double, so the same reads work on a real Odoo.
Records are found through the estate's supplier, whose name carries the
run's tag; amounts come back as exact money in the flow's currency.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tieline.money import round_money

from .conftest import OdooFlow


def money(flow: OdooFlow, value: Any) -> Decimal:
    """An Odoo amount (a float on the wire) as exact money."""
    return round_money(Decimal(str(value or 0)), flow.currency)


def partner(flow: OdooFlow) -> int:
    """The supplier's partner in Odoo."""
    (found,) = flow.odoo.search(
        "res.partner", [("name", "=", flow.supplier.legal_name)]
    )
    return found


def orders(flow: OdooFlow) -> dict[str, dict[str, Any]]:
    """The supplier's purchase orders, by source document (the commitment)."""
    rows = flow.odoo.search_read(
        "purchase.order",
        [("partner_id", "=", partner(flow))],
        ["name", "origin", "state", "order_line", "amount_untaxed"],
    )
    return {row["origin"]: row for row in rows}


def order_lines(flow: OdooFlow, order: dict[str, Any]) -> list[dict[str, Any]]:
    """An order's lines, in their order."""
    rows = flow.odoo.read(
        "purchase.order.line",
        order["order_line"],
        ["product_qty", "price_unit", "price_subtotal", "qty_received"],
    )
    return sorted(rows, key=lambda row: order["order_line"].index(row["id"]))


def bills(flow: OdooFlow) -> dict[str, dict[str, Any]]:
    """The supplier's vendor bills, by vendor reference."""
    rows = flow.odoo.search_read(
        "account.move",
        [("move_type", "=", "in_invoice"), ("partner_id", "=", partner(flow))],
        [
            "name",
            "ref",
            "state",
            "amount_total",
            "amount_residual",
            "payment_state",
            "invoice_line_ids",
        ],
    )
    return {row["ref"]: row for row in rows}


def billed_order_lines(flow: OdooFlow, bill: dict[str, Any]) -> list[int]:
    """The order lines a bill's lines bill, sorted."""
    rows = flow.odoo.read(
        "account.move.line", bill["invoice_line_ids"], ["purchase_line_id"]
    )
    return sorted(row["purchase_line_id"][0] for row in rows if row["purchase_line_id"])


def pay(
    flow: OdooFlow, bill: dict[str, Any], on: date, amount: Decimal | None = None
) -> None:
    """What an accountant does in Odoo: Register Payment on the bill."""
    context: dict[str, Any] = {
        "active_model": "account.move",
        "active_ids": [bill["id"]],
    }
    values: dict[str, Any] = {"payment_date": on.isoformat()}
    if amount is not None:
        values["amount"] = amount
    wizard = flow.odoo.create("account.payment.register", values, context=context)
    flow.odoo.call(
        "account.payment.register", "action_create_payments", [wizard], context=context
    )
