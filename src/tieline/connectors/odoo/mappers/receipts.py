"""Goods receipt <-> the order's incoming stock.picking (validated; a partial
receipt leaves a backorder)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

from tieline.connectors.odoo.mappers._base import Mapper
from tieline.model import GoodsReceipt


class ReceiptMapper(Mapper):
    """Sets each move's done quantity from the receipt's lines."""

    model: ClassVar[str] = "stock.picking"

    def move_quantities(
        self,
        receipt: GoodsReceipt,
        moves: list[dict[str, Any]],
        line_ids: dict[str, int],
    ) -> dict[int, Decimal]:
        """Move id -> quantity received now (0 for lines this receipt skips)."""
        by_order_line = {
            line_ids[line.commitment_line_key]: line.quantity
            for line in receipt.lines
            if line.commitment_line_key in line_ids
        }
        quantities: dict[int, Decimal] = {}
        for move in moves:
            order_line = (
                move["purchase_line_id"][0] if move["purchase_line_id"] else None
            )
            quantities[move["id"]] = by_order_line.get(order_line or 0, Decimal(0))
        return quantities
