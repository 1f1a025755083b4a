"""Segregation of duties: each rule refuses with a clear reason, across systems."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tieline.model import ClaimLine, ProgressClaim
from tieline.workflows import DutiesNotSegregated, NotAnApprover, UnknownLogin
from tieline.workflows.people import approve, history, tasks_for

from .conftest import Flow, origin
from .helpers import award, invoice, receipt

D = Decimal


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

    # Then the release waits for finance, and is no task of pm.pat's
    assert "INV-2" in [
        t.document_ref for t in tasks_for(flow.store, flow.hub, "fin.fay")
    ]
    assert "INV-2" not in [
        t.document_ref for t in tasks_for(flow.store, flow.hub, "pm.pat")
    ]

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


def test_an_approver_is_not_given_their_own_request_as_a_task(flow: Flow) -> None:
    # Given pm.pat, who approves small requisitions, asks for one himself
    flow.save(
        flow.requisition("REQ-7", ("1", "03 30 00", "2", "45.00")).model_copy(
            update={"requested_by": "pat@site.example"}
        )
    )
    _requisition(flow)

    # Then his tasks show site.sam's request, not his own
    assert [t.document_ref for t in tasks_for(flow.store, flow.hub, "pm.pat")] == [
        "REQ-5"
    ]


def test_a_requester_the_policy_does_not_know_blocks_the_decision(
    flow: Flow,
) -> None:
    # Given a requisition from a Procore login nobody mapped
    flow.save(
        flow.requisition("REQ-8", ("1", "03 30 00", "2", "45.00")).model_copy(
            update={"requested_by": "temp@site.example"}
        )
    )
    flow.drive()

    # Then no approver may decide it until the policy says who that is
    with pytest.raises(DutiesNotSegregated, match="requester unknown to the policy"):
        approve(flow.store, flow.hub, "REQ-8", "odoo:ppat")
    first = history(flow.store, "REQ-8")[0]
    assert (first.actor, first.system, first.login) == (
        "system:procore",
        "procore",
        "temp@site.example",
    )


def test_automatic_steps_are_recorded_as_tielines_not_a_persons(flow: Flow) -> None:
    # Given pm.pat approves site.sam's requisition
    _requisition(flow)
    approve(flow.store, flow.hub, "REQ-5", "odoo:ppat")

    # Then the order is raised by tieline, in the same step
    steps = [(h.to_state, h.actor, h.actor_kind) for h in history(flow.store, "REQ-5")]
    assert steps[1:] == [
        ("approved", "pm.pat", "person"),
        ("ordered", "system:order_from_requisition", "system"),
    ]

    # And a claim past its contract value is stopped by the contract check,
    # not by the integration that sent it
    sc = flow.subcontract("SC-9", ("A", "03 30 00", "100.00"))
    claim = ProgressClaim(
        origin=origin("SC-9-1"),
        commitment_id=sc.id,
        period=1,
        period_end=date(2026, 3, 31),
        currency="USD",
        lines=[ClaimLine(commitment_line_key="A", claimed_to_date=D("100.01"))],
    )
    flow.save(sc)
    flow.save(claim, actor="integration")
    flow.drive()
    submitted, stopped = history(flow.store, "SC-9 claim 1")
    assert (submitted.actor, submitted.system) == ("svc.procore", "procore")
    assert (stopped.to_state, stopped.actor, stopped.actor_kind) == (
        "stopped",
        "system:contract_value_check",
        "system",
    )
