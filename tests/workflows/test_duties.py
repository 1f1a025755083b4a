"""Segregation of duties: each rule refuses with a clear reason, across systems."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tieline.workflows import DutiesNotSegregated, NotAnApprover, UnknownLogin
from tieline.workflows.people import approve, history, tasks_for

from .conftest import Flow
from .helpers import award, invoice, receipt


def _requisition(flow: Flow, quantity: str = "10") -> None:
    flow.save(flow.requisition("REQ-5", ("1", "03 30 00", quantity, "45.00")))
    flow.drive()


def test_the_requester_cannot_approve_even_from_another_system(flow: Flow) -> None:
    # Given site.sam sent REQ-5 from Procore
    _requisition(flow)

    # When site.sam approves it under their Odoo login
    with pytest.raises(DutiesNotSegregated) as refused:
        approve(flow.store, flow.hub, "REQ-5", "odoo:ssam")

    # Then it is refused, naming both logins and the rule
    assert str(refused.value) == (
        "REQ-5: site.sam requested it (as procore:sam@site.example) and cannot "
        "approve it (as odoo:ssam) (requester cannot approve)"
    )
    assert [h.to_state for h in history(flow.store, "REQ-5")] == ["submitted"]


def test_a_service_identity_can_never_approve(flow: Flow) -> None:
    _requisition(flow)
    with pytest.raises(DutiesNotSegregated) as refused:
        approve(flow.store, flow.hub, "REQ-5", "odoo:procore-bot")
    assert str(refused.value) == (
        "REQ-5: svc.procore is a service identity (via odoo:procore-bot); only a "
        "person can decide (a service identity can never approve)"
    )


def test_someone_the_policy_did_not_assign_cannot_approve(flow: Flow) -> None:
    _requisition(flow)
    with pytest.raises(NotAnApprover) as refused:
        approve(flow.store, flow.hub, "REQ-5", "odoo:ffay")
    assert str(refused.value) == (
        "REQ-5: fin.fay may not decide this step; assigned: pm.pat"
    )


def test_an_unknown_login_is_refused(flow: Flow) -> None:
    _requisition(flow)
    with pytest.raises(UnknownLogin, match="login 'mallory' of system 'odoo'"):
        approve(flow.store, flow.hub, "REQ-5", "odoo:mallory")


def test_the_approver_cannot_release_payment_from_another_system(flow: Flow) -> None:
    # Given an invoice billing more than received, approved by pm.pat in Odoo
    order = award(flow, "PO-2", "25", "45.00")
    flow.save(receipt(order, "GR-2", ("1", "20")))
    flow.save(invoice(order, "INV-2", ("1", "25", "45.00", "1125.00")))
    flow.drive()
    approve(flow.store, flow.hub, "INV-2", "odoo:ppat")
    flow.drive()

    # When pm.pat, who may release payments, releases it from Procore
    with pytest.raises(DutiesNotSegregated) as refused:
        approve(flow.store, flow.hub, "INV-2", "procore:pat@site.example")

    # Then it is refused; finance releases it instead
    assert str(refused.value) == (
        "INV-2: pm.pat approved it (as odoo:ppat) and cannot release its payment "
        "(as procore:pat@site.example) (approver cannot release payment)"
    )
    assert approve(flow.store, flow.hub, "INV-2", "odoo:ffay") == (
        "INV-2: payment released"
    )
    released = history(flow.store, "INV-2")[-1]
    assert (released.to_state, released.actor, released.system) == (
        "released",
        "fin.fay",
        "odoo",
    )


def test_a_policy_approval_is_no_persons_approval(flow: Flow) -> None:
    # Given an invoice the match policy approved
    order = award(flow, "PO-3", "10", "150.00")
    flow.save(receipt(order, "GR-3", ("1", "10"), final=True))
    flow.save(invoice(order, "INV-3", ("1", "10", "150.00", "1500.00")))
    flow.drive()

    # Then the approver on record is the policy, and pm.pat may release it
    approved = history(flow.store, "INV-3")[1]
    assert (approved.actor, approved.actor_kind) == ("policy:three-way-match", "policy")
    assert approve(flow.store, flow.hub, "INV-3", "odoo:ppat") == (
        "INV-3: payment released"
    )


def test_a_delegate_decides_while_the_approver_is_away(flow: Flow) -> None:
    # Given the director away in June, a large requisition arrives
    flow.clock.now = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    _requisition(flow, quantity="1000")

    # Then both the director and the delegate see it, and the delegate decides
    assert [t.reason for t in tasks_for(flow.store, flow.hub, "del.dee")] == [
        "delegate of dir.dan under rule large-requisitions"
    ]
    assert approve(flow.store, flow.hub, "REQ-5", "odoo:ddee") == "REQ-5: approved"
