"""Decisions (approved, certified, posted, paid...) are never a plain write.

A writer reaches a decided status only through the kind's approval path: the
workflow's actions for invoices, claims, revisions and change orders; the
status-only approve action with maker-checker for commitments, budgets and
payments; or as the owning system's integration (a service identity with the
integration operator role).
"""

from __future__ import annotations

from typing import Any

import pytest

from tieline.governance import Role
from tieline.model import (
    ChangeOrder,
    ChangeOrderStatus,
    Commitment,
    SupplierInvoice,
)


def _body(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }


def _refused_on_status(answer: Any) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in answer.json()["errors"]] == ["status"]


def _stored(hub: Any, cls: Any, record_id: str) -> Any:
    with hub.store.transaction() as tx:
        return tx.get(cls, record_id)


def test_a_buyer_cannot_create_an_approved_commitment(
    hub: Any, estate: Any, sample: Any
) -> None:
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    body = dict(sample("commitment", "c9", estate.ids), status="approved")

    answer = hub.client.post("/v1/commitments", json=body, headers=buyer)

    _refused_on_status(answer)
    assert "decision" in answer.json()["detail"]
    assert _stored(hub, Commitment, Commitment.model_validate(body).id) is None


def test_a_buyer_cannot_approve_its_own_draft_by_updating_it(
    hub: Any, estate: Any, sample: Any
) -> None:
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    created = hub.client.post(
        "/v1/commitments", json=sample("commitment", "c9", estate.ids), headers=buyer
    )

    approved = hub.client.put(
        f"/v1/commitments/{created.json()['id']}",
        json=dict(_body(created.json()), status="approved"),
        headers={**buyer, "If-Match": created.headers["etag"]},
    )

    assert created.status_code == 201
    _refused_on_status(approved)
    assert _stored(hub, Commitment, created.json()["id"]).status.value == "draft"


@pytest.mark.parametrize("status", ["approved", "paid", "matched", "posted"])
def test_accounts_payable_cannot_create_an_approved_or_paid_invoice(
    hub: Any, estate: Any, sample: Any, status: str
) -> None:
    ap = hub.caller("ap", (Role.ACCOUNTS_PAYABLE, estate["le_a"], None))
    body = dict(sample("supplier_invoice", "inv9", estate.ids), status=status)

    answer = hub.client.post("/v1/invoices", json=body, headers=ap)

    _refused_on_status(answer)


def test_an_approver_decides_an_invoice_in_its_workflow_not_by_update(
    hub: Any, estate: Any
) -> None:
    approver = hub.caller("approver", (Role.FINANCE_APPROVER, estate["le_a"], None))
    path = f"/v1/invoices/{estate['i1']}"
    current = hub.client.get(path, headers=approver)

    approved = hub.client.put(
        path,
        json=dict(_body(current.json()), status="approved"),
        headers={**approver, "If-Match": current.headers["etag"]},
    )

    _refused_on_status(approved)
    assert f"/v1/documents/invoice/{estate['i1']}/approve" in approved.json()["detail"]
    assert _stored(hub, SupplierInvoice, estate["i1"]).status.value == "received"


def test_accounts_payable_proposes_a_payment_and_an_approver_releases_it(
    hub: Any, estate: Any, sample: Any
) -> None:
    ap = hub.caller("ap", (Role.ACCOUNTS_PAYABLE, estate["le_a"], None))
    approver = hub.caller("approver", (Role.FINANCE_APPROVER, estate["le_a"], None))

    # Given AP records a payment as paid, and then as pending
    paid = hub.client.post(
        "/v1/payments",
        json=dict(sample("payment", "pay9", estate.ids), status="paid"),
        headers=ap,
    )
    pending = hub.client.post(
        "/v1/payments",
        json=dict(sample("payment", "pay9", estate.ids), status="pending"),
        headers=ap,
    )
    path = f"/v1/payments/{pending.json()['id']}"
    # When the approver changes the amount, and then only the status
    more = hub.client.put(
        path,
        json=dict(_body(pending.json()), status="paid", amount="999.00"),
        headers={**approver, "If-Match": pending.headers["etag"]},
    )
    released = hub.client.put(
        path,
        json=dict(_body(pending.json()), status="paid"),
        headers={**approver, "If-Match": pending.headers["etag"]},
    )
    # Then AP may no longer change the paid payment
    edited = hub.client.put(
        path,
        json=dict(_body(released.json()), reference="PAY-X"),
        headers={**ap, "If-Match": released.headers["etag"]},
    )

    _refused_on_status(paid)
    assert pending.status_code == 201, pending.text
    assert more.status_code == 403
    assert released.status_code == 200, released.text
    assert released.json()["status"] == "paid"
    _refused_on_status(edited)


def test_an_approved_commitment_is_not_edited_by_its_buyer(
    hub: Any, estate: Any, sample: Any
) -> None:
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    approver = hub.caller("approver", (Role.FINANCE_APPROVER, estate["le_a"], None))
    created = hub.client.post(
        "/v1/commitments", json=sample("commitment", "c9", estate.ids), headers=buyer
    )
    path = f"/v1/commitments/{created.json()['id']}"
    approved = hub.client.put(
        path,
        json=dict(_body(created.json()), status="approved"),
        headers={**approver, "If-Match": created.headers["etag"]},
    )
    lines = [dict(created.json()["lines"][0], amount="900000.00")]

    raised = hub.client.put(
        path,
        json=dict(_body(approved.json()), lines=lines),
        headers={**buyer, "If-Match": approved.headers["etag"]},
    )

    assert approved.status_code == 200, approved.text
    _refused_on_status(raised)
    assert _stored(hub, Commitment, created.json()["id"]).lines[0].amount == 1000


def test_whoever_made_or_changed_a_record_never_approves_it(
    hub: Any, estate: Any, sample: Any
) -> None:
    # Given one identity that buys and approves, and a second buyer
    both = hub.caller(
        "both",
        (Role.BUYER, estate["le_a"], None),
        (Role.FINANCE_APPROVER, estate["le_a"], None),
    )
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    created = hub.client.post(
        "/v1/commitments", json=sample("commitment", "c9", estate.ids), headers=both
    )
    path = f"/v1/commitments/{created.json()['id']}"
    # When the second buyer makes the last change, and the first approves
    edited = hub.client.put(
        path,
        json=dict(_body(created.json()), description="checked"),
        headers={**buyer, "If-Match": created.headers["etag"]},
    )
    approved = hub.client.put(
        path,
        json=dict(_body(edited.json()), status="approved"),
        headers={**both, "If-Match": edited.headers["etag"]},
    )

    # Then the maker is refused even though another changed it last
    assert edited.status_code == 200, edited.text
    assert approved.status_code == 403
    assert "segregation of duties" in approved.json()["detail"]


def test_the_owning_systems_integration_writes_decided_statuses(
    hub: Any, estate: Any, sample: Any
) -> None:
    # An Odoo or project-controls integration mirrors what its system decided:
    # the service named after the records' origin system.
    integration = hub.caller("odoo", (Role.INTEGRATION_OPERATOR, "*", None))
    body = dict(
        sample("commitment", "c9", estate.ids, system="odoo"), status="approved"
    )
    invoice = sample("supplier_invoice", "inv9", estate.ids, system="odoo")

    created = hub.client.post("/v1/commitments", json=body, headers=integration)
    paid = hub.client.post(
        "/v1/invoices", json=dict(invoice, status="paid"), headers=integration
    )

    assert created.status_code == 201, created.text
    assert paid.status_code == 201, paid.text


def _put(hub: Any, headers: dict[str, str], path: str, **changes: Any) -> Any:
    current = hub.client.get(path, headers=headers)
    assert current.status_code == 200, current.text
    return hub.client.put(
        path,
        json=dict(_body(current.json()), **changes),
        headers={**headers, "If-Match": current.headers["etag"]},
    )


def _seed(hub: Any, headers: dict[str, str], segment: str, body: Any) -> str:
    made = hub.client.post(f"/v1/{segment}", json=body, headers=headers)
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_another_systems_integration_cannot_approve_a_change_order(
    hub: Any, estate: Any, sample: Any
) -> None:
    # Given a change order made in tieline, waiting for its approver
    tieline = hub.caller("tieline", (Role.INTEGRATION_OPERATOR, "*", None))
    procore = hub.caller("svc.procore", (Role.INTEGRATION_OPERATOR, "*", None))
    body = dict(
        sample("change_order", "CO-T1-02", estate.ids, system="tieline"),
        status="submitted",
    )
    order = _seed(hub, tieline, "change-orders", body)

    # When the Procore integration writes it approved
    answer = _put(hub, procore, f"/v1/change-orders/{order}", status="approved")

    # Then it is refused, naming the field and the workflow action to use
    _refused_on_status(answer)
    detail = answer.json()["detail"]
    assert f"POST /v1/documents/change_order/{order}/approve" in detail
    assert "origin system (tieline)" in detail
    stored = _stored(hub, ChangeOrder, order)
    assert stored.status is ChangeOrderStatus.SUBMITTED


def test_another_systems_integration_cannot_overturn_a_rejected_invoice(
    hub: Any, estate: Any, sample: Any
) -> None:
    # Given an invoice read from a UBL file, rejected by a person
    ubl = hub.caller("ubl", (Role.INTEGRATION_OPERATOR, "*", None))
    procore = hub.caller("svc.procore", (Role.INTEGRATION_OPERATOR, "*", None))
    body = dict(
        sample("supplier_invoice", "FPH-9004", estate.ids, system="ubl"),
        status="rejected",
    )
    invoice = _seed(hub, ubl, "invoices", body)

    # When the Procore integration writes it approved
    answer = _put(hub, procore, f"/v1/invoices/{invoice}", status="approved")

    # Then it stays rejected
    _refused_on_status(answer)
    assert f"/v1/documents/invoice/{invoice}/approve" in answer.json()["detail"]
    assert _stored(hub, SupplierInvoice, invoice).status.value == "rejected"


def test_retention_is_released_only_by_its_owning_system(
    hub: Any, estate: Any, sample: Any
) -> None:
    # Given a subcontract made in Odoo
    odoo = hub.caller("odoo", (Role.INTEGRATION_OPERATOR, "*", None))
    procore = hub.caller("svc.procore", (Role.INTEGRATION_OPERATOR, "*", None))
    approver = hub.caller("approver", (Role.FINANCE_APPROVER, "*", None))
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    body = dict(
        sample("commitment", "SC-T1", estate.ids, system="odoo"), status="approved"
    )
    subcontract = _seed(hub, odoo, "commitments", body)
    path = f"/v1/commitments/{subcontract}"

    # When another system's integration, or a person, releases its retention
    by_procore = _put(hub, procore, path, retention_released_on="2026-11-30")
    by_person = _put(hub, approver, path, retention_released_on="2026-11-30")
    made_released = hub.client.post(
        "/v1/commitments",
        json=dict(
            sample("commitment", "SC-T2", estate.ids),
            retention_released_on="2026-11-30",
        ),
        headers=buyer,
    )
    # Then each is refused naming the field; Odoo itself may record it
    for answer in (by_procore, by_person, made_released):
        assert answer.status_code == 403, answer.text
        assert [e["field"] for e in answer.json()["errors"]] == [
            "retention_released_on"
        ]
        assert "retention release workflow" in answer.json()["detail"]
    assert _stored(hub, Commitment, subcontract).retention_released_on is None
    by_odoo = _put(hub, odoo, path, retention_released_on="2026-11-30")
    assert by_odoo.status_code == 200, by_odoo.text
    assert str(_stored(hub, Commitment, subcontract).retention_released_on) == (
        "2026-11-30"
    )
