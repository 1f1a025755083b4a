"""Every route as every role: what each may do, and what each is refused.

The estate (see conftest) has records of every kind in entity A, and
commitments of two suppliers. Callers hold one role in entity A (partners:
their supplier, in every entity).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tieline.api._records import RESOURCES
from tieline.governance import Role
from tieline.governance._schema import audit_log
from tieline.governance.roles import PERMISSIONS, Action

# The record of each kind that the estate keeps in entity A.
SEED = {
    "legal_entity": "le_a",
    "project": "p_a",
    "cost_code": "cost_code1",
    "cost_code_crosswalk": "cost_code_crosswalk1",
    "budget": "budget1",
    "budget_revision": "budget_revision1",
    "supplier": "s1",
    "commitment": "c2",  # the draft: an approved one is not edited
    "change_order": "co1",
    "goods_receipt": "gr1",
    "supplier_invoice": "i1",
    "progress_claim": "k1",
    "payment": "pay1",
}

# A field of each kind to change in an update that is not an approval.
EDIT = {
    "legal_entity": ("name", "Renamed"),
    "project": ("name", "Renamed"),
    "cost_code": ("name", "Renamed"),
    "cost_code_crosswalk": ("to_code", "X9"),
    "budget": ("currency", "USD"),
    "budget_revision": ("reason", "Renamed"),
    "supplier": ("legal_name", "Renamed"),
    "commitment": ("description", "Renamed"),
    "change_order": ("reason", "Renamed"),
    "goods_receipt": ("number", "GR-9"),
    "supplier_invoice": ("supplier_name", "Renamed"),
    "progress_claim": ("period", 2),
    "payment": ("reference", "PAY-9"),
}

STAFF_ROLES = [role for role in Role if role is not Role.PARTNER]
# Kinds whose records (here) the group shares: no legal entity owns them.
SHARED = {"supplier", "cost_code_crosswalk"}
# A new legal entity, too, is in no entity a caller holds a grant in.
GROUP_WIDE = SHARED | {"legal_entity"}


def _body(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }


def _read_as_seed(hub: Any, kind: str, record_id: str) -> tuple[dict[str, Any], str]:
    from tieline.model import RECORD_TYPES

    with hub.store.transaction() as tx:
        record = tx.get(RECORD_TYPES[kind], record_id)
    assert record is not None
    return record.model_dump(mode="json"), f'"v{record.version}"'


@pytest.mark.parametrize("role", [*STAFF_ROLES, None], ids=lambda r: str(r))
def test_every_route_gives_each_role_exactly_its_permissions(
    hub: Any, estate: Any, sample: Any, role: Role | None
) -> None:
    headers = hub.caller(
        "caller", *([(role, estate["le_a"], None)] if role is not None else [])
    )
    allowed = PERMISSIONS[role] if role is not None else {}
    for kind, segment in RESOURCES.items():
        actions = allowed.get(kind, frozenset())
        reads = Action.READ in actions
        record_id = estate[SEED[kind]]

        listed = hub.client.get(f"/v1/{segment}", headers=headers)
        assert listed.status_code == (200 if reads else 403), (kind, listed.text)
        read = hub.client.get(f"/v1/{segment}/{record_id}", headers=headers)
        assert read.status_code == (200 if reads else 403), (kind, read.text)

        created = hub.client.post(
            f"/v1/{segment}",
            json=sample(kind, f"new-{kind}", estate.ids),
            headers=headers,
        )
        # Records in no entity are written only with a grant on all of them.
        creates = Action.CREATE in actions and kind not in GROUP_WIDE
        assert created.status_code == (201 if creates else 403), (kind, created.text)

        current, tag = _read_as_seed(hub, kind, record_id)
        field, value = EDIT[kind]
        body = dict(_body(current), **{field: value})
        updated = hub.client.put(
            f"/v1/{segment}/{record_id}",
            json=body,
            headers={**headers, "If-Match": tag},
        )
        updates = Action.UPDATE in actions and kind not in SHARED
        expected = 200 if updates else 403 if reads else 404
        assert updated.status_code == expected, (kind, updated.text)


def test_only_a_grant_on_every_entity_creates_a_legal_entity(
    hub: Any, estate: Any, sample: Any
) -> None:
    operator = hub.caller("operator", (Role.INTEGRATION_OPERATOR, "*", None))

    created = hub.client.post(
        "/v1/legal-entities",
        json=sample("legal_entity", "C", estate.ids),
        headers=operator,
    )

    assert created.status_code == 201


def test_a_role_in_one_entity_sees_nothing_of_another(hub: Any, estate: Any) -> None:
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))

    listed = hub.client.get("/v1/commitments", headers=buyer).json()["items"]
    other = hub.client.get(f"/v1/commitments/{estate['c3']}", headers=buyer)
    create_in_b = hub.client.post(
        "/v1/projects",
        json={
            "origin": {"system": "t", "key": "pb2"},
            "code": "x",
            "name": "x",
            "legal_entity_id": estate["le_b"],
            "currency": "EUR",
            "cost_code_system": "m",
        },
        headers=buyer,
    )

    assert {item["id"] for item in listed} == {estate["c1"], estate["c2"]}
    assert other.status_code == 404
    assert create_in_b.status_code == 403


def test_moving_a_record_to_another_entity_needs_rights_in_both(
    hub: Any, estate: Any
) -> None:
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    current, tag = _read_as_seed(hub, "commitment", estate["c2"])
    body = dict(_body(current), legal_entity_id=estate["le_b"])

    moved = hub.client.put(
        f"/v1/commitments/{estate['c2']}",
        json=body,
        headers={**buyer, "If-Match": tag},
    )

    assert moved.status_code == 403


PARTNER_VIEW = {
    "commitments": ({"c1", "c3"}, {"c2"}),
    "change-orders": ({"co1"}, {"co2"}),
    "progress-claims": ({"k1"}, {"k2"}),
    "invoices": ({"i1"}, {"i2"}),
    "payments": ({"pay1"}, {"pay2"}),
    "suppliers": ({"s1"}, {"s2"}),
}


@pytest.fixture
def partners(hub: Any, estate: Any) -> dict[str, dict[str, str]]:
    """Headers of partner 1 (supplier s1) and partner 2 (supplier s2)."""
    return {
        "p1": hub.caller("p1", (Role.PARTNER, "*", estate["s1"])),
        "p2": hub.caller("p2", (Role.PARTNER, "*", estate["s2"])),
    }


@pytest.mark.parametrize("segment", sorted(PARTNER_VIEW))
def test_a_partner_lists_and_reads_only_its_own(
    hub: Any, estate: Any, partners: dict[str, dict[str, str]], segment: str
) -> None:
    own, others = PARTNER_VIEW[segment]

    listed = hub.client.get(f"/v1/{segment}", headers=partners["p1"])
    guessed = [
        hub.client.get(f"/v1/{segment}/{estate[name]}", headers=partners["p1"])
        for name in sorted(others)
    ]
    mine = [
        hub.client.get(f"/v1/{segment}/{estate[name]}", headers=partners["p1"])
        for name in sorted(own)
    ]

    assert {item["id"] for item in listed.json()["items"]} == {
        estate[name] for name in own
    }
    assert [answer.status_code for answer in guessed] == [404] * len(others)
    assert [answer.status_code for answer in mine] == [200] * len(own)


def test_the_other_partner_is_refused_the_first_partners_records(
    hub: Any, estate: Any, partners: dict[str, dict[str, str]]
) -> None:
    for segment, (own, _) in PARTNER_VIEW.items():
        for name in own:
            answer = hub.client.get(
                f"/v1/{segment}/{estate[name]}", headers=partners["p2"]
            )
            assert answer.status_code == 404, (segment, name)
            # The refusal looks exactly like a record that does not exist.
            missing = hub.client.get(
                f"/v1/{segment}/00000000-0000-0000-0000-000000000000",
                headers=partners["p2"],
            )
            assert answer.json()["title"] == missing.json()["title"]


def test_a_guessed_id_is_audited_as_a_refusal(
    hub: Any, estate: Any, partners: dict[str, dict[str, str]]
) -> None:
    hub.client.get(f"/v1/invoices/{estate['i1']}", headers=partners["p2"])

    with hub.store.transaction() as tx:
        rows = tx.connection.execute(
            select(audit_log).where(audit_log.c.action == "permission.refused")
        ).all()
    assert [(row.actor, row.target) for row in rows] == [
        ("service:p2", f"supplier_invoice/{estate['i1']}")
    ]


@pytest.mark.parametrize(
    "segment", ["projects", "legal-entities", "receipts", "budgets", "cost-codes"]
)
def test_a_partner_sees_nothing_outside_its_contracts(
    hub: Any, partners: dict[str, dict[str, str]], segment: str
) -> None:
    assert hub.client.get(f"/v1/{segment}", headers=partners["p1"]).status_code == 403


def _claim(
    estate: Any, sample: Any, key: str, commitment: str = "c1", **changes: Any
) -> dict[str, Any]:
    body = sample(
        "progress_claim", key, estate.ids, system="partner:p1", commitment=commitment
    )
    body.update(changes)
    return body


def test_a_partner_submits_claims_and_invoices_on_its_own_contracts(
    hub: Any, estate: Any, sample: Any, partners: dict[str, dict[str, str]]
) -> None:
    claim = hub.client.post(
        "/v1/progress-claims", json=_claim(estate, sample, "k9"), headers=partners["p1"]
    )
    invoice = hub.client.post(
        "/v1/invoices",
        json=sample("supplier_invoice", "inv9", estate.ids, system="partner:p1"),
        headers=partners["p1"],
    )

    assert claim.status_code == 201, claim.text
    assert claim.json()["changed_by"] == "service:p1"
    assert invoice.status_code == 201, invoice.text


def test_a_partner_cannot_submit_against_another_partners_contract(
    hub: Any, estate: Any, sample: Any, partners: dict[str, dict[str, str]]
) -> None:
    claim = hub.client.post(
        "/v1/progress-claims",
        json=_claim(estate, sample, "k9", commitment="c2"),
        headers=partners["p1"],
    )
    as_other_supplier = hub.client.post(
        "/v1/invoices",
        json=sample(
            "supplier_invoice",
            "inv9",
            estate.ids,
            system="partner:p1",
            supplier="s2",
            commitment="c2",
        ),
        headers=partners["p1"],
    )
    on_other_commitment = hub.client.post(
        "/v1/invoices",
        json=sample(
            "supplier_invoice",
            "inv8",
            estate.ids,
            system="partner:p1",
            supplier="s1",
            commitment="c2",
        ),
        headers=partners["p1"],
    )

    assert claim.status_code == 403
    assert as_other_supplier.status_code == 403
    assert on_other_commitment.status_code == 403


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "certified"}, "status"),
        ({"origin": {"system": "erp", "key": "k9"}}, "origin.system"),
        (
            {
                "lines": [
                    {
                        "commitment_line_key": "1",
                        "claimed_to_date": "1.00",
                        "certified_to_date": "1.00",
                    }
                ]
            },
            "lines[0].certified_to_date",
        ),
    ],
)
def test_a_partner_cannot_certify_or_borrow_an_origin(
    hub: Any,
    estate: Any,
    sample: Any,
    partners: dict[str, dict[str, str]],
    changes: dict[str, Any],
    field: str,
) -> None:
    answer = hub.client.post(
        "/v1/progress-claims",
        json=_claim(estate, sample, "k9", **changes),
        headers=partners["p1"],
    )

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == field


def test_a_partner_cannot_change_what_it_submitted(
    hub: Any, estate: Any, sample: Any, partners: dict[str, dict[str, str]]
) -> None:
    created = hub.client.post(
        "/v1/progress-claims", json=_claim(estate, sample, "k9"), headers=partners["p1"]
    )
    body = _body(created.json())
    body["lines"] = [{"commitment_line_key": "1", "claimed_to_date": "900.00"}]

    changed = hub.client.put(
        f"/v1/progress-claims/{created.json()['id']}",
        json=body,
        headers={**partners["p1"], "If-Match": created.headers["etag"]},
    )

    assert changed.status_code == 403


def test_an_approver_changes_status_only_and_never_their_own_change(
    hub: Any, estate: Any
) -> None:
    approver = hub.caller("approver", (Role.FINANCE_APPROVER, estate["le_a"], None))
    buyer = hub.caller("buyer", (Role.BUYER, estate["le_a"], None))
    current, tag = _read_as_seed(hub, "commitment", estate["c2"])
    path = f"/v1/commitments/{estate['c2']}"

    # Given the buyer changes the commitment, then the approver approves it
    edited = hub.client.put(
        path,
        json=dict(_body(current), description="Edited"),
        headers={**buyer, "If-Match": tag},
    )
    approved = hub.client.put(
        path,
        json=dict(_body(edited.json()), status="approved"),
        headers={**approver, "If-Match": edited.headers["etag"]},
    )
    # Then the approver may not change amounts, nor approve its own change
    lines = [dict(current["lines"][0], amount="9.00")]
    changed_amounts = hub.client.put(
        path,
        json=dict(_body(approved.json()), status="closed", lines=lines),
        headers={**approver, "If-Match": approved.headers["etag"]},
    )
    own = hub.client.put(
        path,
        json=dict(_body(approved.json()), status="closed"),
        headers={**approver, "If-Match": approved.headers["etag"]},
    )

    assert edited.status_code == 200, edited.text
    assert approved.status_code == 200, approved.text
    assert changed_amounts.status_code == 403
    assert own.status_code == 403
    assert "segregation of duties" in own.json()["detail"]


def test_a_read_only_key_cannot_write_whatever_its_roles(
    hub: Any, estate: Any, sample: Any
) -> None:
    admin_read = hub.caller("reader", (Role.ADMIN, "*", None), scopes=("records:read",))

    read = hub.client.get("/v1/projects", headers=admin_read)
    write = hub.client.post(
        "/v1/projects", json=sample("project", "pz", estate.ids), headers=admin_read
    )

    assert read.status_code == 200
    assert write.status_code == 403


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN])
def test_only_admins_administer_identities(hub: Any, estate: Any, role: Role) -> None:
    supplier = estate["s1"] if role is Role.PARTNER else None
    headers = hub.caller("someone", (role, "*", supplier))

    listed = hub.client.get("/v1/identities", headers=headers)
    created = hub.client.post(
        "/v1/identities", json={"kind": "service", "name": "rogue"}, headers=headers
    )

    assert listed.status_code == 403
    assert created.status_code == 403


@pytest.mark.parametrize("role", list(Role))
def test_only_auditors_and_admins_read_the_audit_log(
    hub: Any, estate: Any, role: Role
) -> None:
    supplier = estate["s1"] if role is Role.PARTNER else None
    headers = hub.caller("someone", (role, "*", supplier))

    entries = hub.client.get("/v1/audit", headers=headers)
    verification = hub.client.get("/v1/audit/verification", headers=headers)

    expected = 200 if role in (Role.ADMIN, Role.AUDITOR) else 403
    assert entries.status_code == expected
    assert verification.status_code == expected


def test_every_route_refuses_a_caller_without_credentials(hub: Any) -> None:
    document = hub.client.get("/openapi.json").json()
    refused = []
    for path, operations in document["paths"].items():
        if path in ("/health", "/oauth/token", "/openapi.json"):
            continue
        concrete = path.replace("{record_id}", "x").replace("{identity_id}", "x")
        concrete = concrete.replace("{key_id}", "x")
        for method in operations:
            answer = hub.client.request(method.upper(), concrete, json={})
            refused.append((method, path, answer.status_code))

    assert refused
    assert {status for *_, status in refused} == {401}


def test_a_partner_sees_nothing_of_a_commitment_not_yet_issued_to_it(
    hub: Any, estate: Any, sample: Any, partners: dict[str, dict[str, str]]
) -> None:
    # Supplier 2's commitment c2 is a draft: the group's own business.
    p2 = partners["p2"]

    listed = hub.client.get("/v1/commitments", headers=p2)
    read = hub.client.get(f"/v1/commitments/{estate['c2']}", headers=p2)
    claims = hub.client.get("/v1/progress-claims", headers=p2)
    claimed = hub.client.post(
        "/v1/progress-claims",
        json=sample(
            "progress_claim", "k9", estate.ids, system="partner:p2", commitment="c2"
        ),
        headers=p2,
    )

    assert listed.json()["items"] == []
    assert read.status_code == 404
    assert claims.json()["items"] == []
    assert claimed.status_code == 403
