"""Requisition to order to receipt to invoice to payment, end to end."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tieline.model import (
    Commitment,
    CommitmentLine,
    CommitmentStatus,
    CommitmentType,
    InvoiceStatus,
    Payment,
    Requisition,
    RequisitionStatus,
    SupplierInvoice,
)
from tieline.reports import accruals, load_cost_report, read_cost_records
from tieline.workflows import TransitionRefused
from tieline.workflows.invoices import sync_payments
from tieline.workflows.people import approve, history, reject, tasks_for

from .conftest import START, Flow, origin
from .helpers import invoice, receipt

D = Decimal


def _state(flow: Flow, workflow: str, document: str) -> str:
    from tieline.workflows._machine import instances_of

    with flow.store.transaction() as tx:
        (found,) = [
            i for i in instances_of(tx.connection, document) if i.workflow == workflow
        ]
    return found.state


def _invoice(flow: Flow, record: SupplierInvoice) -> SupplierInvoice:
    with flow.store.transaction() as tx:
        stored = tx.get(SupplierInvoice, record.id)
    assert stored is not None
    return stored


def _order(flow: Flow, number: str) -> Commitment:
    with flow.store.transaction() as tx:
        (found,) = [c for c in tx.list(Commitment) if c.number == number]
    return found


def test_a_requisition_runs_to_payment_with_partial_receipts(flow: Flow) -> None:
    # Given a requisition from site (Procore), under the small-requisition band
    flow.save(
        flow.requisition(
            "REQ-1", ("1", "03 30 00", "100", "45.00"), ("2", "03 20 00", "50", "12.50")
        )
    )
    flow.drive()
    (task,) = tasks_for(flow.store, flow.hub, "odoo:ppat")
    assert (task.document_ref, task.state) == ("REQ-1", "submitted")
    assert task.due_at == START + timedelta(hours=24)  # the policy's target

    # When the project manager approves it from Odoo
    approve(flow.store, flow.hub, "REQ-1", "odoo:ppat", "needed for the pour")
    flow.drive()

    # Then it is an approved order, pushed once to the ERP as confirmed
    order = _order(flow, "PO-REQ-1")
    assert order.status is CommitmentStatus.APPROVED
    assert flow.erp.calls == ["push_purchase_order PO-REQ-1"]
    assert _state(flow, "order", "PO-REQ-1") == "dispatched"
    assert _state(flow, "requisition", "REQ-1") == "ordered"

    # When 60 of 100 arrive, then the rest
    flow.save(receipt(order, "GR-1", ("1", "60")))
    flow.drive()
    assert _state(flow, "order", "PO-REQ-1") == "partly_received"
    flow.save(receipt(order, "GR-2", ("1", "40"), ("2", "50")))
    flow.drive()
    assert _state(flow, "order", "PO-REQ-1") == "received"

    # And an invoice bills the first delivery, with 10 % tax
    first = invoice(order, "INV-1", ("1", "60", "45.00", "2700.00"), tax_percent="10")
    flow.save(first)
    flow.drive()

    # Then the policy approved it, it is posted, and payment waits for finance
    assert _invoice(flow, first).status is InvoiceStatus.POSTED
    steps = [(h.to_state, h.actor, h.actor_kind) for h in history(flow.store, "INV-1")]
    assert steps == [
        ("received", "system:intake", "system"),
        ("approved", "policy:three-way-match", "policy"),
        ("posted", "system:post_vendor_bill", "system"),
    ]
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "fin.fay")] == [
        "INV-1"
    ]

    # Accrual before the second invoice: received not invoiced, per line
    with flow.store.transaction() as tx:
        accrued = accruals(read_cost_records(tx))
    assert accrued == {(order.id, "1"): D("1800.00"), (order.id, "2"): D("625.00")}

    # When finance releases it and the ERP pays it
    assert (
        approve(flow.store, flow.hub, "INV-1", "odoo:ffay") == "INV-1: payment released"
    )
    bill_ref = flow.erp.bills and next(iter(flow.erp.bills))
    flow.erp.pay(str(bill_ref), D("2970.00"), date(2026, 4, 1), "PAY-1")
    (payment,) = sync_payments(flow.store, flow.hub, flow.erp)

    # Then the invoice is paid and the payment is recorded
    assert (payment.amount, payment.allocations[0].invoice_id) == (
        D("2970.00"),
        first.id,
    )
    assert _invoice(flow, first).status is InvoiceStatus.PAID
    assert sync_payments(flow.store, flow.hub, flow.erp) == []

    # When a second invoice bills the rest, at 45.80 (1.8 % over: within 2 %)
    second = invoice(
        order, "INV-2", ("1", "40", "45.80", "1832.00"), ("2", "50", "12.50", "625.00")
    )
    flow.save(second)
    flow.drive()
    assert _invoice(flow, second).status is InvoiceStatus.POSTED

    # Then the cost report equals the figures worked out here
    report = load_cost_report(flow.store)
    (project,) = report.projects
    lines = {line.cost_code: line.amounts for line in project.lines}
    concrete, forms = lines["03 30 00"], lines["03 20 00"]
    assert (concrete.committed, concrete.received) == (100 * D("45.00"), D("4500.00"))
    assert concrete.invoiced == D("2700.00") + 40 * D("45.80")
    assert concrete.paid == D("2700.00")  # 2970.00 gross * 2700.00 / 2970.00
    assert (forms.committed, forms.received, forms.invoiced, forms.paid) == (
        50 * D("12.50"),
        D("625.00"),
        D("625.00"),
        D(0),
    )
    assert flow.erp.calls.count("push_purchase_order PO-REQ-1") == 1


def test_a_rejected_requisition_orders_nothing(flow: Flow) -> None:
    # Given a requisition over 10 000: the director's
    req = flow.requisition("REQ-9", ("1", "03 30 00", "1000", "45.00"))
    flow.save(req)
    flow.drive()
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "dir.dan")] == [
        "REQ-9"
    ]
    assert tasks_for(flow.store, flow.hub, "pm.pat") == []

    # When the director rejects it
    reject(flow.store, flow.hub, "REQ-9", "odoo:ddan", "use stock from P-2")
    flow.drive()

    # Then nothing is ordered or pushed, and the history says who and why
    with flow.store.transaction() as tx:
        stored = tx.get(Requisition, req.id)
        assert tx.list(Commitment) == []
    assert stored is not None
    assert stored.status is RequisitionStatus.REJECTED
    assert flow.erp.calls == []
    last = history(flow.store, "REQ-9")[-1]
    assert (last.to_state, last.actor, last.system, last.login, last.comment) == (
        "rejected",
        "dir.dan",
        "odoo",
        "ddan",
        "use stock from P-2",
    )

    # And a second decision is refused with the reason
    with pytest.raises(Exception, match="waits for no decision"):
        approve(flow.store, flow.hub, "REQ-9", "odoo:ddan")


def _odoo_order(flow: Flow, number: str, quantity: str, price: str) -> Commitment:
    amount = D(quantity) * D(price)
    order = Commitment(
        origin=origin(number, "odoo"),
        number=number,
        commitment_type=CommitmentType.PURCHASE_ORDER,
        legal_entity_id=flow.entity.id,
        project_id=flow.project.id,
        supplier_id=flow.supplier.id,
        currency="USD",
        status=CommitmentStatus.APPROVED,
        lines=[
            CommitmentLine(
                line_key="1",
                project_id=flow.project.id,
                cost_code="27 15 00",
                quantity=D(quantity),
                unit_price=D(price),
                amount=amount,
            )
        ],
    )
    flow.save(order)
    return order


def test_a_price_out_of_tolerance_goes_to_a_person_who_rejects_it(flow: Flow) -> None:
    # Given 100 cables at 8.50 ordered and received, billed at 9.00 (+5.9 %)
    order = _odoo_order(flow, "PO-7", "100", "8.50")
    flow.save(receipt(order, "GR-7", ("1", "100"), final=True))
    billed = invoice(order, "INV-7", ("1", "100", "9.00", "900.00"))
    flow.save(billed)
    flow.drive()

    # Then it waits for the project manager with the difference shown
    (task,) = tasks_for(flow.store, flow.hub, "pm.pat")
    assert task.details == (
        "line 1: unit price billed 9.00, expected 8.50 (allowed up to 8.50 +/- 2%)",
    )
    stored = _invoice(flow, billed)
    assert stored.status is InvoiceStatus.RECEIVED
    assert stored.status_reason == (
        "waiting for a person: line 1: unit price billed 9.00, expected 8.50 "
        "(allowed up to 8.50 +/- 2%)"
    )
    assert flow.erp.bills == {}

    # When they reject it, it is never posted and the report leaves it out
    reject(flow.store, flow.hub, "INV-7", "pm.pat", "price not agreed")
    flow.drive()
    assert _invoice(flow, billed).status is InvoiceStatus.REJECTED
    assert flow.erp.bills == {}
    (project,) = load_cost_report(flow.store).projects
    assert project.totals.invoiced == D(0)
    assert project.totals.received == D("850.00")


def test_billing_more_than_received_waits_and_a_person_approves(flow: Flow) -> None:
    # Given 25 stands ordered, 20 received, 25 billed
    order = _odoo_order(flow, "PO-2", "25", "45.00")
    flow.save(receipt(order, "GR-2", ("1", "20")))
    billed = invoice(order, "INV-2", ("1", "25", "45.00", "1125.00"))
    flow.save(billed)
    flow.drive()
    (task,) = tasks_for(flow.store, flow.hub, "pm.pat")
    assert task.details == (
        "line 1: received quantity to date billed 25, expected 20 "
        "(allowed up to 20 + 0%)",
    )

    # When the project manager approves it, it is posted
    approve(flow.store, flow.hub, "INV-2", "odoo:ppat", "last 5 on site, not booked")
    flow.drive()
    assert _invoice(flow, billed).status is InvoiceStatus.POSTED
    # And the approver cannot release its payment (another person must)
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "fin.fay")] == [
        "INV-2"
    ]


def test_a_duplicate_invoice_is_stopped(flow: Flow) -> None:
    # Given an invoice matched and posted
    order = _odoo_order(flow, "PO-3", "10", "150.00")
    flow.save(receipt(order, "GR-3", ("1", "10"), final=True))
    first = invoice(order, "INV-2024-001", ("1", "10", "150.00", "1500.00"))
    flow.save(first)
    flow.drive()

    # When the same supplier sends the same reference again, spelled apart
    again = invoice(
        order,
        "inv-2024-001 ",
        ("1", "10", "150.00", "1500.00"),
        key="mail-77",
        system="email",
    )
    flow.save(again)
    flow.drive()

    # Then the second is stopped as a duplicate and counted nowhere
    stored = _invoice(flow, again)
    assert stored.status is InvoiceStatus.REJECTED
    assert stored.status_reason == (
        f"duplicate of invoice {first.id} (same supplier and reference)"
    )
    assert _invoice(flow, first).status is InvoiceStatus.POSTED
    assert len(flow.erp.bills) == 1
    (project,) = load_cost_report(flow.store).projects
    assert project.totals.invoiced == D("1500.00")


def test_an_illegal_move_is_refused_with_a_reason(flow: Flow) -> None:
    from tieline.workflows._identity import system_actor
    from tieline.workflows.invoices import InvoiceFlow

    order = _odoo_order(flow, "PO-4", "1", "10.00")
    flow.save(receipt(order, "GR-4", ("1", "1")))
    billed = invoice(order, "INV-4", ("1", "1", "10.00", "10.00"))
    flow.save(billed)
    flow.drive()
    with flow.store.transaction() as tx:
        machine = InvoiceFlow.load(tx, flow.hub, billed.id)
        with pytest.raises(TransitionRefused) as refused:
            machine.paid(system_actor("erp", "test"), _payment(flow, billed))
    assert str(refused.value) == (
        "invoice INV-4: cannot go from posted to paid: from posted it can only go "
        "to released"
    )


def _payment(flow: Flow, billed: SupplierInvoice) -> Payment:
    return Payment(
        origin=origin("PAY-X", "erp"),
        legal_entity_id=flow.entity.id,
        supplier_id=flow.supplier.id,
        reference="PAY-X",
        paid_on=date(2026, 4, 1),
        currency="USD",
        amount=billed.gross_total,
    )
