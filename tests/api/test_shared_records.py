"""Records the group shares (suppliers, group cost codes, crosswalks).

Any legal entity's staff read them; only a grant on every entity (`*`)
writes them, and a supplier's bank accounts are changed by neither a buyer
nor unseen: the change is audited on its own, and leaves the supplier
pending until another person activates it.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tieline.governance import Role
from tieline.governance._schema import audit_log
from tieline.model import CostCode

ACCOUNT = {"account_number": "GB33BUKB20201555555555", "holder": "Fraud Ltd"}


def _body(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }


def _put(hub: Any, path: str, headers: dict[str, str], **changes: Any) -> Any:
    current = hub.client.get(path, headers=headers)
    assert current.status_code == 200, current.text
    return hub.client.put(
        path,
        json=dict(_body(current.json()), **changes),
        headers={**headers, "If-Match": current.headers["etag"]},
    )


def _group_code(hub: Any) -> str:
    code = CostCode.model_validate(
        {
            "origin": {"system": "seed", "key": "mf-03"},
            "system": "masterformat",
            "code": "03",
            "name": "Concrete",
        }
    )
    with hub.store.transaction() as tx:
        return tx.save(code, actor="seed").record.id


def test_a_buyer_of_one_entity_reads_but_cannot_change_a_supplier(
    hub: Any, estate: Any
) -> None:
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    path = f"/v1/suppliers/{estate['s1']}"

    renamed = _put(hub, path, buyer, legal_name="Renamed")
    rerouted = _put(hub, path, buyer, bank_accounts=[ACCOUNT])
    created = hub.client.post(
        "/v1/suppliers",
        json={"origin": {"system": "t", "key": "s9"}, "legal_name": "New"},
        headers=buyer,
    )

    assert (renamed.status_code, rerouted.status_code) == (403, 403)
    assert created.status_code == 403
    assert hub.client.get(path, headers=buyer).json()["bank_accounts"] == []


def test_a_controller_of_one_entity_cannot_rename_a_group_cost_code(
    hub: Any, estate: Any
) -> None:
    controller = hub.caller("pc", (Role.PROJECT_CONTROLLER, estate["le_a"], None))
    group_wide = hub.caller("pc-all", (Role.PROJECT_CONTROLLER, "*", None))
    path = f"/v1/cost-codes/{_group_code(hub)}"

    refused = _put(hub, path, controller, name="Renamed")
    renamed = _put(hub, path, group_wide, name="Renamed")

    assert refused.status_code == 403
    assert renamed.status_code == 200, renamed.text


def test_a_buyer_never_changes_where_a_supplier_is_paid(hub: Any, estate: Any) -> None:
    buyer = hub.caller("buyer", (Role.BUYER, "*", None))
    path = f"/v1/suppliers/{estate['s1']}"

    renamed = _put(hub, path, buyer, legal_name="Renamed")
    rerouted = _put(hub, path, buyer, bank_accounts=[ACCOUNT])

    assert renamed.status_code == 200, renamed.text
    assert rerouted.status_code == 403
    assert rerouted.json()["errors"][0]["field"] == "bank_accounts"


def test_a_bank_change_is_audited_and_holds_the_supplier_until_another_activates(
    hub: Any, estate: Any
) -> None:
    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    other = hub.caller("admin2", (Role.ADMIN, "*", None))
    path = f"/v1/suppliers/{estate['s1']}"

    # Given an admin changes the bank account
    changed = _put(hub, path, admin, bank_accounts=[ACCOUNT])
    # When the same admin, then another, activates the supplier again
    own = _put(hub, path, admin, status="active")
    activated = _put(hub, path, other, status="active")

    # Then the change left it pending, and only the other could activate it
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "pending"
    assert own.status_code == 403
    assert "segregation of duties" in own.json()["detail"]
    assert activated.status_code == 200, activated.text
    with hub.store.transaction() as tx:
        rows = tx.connection.execute(
            select(audit_log).where(
                audit_log.c.action == "supplier.bank_accounts_changed"
            )
        ).all()
    assert [(row.actor, row.target) for row in rows] == [
        ("service:admin", f"supplier/{estate['s1']}")
    ]
    details = json.loads(rows[0].details)
    assert details["after"] == ["****5555"]
    assert ACCOUNT["account_number"] not in rows[0].details


def test_the_owning_systems_integration_changes_bank_accounts_without_a_hold(
    hub: Any, estate: Any
) -> None:
    # Given a supplier of Odoo's vendor master
    odoo = hub.caller("odoo", (Role.INTEGRATION_OPERATOR, "*", None))
    procore = hub.caller("svc.procore", (Role.INTEGRATION_OPERATOR, "*", None))
    made = hub.client.post(
        "/v1/suppliers",
        json={"origin": {"system": "odoo", "key": "V-1"}, "legal_name": "Vendor"},
        headers=odoo,
    )
    assert made.status_code == 201, made.text
    path = f"/v1/suppliers/{made.json()['id']}"

    # When Odoo's integration changes its bank accounts, it stays active
    changed = _put(hub, path, odoo, bank_accounts=[ACCOUNT])
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "active"

    # But another system's integration changing them puts it on hold
    other = dict(ACCOUNT, account_number="GB94BARC10201530093459")
    held = _put(hub, path, procore, bank_accounts=[other])
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "pending"
