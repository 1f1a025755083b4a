"""The three-way match on a third party's audit sample with planted mismatches.

Five orders, receipts and invoices (shared data `saaf-three-way-match`): two
match; PO-002 received 20 of 25 but billed 25; PO-003 billed at 9.00 against
8.50; PO-005 received and billed 6 against 5 ordered.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    InvoiceStatus,
    Origin,
    SupplierInvoice,
)
from tieline.workflows.people import tasks_for

from .conftest import Flow
from .helpers import invoice, receipt

D = Decimal


def _rows(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _order(flow: Flow, row: dict[str, str]) -> Commitment:
    quantity, price = D(row["quantity"]), D(row["unit_price"])
    return Commitment(
        origin=Origin(system="saaf", key=row["po_number"]),
        number=row["po_number"],
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id=flow.entity.id,
        project_id=flow.project.id,
        supplier_id=flow.supplier.id,
        currency="USD",
        status=CommitmentStatus.APPROVED,
        order_date=date(2024, 3, 1),
        lines=[
            CommitmentLine(
                line_key="1",
                description=row["item_description"],
                project_id=flow.project.id,
                cost_code="01 00 00",
                quantity=quantity,
                unit_price=price,
                amount=quantity * price,
            )
        ],
    )


@pytest.mark.shared_data
def test_the_planted_mismatches_go_to_a_person(flow: Flow, shared_data: Path) -> None:
    # Given the sample's orders, receipts and invoices
    folder = shared_data / "saaf-three-way-match"
    orders = {
        row["po_number"]: _order(flow, row)
        for row in _rows(folder, "purchase_orders.csv")
    }
    flow.save(*orders.values())
    for row in _rows(folder, "goods_receipts.csv"):
        order = orders[row["po_number"]]
        flow.save(receipt(order, row["gr_number"], ("1", row["quantity_received"])))
    invoices = {}
    for row in _rows(folder, "invoices.csv"):
        qty, price = D(row["quantity_billed"]), D(row["unit_price_billed"])
        billed = invoice(
            orders[row["po_number"]],
            row["invoice_number"],
            ("1", str(qty), str(price), str(qty * price)),
        )
        invoices[row["invoice_number"]] = billed
    flow.save(*invoices.values())

    # When the workflows run
    flow.drive()

    # Then the two clean invoices pass on the policy, the three others wait
    with flow.store.transaction() as tx:
        status = {
            ref: tx.get(SupplierInvoice, record.id).status  # type: ignore[union-attr]
            for ref, record in invoices.items()
        }
    assert status == {
        "INV-2024-001": InvoiceStatus.POSTED,
        "INV-2024-002": InvoiceStatus.RECEIVED,
        "INV-2024-003": InvoiceStatus.RECEIVED,
        "INV-2024-004": InvoiceStatus.POSTED,
        "INV-2024-005": InvoiceStatus.RECEIVED,
    }
    waiting = {
        t.document_ref: t.details
        for t in tasks_for(flow.store, flow.hub, "pm.pat")
        if t.state == "awaiting_approval"
    }
    assert waiting == {
        "INV-2024-002": (
            "line 1: received quantity to date billed 25, expected 20 "
            "(allowed up to 20 + 0%)",
        ),
        "INV-2024-003": (
            "line 1: unit price billed 9.00, expected 8.50 (allowed up to 8.50 +/- 2%)",
        ),
        "INV-2024-005": (
            "line 1: ordered quantity to date billed 6, expected 5 "
            "(allowed up to 5 + 0%)",
        ),
    }
