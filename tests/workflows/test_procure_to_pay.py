"""Requisition to order to receipt to invoice to payment, end to end in Odoo.

Every test here but the last runs through the Odoo connector's gateway to
the Odoo under test and checks what landed there by reading it through the
client; the cost report's figures are worked out in the test from its inputs.
Bills go to Odoo without tax (the connector maps no taxes yet), so the
invoices here carry none.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from tieline.model import (
    Commitment,
    CommitmentStatus,
    InvoiceStatus,
    Payment,
    Requisition,
    RequisitionStatus,
    SupplierInvoice,
)
from tieline.reports import accruals, load_cost_report, read_cost_records
from tieline.workflows import TransitionRefused, list_exceptions, sweep
from tieline.workflows.invoices import sync_payments
from tieline.workflows.people import approve, history, reject, tasks_for

from . import odoo_view
from .conftest import START, Flow, OdooFlow
from .helpers import award, invoice, receipt

D = Decimal


def state_of(flow: Flow, workflow: str, document: str) -> str:
    """The state of a document's instance of `workflow`."""
    from tieline.workflows._machine import instances_of

    with flow.store.transaction() as tx:
        (found,) = [
            i for i in instances_of(tx.connection, document) if i.workflow == workflow
        ]
    return found.state


def stored(flow: Flow, record: SupplierInvoice) -> SupplierInvoice:
    """The invoice as the store holds it now."""
    with flow.store.transaction() as tx:
        found = tx.get(SupplierInvoice, record.id)
    assert found is not None
    return found


def _order(flow: Flow, number: str) -> Commitment:
    with flow.store.transaction() as tx:
        (found,) = [c for c in tx.list(Commitment) if c.number == number]
    return found


def _payments(flow: Flow) -> list[Payment]:
    with flow.store.transaction() as tx:
        return tx.list(Payment)


@pytest.mark.odoo
def test_a_requisition_runs_to_payment_with_partial_receipts(
    odoo_flow: OdooFlow,
) -> None:
    flow = odoo_flow
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

    # Then it is an approved order, confirmed in Odoo once, line for line
    order = _order(flow, "PO-REQ-1")
    assert order.status is CommitmentStatus.APPROVED
    assert state_of(flow, "requisition", "REQ-1") == "ordered"
    assert state_of(flow, "order", "PO-REQ-1") == "dispatched"
    (po,) = odoo_view.orders(flow).values()
    assert (po["origin"], po["state"]) == ("PO-REQ-1", "purchase")
    assert odoo_view.money(flow, po["amount_untaxed"]) == 100 * D("45.00") + 50 * D(
        "12.50"
    )
    lines = odoo_view.order_lines(flow, po)
    assert [(line["product_qty"], line["price_unit"]) for line in lines] == [
        (D(100), D("45.00")),
        (D(50), D("12.50")),
    ]
    assert history(flow.store, "PO-REQ-1")[-1].comment == po["name"]

    # When 60 of 100 arrive, then the rest
    flow.save(receipt(order, "GR-1", ("1", "60")))
    flow.drive()
    assert state_of(flow, "order", "PO-REQ-1") == "partly_received"
    assert [r["qty_received"] for r in odoo_view.order_lines(flow, po)] == [
        D(60),
        D(0),
    ]
    flow.save(receipt(order, "GR-2", ("1", "40"), ("2", "50")))
    flow.drive()

    # Then Odoo has received everything, through the backorder of the first
    assert state_of(flow, "order", "PO-REQ-1") == "received"
    assert [r["qty_received"] for r in odoo_view.order_lines(flow, po)] == [
        D(100),
        D(50),
    ]

    # When an invoice bills the first delivery
    first = invoice(order, f"INV-1-{flow.tag}", ("1", "60", "45.00", "2700.00"))
    flow.save(first)
    flow.drive()

    # Then the policy approved it, Odoo holds it posted on the order's line,
    # and payment waits for finance
    assert stored(flow, first).status is InvoiceStatus.POSTED
    bill = odoo_view.bills(flow)[first.supplier_reference]
    assert (bill["state"], odoo_view.money(flow, bill["amount_total"])) == (
        "posted",
        D("2700.00"),
    )
    assert odoo_view.billed_order_lines(flow, bill) == [po["order_line"][0]]
    steps = [
        (h.to_state, h.actor, h.actor_kind, h.comment)
        for h in history(flow.store, first.supplier_reference)
    ]
    assert steps == [
        ("received", "system:intake", "system", None),
        (
            "approved",
            "policy:three-way-match",
            "policy",
            "matched within the tolerances of ACME-US",
        ),
        ("posted", "system:post_vendor_bill", "system", bill["name"]),
    ]
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "fin.fay")] == [
        first.supplier_reference
    ]

    # Accrual before the second invoice: received not invoiced, per line
    with flow.store.transaction() as tx:
        accrued = accruals(read_cost_records(tx))
    assert accrued == {
        (order.id, "1"): 40 * D("45.00"),
        (order.id, "2"): 50 * D("12.50"),
    }

    # When finance releases it and the accountant pays it in Odoo
    assert (
        approve(flow.store, flow.hub, first.supplier_reference, "odoo:ffay")
        == f"{first.supplier_reference}: payment released"
    )
    odoo_view.pay(flow, bill, date(2026, 4, 1))
    (payment,) = sync_payments(flow.store, flow.hub, flow.erp)

    # Then the payment comes back, and the invoice is paid
    assert (payment.amount, payment.paid_on, payment.allocations[0].invoice_id) == (
        D("2700.00"),
        date(2026, 4, 1),
        first.id,
    )
    assert payment.reference.startswith("P")  # Odoo's payment number
    assert stored(flow, first).status is InvoiceStatus.PAID
    assert state_of(flow, "invoice", first.supplier_reference) == "paid"
    assert sync_payments(flow.store, flow.hub, flow.erp) == []

    # When a second invoice bills the rest, at 45.80 (1.8 % over: within 2 %)
    second = invoice(
        order,
        f"INV-2-{flow.tag}",
        ("1", "40", "45.80", "1832.00"),
        ("2", "50", "12.50", "625.00"),
    )
    flow.save(second)
    flow.drive()
    assert stored(flow, second).status is InvoiceStatus.POSTED
    approve(flow.store, flow.hub, second.supplier_reference, "odoo:ffay")

    # And Odoo pays it in two instalments
    bill_2 = odoo_view.bills(flow)[second.supplier_reference]
    assert odoo_view.money(flow, bill_2["amount_total"]) == D("2457.00")
    odoo_view.pay(flow, bill_2, date(2026, 4, 15), D("1000.00"))
    (part,) = sync_payments(flow.store, flow.hub, flow.erp)
    assert part.amount == D("1000.00")
    assert state_of(flow, "invoice", second.supplier_reference) == "partly_paid"
    assert stored(flow, second).status_reason == "1000.00 of 2457.00 paid"
    odoo_view.pay(flow, bill_2, date(2026, 4, 30))
    (rest,) = sync_payments(flow.store, flow.hub, flow.erp)
    assert (rest.amount, rest.paid_on) == (D("1457.00"), date(2026, 4, 30))
    assert stored(flow, second).status is InvoiceStatus.PAID

    # Then the cost report equals the figures worked out here, to the cent
    (project,) = load_cost_report(flow.store).projects
    lines_ = {line.cost_code: line.amounts for line in project.lines}
    concrete, forms = lines_["03 30 00"], lines_["03 20 00"]
    assert (concrete.committed, concrete.received) == (100 * D("45.00"), D("4500.00"))
    assert concrete.invoiced == 60 * D("45.00") + 40 * D("45.80")
    assert concrete.paid == concrete.invoiced  # both bills settled in full
    assert (forms.committed, forms.received, forms.invoiced, forms.paid) == (
        50 * D("12.50"),
        50 * D("12.50"),
        50 * D("12.50"),
        50 * D("12.50"),
    )

    # And Odoo's ledger says the same: what was billed, and all of it paid
    billed = odoo_view.bills(flow)
    assert sum(
        (odoo_view.money(flow, b["amount_total"]) for b in billed.values()), D(0)
    ) == (project.totals.invoiced)
    assert [b["payment_state"] for b in billed.values()] == ["paid", "paid"]
    assert sum((p.amount for p in _payments(flow)), D(0)) == project.totals.paid
    assert len(odoo_view.orders(flow)) == 1


@pytest.mark.odoo
def test_a_rejected_requisition_orders_nothing(odoo_flow: OdooFlow) -> None:
    flow = odoo_flow
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

    # Then nothing is ordered, here or in Odoo, and the history says who and why
    with flow.store.transaction() as tx:
        kept = tx.get(Requisition, req.id)
        assert tx.list(Commitment) == []
    assert kept is not None
    assert kept.status is RequisitionStatus.REJECTED
    assert flow.odoo.search("purchase.order", [("origin", "=", "PO-REQ-9")]) == []
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


@pytest.mark.odoo
def test_a_price_out_of_tolerance_goes_to_a_person_who_rejects_it(
    odoo_flow: OdooFlow,
) -> None:
    flow = odoo_flow
    # Given 100 cables at 8.50 awarded in Procore, received, billed at 9.00
    order = award(flow, "PO-7", "100", "8.50", system="procore")
    flow.save(receipt(order, "GR-7", ("1", "100"), final=True))
    billed = invoice(order, f"INV-7-{flow.tag}", ("1", "100", "9.00", "900.00"))
    flow.save(billed)
    flow.drive()

    # Then the order and its delivery are in Odoo, and the invoice waits for
    # the project manager with the difference shown
    (po,) = odoo_view.orders(flow).values()
    assert [r["qty_received"] for r in odoo_view.order_lines(flow, po)] == [D(100)]
    (task,) = tasks_for(flow.store, flow.hub, "pm.pat")
    difference = (
        "line 1: unit price billed 9.00, expected 8.50 (allowed up to 8.50 +/- 2%)"
    )
    assert task.details == (difference,)
    kept = stored(flow, billed)
    assert kept.status is InvoiceStatus.RECEIVED
    assert kept.status_reason == f"waiting for a person: {difference}"
    assert odoo_view.bills(flow) == {}

    # When they reject it, it never reaches Odoo and the report leaves it out
    reject(flow.store, flow.hub, billed.supplier_reference, "pm.pat", "price")
    flow.drive()
    assert stored(flow, billed).status is InvoiceStatus.REJECTED
    assert odoo_view.bills(flow) == {}
    (project,) = load_cost_report(flow.store).projects
    assert (project.totals.invoiced, project.totals.received) == (
        D(0),
        100 * D("8.50"),
    )


@pytest.mark.odoo
def test_a_price_within_tolerance_is_approved_by_the_policy(
    odoo_flow: OdooFlow,
) -> None:
    flow = odoo_flow
    # Given 100 cables at 8.50, billed at 8.67 (2.0 % over: the band's edge)
    order = award(flow, "PO-8", "100", "8.50", system="procore")
    flow.save(receipt(order, "GR-8", ("1", "100"), final=True))
    billed = invoice(order, f"INV-8-{flow.tag}", ("1", "100", "8.67", "867.00"))
    flow.save(billed)
    flow.drive()

    # Then nobody is asked to approve it (only to release its payment), and
    # Odoo holds the bill at the billed price
    assert [(t.state, t.reason) for t in tasks_for(flow.store, flow.hub, "pm.pat")] == [
        ("posted", "approver under rule payments")
    ]
    assert stored(flow, billed).status is InvoiceStatus.POSTED
    bill = odoo_view.bills(flow)[billed.supplier_reference]
    assert odoo_view.money(flow, bill["amount_total"]) == D("867.00")


@pytest.mark.odoo
def test_billing_more_than_received_waits_and_a_person_approves(
    odoo_flow: OdooFlow,
) -> None:
    flow = odoo_flow
    # Given 25 stands awarded, 20 received, 25 billed
    order = award(flow, "PO-2", "25", "45.00", system="procore")
    flow.save(receipt(order, "GR-2", ("1", "20")))
    billed = invoice(order, f"INV-2-{flow.tag}", ("1", "25", "45.00", "1125.00"))
    flow.save(billed)
    flow.drive()
    (task,) = tasks_for(flow.store, flow.hub, "pm.pat")
    assert task.details == (
        "line 1: received quantity to date billed 25, expected 20 "
        "(allowed up to 20 + 0%)",
    )
    assert odoo_view.bills(flow) == {}

    # When the project manager approves it, it is posted in Odoo as billed
    approve(
        flow.store,
        flow.hub,
        billed.supplier_reference,
        "odoo:ppat",
        "last 5 on site, not booked",
    )
    flow.drive()
    assert stored(flow, billed).status is InvoiceStatus.POSTED
    bill = odoo_view.bills(flow)[billed.supplier_reference]
    assert odoo_view.money(flow, bill["amount_total"]) == D("1125.00")

    # And the approver cannot release its payment (another person must)
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "fin.fay")] == [
        billed.supplier_reference
    ]
    with pytest.raises(Exception, match="approved it"):
        approve(flow.store, flow.hub, billed.supplier_reference, "odoo:ppat")


@pytest.mark.odoo
def test_a_receipt_after_a_held_invoice_lets_the_policy_approve_it(
    odoo_flow: OdooFlow,
) -> None:
    flow = odoo_flow
    # Given 25 stands awarded, 20 received, then 25 billed: held for a person,
    # and another order's invoice held for its price
    order = award(flow, "PO-5", "25", "45.00", system="procore")
    cables = award(flow, "PO-6", "10", "8.50", system="procore")
    flow.save(receipt(order, "GR-5a", ("1", "20")))
    billed = invoice(order, f"INV-5-{flow.tag}", ("1", "25", "45.00", "1125.00"))
    priced = invoice(cables, f"INV-6-{flow.tag}", ("1", "10", "9.00", "90.00"))
    flow.save(billed, priced)
    flow.drive()
    assert sorted(
        t.document_ref for t in tasks_for(flow.store, flow.hub, "pm.pat")
    ) == [
        billed.supplier_reference,
        priced.supplier_reference,
    ]
    # ... long enough for the approval step to breach its 72 hours
    flow.clock.advance(hours=73)
    (breach,) = [
        e
        for e in sweep(flow.store, flow.hub)
        if e.document_ref == billed.supplier_reference
    ]

    # When 3 more stands arrive, the invoice is still past receipt: it waits,
    # showing the difference as it is now
    flow.save(receipt(order, "GR-5b", ("1", "3")))
    flow.drive()
    assert state_of(flow, "invoice", billed.supplier_reference) == "awaiting_approval"
    now_short = (
        "line 1: received quantity to date billed 25, expected 23 "
        "(allowed up to 23 + 0%)"
    )
    assert stored(flow, billed).status_reason == f"waiting for a person: {now_short}"
    (task,) = [
        t
        for t in tasks_for(flow.store, flow.hub, "pm.pat")
        if t.document_ref == billed.supplier_reference
    ]
    assert task.details == (now_short,)

    # When the last 2 arrive (and the cables, billed over price)
    flow.save(receipt(order, "GR-5c", ("1", "2"), final=True))
    flow.save(receipt(cables, "GR-6", ("1", "10"), final=True))
    flow.drive()

    # Then the policy approves the first invoice, not a person, and it is
    # posted in Odoo; the person's task and the breach's exception are closed
    steps = [
        (h.to_state, h.actor, h.actor_kind, h.comment)
        for h in history(flow.store, billed.supplier_reference)
    ]
    assert steps[-2:] == [
        (
            "approved",
            "policy:three-way-match",
            "policy",
            "matched within the tolerances of ACME-US after receipt GR-5c",
        ),
        ("posted", "system:post_vendor_bill", "system", steps[-1][3]),
    ]
    assert stored(flow, billed).status is InvoiceStatus.POSTED
    bill = odoo_view.bills(flow)[billed.supplier_reference]
    assert (bill["state"], odoo_view.money(flow, bill["amount_total"])) == (
        "posted",
        D("1125.00"),
    )
    with flow.store.engine.connect() as connection:
        (closed,) = list_exceptions(connection, status="resolved")
    assert (closed.id, closed.notes[-1]) == (
        breach.id,
        "policy:three-way-match: matched after receipt GR-5c; approved by the policy",
    )

    # And the over-priced invoice still waits, its price difference unchanged
    assert state_of(flow, "invoice", priced.supplier_reference) == "awaiting_approval"
    assert [
        t.details
        for t in tasks_for(flow.store, flow.hub, "pm.pat")
        if t.workflow == "invoice" and t.state == "awaiting_approval"
    ] == [
        ("line 1: unit price billed 9.00, expected 8.50 (allowed up to 8.50 +/- 2%)",)
    ]
    assert list(odoo_view.bills(flow)) == [billed.supplier_reference]


@pytest.mark.odoo
def test_a_duplicate_invoice_is_stopped(odoo_flow: OdooFlow) -> None:
    flow = odoo_flow
    # Given an invoice matched and posted
    order = award(flow, "PO-3", "10", "150.00", system="procore")
    flow.save(receipt(order, "GR-3", ("1", "10"), final=True))
    reference = f"INV-2024-001-{flow.tag}"
    first = invoice(order, reference, ("1", "10", "150.00", "1500.00"))
    flow.save(first)
    flow.drive()

    # When the same supplier sends the same reference again, spelled apart
    again = invoice(
        order,
        f" {reference.lower()} ",
        ("1", "10", "150.00", "1500.00"),
        key="mail-77",
        system="email",
    )
    flow.save(again)
    flow.drive()

    # Then the second is stopped as a duplicate, counted nowhere, not in Odoo
    kept = stored(flow, again)
    assert kept.status is InvoiceStatus.REJECTED
    assert kept.status_reason == (
        f"{flow.supplier.legal_name} invoice {reference.lower()} of 2026-03-09 "
        f"duplicates invoice {reference} of 2026-03-09 (same supplier and reference)"
    )
    assert stored(flow, first).status is InvoiceStatus.POSTED
    assert list(odoo_view.bills(flow)) == [reference]
    (project,) = load_cost_report(flow.store).projects
    assert project.totals.invoiced == D("1500.00")


def test_an_illegal_move_is_refused_with_a_reason(flow: Flow) -> None:
    from tieline.workflows._identity import system_actor
    from tieline.workflows.invoices import InvoiceFlow

    order = award(flow, "PO-4", "1", "10.00")
    flow.save(receipt(order, "GR-4", ("1", "1")))
    billed = invoice(order, "INV-4", ("1", "1", "10.00", "10.00"))
    flow.save(billed)
    flow.drive()
    with flow.store.transaction() as tx:
        machine = InvoiceFlow.load(tx, flow.hub, billed.id)
        with pytest.raises(TransitionRefused) as refused:
            machine.paid(system_actor("erp", "test"), "paid")
    assert str(refused.value) == (
        "invoice INV-4: cannot go from posted to paid: from posted it can only go "
        "to released"
    )
    assert flow.memory.calls == ["post_vendor_bill INV-4"]


def test_a_duplicate_names_the_supplier_and_both_invoices_by_number_and_date(
    flow: Flow,
) -> None:
    # Given an invoice INV-77 of 9 March, matched and posted
    order = award(flow, "PO-77", "10", "150.00")
    flow.save(receipt(order, "GR-77", ("1", "10"), final=True))
    first = invoice(order, "INV-77", ("1", "10", "150.00", "1500.00"))
    flow.save(first)
    flow.drive()

    # When the supplier mails it again a week later, its number spelled apart
    again = invoice(
        order, " inv-77 ", ("1", "10", "150.00", "1500.00"), key="mail-78"
    ).model_copy(update={"issue_date": date(2026, 3, 16)})
    flow.save(again)
    flow.drive()

    # Then the stop names the supplier, this invoice's number, and the one it
    # repeats by number and date, in the record and in the history
    reason = (
        "Cascade Concrete LLC invoice inv-77 of 2026-03-16 duplicates invoice "
        "INV-77 of 2026-03-09 (same supplier and reference)"
    )
    kept = stored(flow, again)
    assert (kept.status, kept.status_reason) == (InvoiceStatus.REJECTED, reason)
    (step,) = [h for h in history(flow.store, again.id) if h.to_state == "duplicate"]
    assert (step.actor, step.comment) == ("system:intake", reason)
    assert first.id not in reason
