"""Budget revisions and change orders count only once approved."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tieline.model import (
    Budget,
    BudgetLine,
    BudgetRevision,
    BudgetRevisionLine,
    BudgetStatus,
    ChangeOrder,
    ChangeOrderLine,
    ChangeOrderStatus,
    RevisionStatus,
)
from tieline.reports import load_cost_report
from tieline.workflows import DutiesNotSegregated
from tieline.workflows.people import approve, reject, tasks_for

from .conftest import Flow, origin

D = Decimal


def _concrete(flow: Flow) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    (project,) = load_cost_report(flow.store).projects
    amounts = {line.cost_code: line.amounts for line in project.lines}["03 30 00"]
    return (
        amounts.revised_budget,
        amounts.pending_budget_changes,
        amounts.committed,
        amounts.pending_change_orders,
    )


def test_a_budget_revision_changes_the_budget_only_once_approved(flow: Flow) -> None:
    budget = Budget(
        origin=origin("B-1"),
        project_id=flow.project.id,
        currency="USD",
        status=BudgetStatus.APPROVED,
        lines=[BudgetLine(line_key="1", cost_code="03 30 00", amount=D("100000.00"))],
    )
    revision = BudgetRevision(
        origin=origin("BR-1"),
        project_id=flow.project.id,
        number="BR-1",
        reason="thicker slab",
        currency="USD",
        status=RevisionStatus.SUBMITTED,
        lines=[BudgetRevisionLine(cost_code="03 30 00", amount=D("5000.00"))],
    )
    flow.save(budget)
    flow.save(revision, actor="pat@site.example")
    flow.drive()

    # Pending: shown apart, the revised budget unchanged
    assert _concrete(flow) == (D("100000.00"), D("5000.00"), D(0), D(0))
    (task,) = tasks_for(flow.store, flow.hub, "dir.dan")
    assert task.document_ref == "BR-1"

    # Approved: the revised budget moves
    approve(flow.store, flow.hub, "BR-1", "odoo:ddan", "agreed with client")
    assert _concrete(flow) == (D("105000.00"), D(0), D(0), D(0))


def test_a_rejected_change_order_never_changes_committed(flow: Flow) -> None:
    sc = flow.subcontract("SC-1", ("A", "03 30 00", "20000.00"))
    order = ChangeOrder(
        origin=origin("CO-1"),
        commitment_id=sc.id,
        number="CO-1",
        reason="extra pour",
        currency="USD",
        status=ChangeOrderStatus.SUBMITTED,
        lines=[
            ChangeOrderLine(line_key="A", cost_code="03 30 00", amount=D("2500.00"))
        ],
    )
    flow.save(sc, order)
    flow.drive()
    assert _concrete(flow) == (D(0), D(0), D("20000.00"), D("2500.00"))

    reject(flow.store, flow.hub, "CO-1", "odoo:ddan", "not in scope")
    assert _concrete(flow) == (D(0), D(0), D("20000.00"), D(0))


def test_the_requester_of_a_change_cannot_approve_it(flow: Flow) -> None:
    order = ChangeOrder(
        origin=origin("CO-2", "odoo"),
        commitment_id=flow.subcontract("SC-2", ("A", "03 30 00", "1.00")).id,
        number="CO-2",
        reason="more",
        currency="USD",
        status=ChangeOrderStatus.SUBMITTED,
        lines=[ChangeOrderLine(line_key="A", cost_code="03 30 00", amount=D("9.00"))],
    )
    flow.save(flow.subcontract("SC-2", ("A", "03 30 00", "1.00")))
    flow.save(order, actor="ddan")
    flow.drive()
    with pytest.raises(DutiesNotSegregated, match="requester cannot approve"):
        approve(flow.store, flow.hub, "CO-2", "odoo:ddan")
