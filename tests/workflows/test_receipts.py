"""Order to receipt: partial and final deliveries, late and over receipts.

Accruals (received, not invoiced) are worked out here from the receipts'
quantities and the order's prices, rounded half-up to the cent as a receipt
line's amount is, never read back from tieline.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    GoodsReceipt,
)
from tieline.reports import accruals, read_cost_records
from tieline.store._schema import dead_letters
from tieline.workflows import list_exceptions
from tieline.workflows.people import history, tasks_for

from .conftest import Flow, origin
from .helpers import invoice, receipt

D = Decimal
CENT = D("0.01")
PRICES = {"1": D("12.37"), "2": D("8.05")}
ORDERED = {"1": D("100"), "2": D("40")}


def _order(flow: Flow) -> Commitment:
    """An approved order from Odoo of two lines with prices that round."""
    order = Commitment(
        origin=origin("PO-40", "odoo"),
        number="PO-40",
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id=flow.entity.id,
        project_id=flow.project.id,
        supplier_id=flow.supplier.id,
        currency=flow.currency,
        status=CommitmentStatus.APPROVED,
        lines=[
            CommitmentLine(
                line_key=key,
                project_id=flow.project.id,
                cost_code=code,
                quantity=ORDERED[key],
                unit_price=PRICES[key],
                amount=ORDERED[key] * PRICES[key],
            )
            for key, code in (("1", "03 30 00"), ("2", "03 20 00"))
        ],
    )
    flow.save(order)
    return order


def _worth(key: str, quantity: str) -> Decimal:
    """A receipt line's value: quantity at the order's price, to the cent."""
    return (D(quantity) * PRICES[key]).quantize(CENT, rounding=ROUND_HALF_UP)


def _order_state(flow: Flow) -> str:
    return [h.to_state for h in history(flow.store, "PO-40")][-1]


def _states(flow: Flow) -> list[str]:
    return [h.to_state for h in history(flow.store, "PO-40")]


def _accrued(flow: Flow, order: Commitment) -> dict[str, Decimal]:
    with flow.store.transaction() as tx:
        found = accruals(read_cost_records(tx))
    return {key: amount for (cid, key), amount in found.items() if cid == order.id}


def _dead_letters(flow: Flow) -> list[str]:
    with flow.store.engine.connect() as connection:
        return [
            str(row.reason) for row in connection.execute(select(dead_letters.c.reason))
        ]


def test_a_partial_then_a_final_receipt_move_the_order_and_its_accruals(
    flow: Flow,
) -> None:
    order = _order(flow)

    # When a third of line 1 arrives (33.3 of 100), and nothing of line 2
    flow.save(receipt(order, "GR-40a", ("1", "33.3")))
    flow.drive()

    # Then the order is partly received, and the accrual is that delivery
    assert _order_state(flow) == "partly_received"
    assert _accrued(flow, order) == {"1": _worth("1", "33.3")}
    assert _accrued(flow, order)["1"] == D("411.92")

    # When part of it is invoiced (20 at the order's price)
    flow.save(invoice(order, "INV-40", ("1", "20", "12.37", "247.40")))
    flow.drive()
    assert _accrued(flow, order) == {"1": _worth("1", "33.3") - D("247.40")}

    # When the rest of both lines arrives
    flow.save(receipt(order, "GR-40b", ("1", "66.7"), ("2", "40")))
    flow.drive()

    # Then the order is received, and everything received but not invoiced
    # accrues, to the cent
    assert _states(flow) == [
        "awaiting_dispatch",
        "dispatched",
        "partly_received",
        "received",
    ]
    assert _accrued(flow, order) == {
        "1": _worth("1", "33.3") + _worth("1", "66.7") - D("247.40"),
        "2": _worth("2", "40"),
    }
    assert _accrued(flow, order) == {"1": D("989.60"), "2": D("322.00")}
    assert _dead_letters(flow) == []


def test_receipts_handled_together_move_the_order_one_delivery_at_a_time(
    flow: Flow,
) -> None:
    order = _order(flow)

    # When a partial and the final delivery are both stored before the
    # workflow handles either (a day's deliveries imported at once)
    flow.save(
        receipt(order, "GR-41a", ("1", "60"), ("2", "10")),
        receipt(order, "GR-41b", ("1", "40"), ("2", "30")),
    )
    flow.drive()

    # Then the first makes the order partly received and the second received:
    # a receipt the workflow has not handled yet does not count
    assert _states(flow) == [
        "awaiting_dispatch",
        "dispatched",
        "partly_received",
        "received",
    ]
    # (in either order: the two receipts are events of two subjects, which
    # the backbone may hand to the workflow in parallel)
    assert sorted(h.comment for h in history(flow.store, "PO-40")[-2:]) == [
        "GR-41a",
        "GR-41b",
    ]
    assert _dead_letters(flow) == []
    assert _accrued(flow, order) == {"1": D("1237.00"), "2": D("322.00")}


def test_a_receipt_handled_again_changes_nothing(flow: Flow) -> None:
    order = _order(flow)
    flow.save(receipt(order, "GR-42", ("1", "100"), ("2", "40")))
    flow.drive()
    assert _order_state(flow) == "received"
    before = _states(flow)

    # When the same receipt comes again (the field app resends it, corrected
    # in a note only: a new version of the same record)
    again = receipt(order, "GR-42", ("1", "100"), ("2", "40"))
    flow.save(again.model_copy(update={"final": True}))
    flow.drive()

    # Then nothing moves, nothing is flagged, nothing is dead-lettered
    assert _states(flow) == before
    with flow.store.engine.connect() as connection:
        assert list_exceptions(connection) == []
    assert _dead_letters(flow) == []


def test_a_receipt_past_the_ordered_quantity_is_flagged_not_dead_lettered(
    flow: Flow,
) -> None:
    order = _order(flow)
    flow.save(receipt(order, "GR-43a", ("1", "100"), ("2", "40")))
    flow.drive()
    assert _order_state(flow) == "received"

    # When another delivery arrives for an order fully received
    flow.save(receipt(order, "GR-43b", ("2", "5")))
    flow.drive()

    # Then the order stays received, the over-receipt waits on the exception
    # queue for its owner, naming the order, the line and the quantities
    assert _order_state(flow) == "received"
    assert _dead_letters(flow) == []
    with flow.store.engine.connect() as connection:
        (flagged,) = list_exceptions(connection)
    assert (flagged.document_ref, flagged.owner, flagged.reason) == (
        "PO-40",
        "ctrl.cy",
        "over-receipt on order PO-40: receipt GR-43b brings line 2 to 45 "
        "received of 40 ordered (5 over)",
    )
    assert [t.reason for t in tasks_for(flow.store, flow.hub, "ctrl.cy")] == [
        flagged.reason
    ]

    # And the goods are counted where they belong: received, for the report
    with flow.store.transaction() as tx:
        (late,) = [r for r in tx.list(GoodsReceipt) if r.number == "GR-43b"]
    assert late.lines[0].amount == _worth("2", "5")
    assert _accrued(flow, order) == {"1": D("1237.00"), "2": _worth("2", "45")}
    with flow.store.engine.connect() as connection:
        assert (
            connection.execute(
                select(func.count()).select_from(dead_letters)
            ).scalar_one()
            == 0
        )
