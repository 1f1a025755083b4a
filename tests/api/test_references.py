"""The records a write names must exist, inside the record's legal entity.

The estate (see conftest) has entities A and B with projects p_a and p_b,
suppliers s1 and s2, commitments c1 (s1, A), c2 (s2, A, a draft) and c3
(s1, B).
"""

from __future__ import annotations

from typing import Any

import pytest

from tieline.governance import Role

MISSING = "00000000-0000-0000-0000-000000000000"


def _body(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in record.items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }


def _refused(answer: Any, field: str, words: str) -> None:
    assert answer.status_code == 422, answer.text
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert words in answer.json()["detail"]


@pytest.fixture
def buyer(hub: Any, estate: Any) -> dict[str, str]:
    """A buyer in entity A only."""
    return hub.caller("buyer", (Role.BUYER, estate["le_a"], None))


@pytest.fixture
def operator(hub: Any) -> dict[str, str]:
    """An integration operator on every entity."""
    return hub.caller("operator", (Role.INTEGRATION_OPERATOR, "*", None))


def test_a_commitment_in_one_entity_cannot_name_a_project_of_another(
    hub: Any, estate: Any, sample: Any, buyer: dict[str, str]
) -> None:
    body = sample("commitment", "c9", estate.ids)
    body["project_id"] = estate["p_b"]

    answer = hub.client.post("/v1/commitments", json=body, headers=buyer)

    _refused(answer, "project_id", "belongs to another legal entity")
    assert (
        hub.client.get(
            "/v1/commitments", params={"project_id": estate["p_b"]}, headers=buyer
        ).json()["items"]
        == []
    )


def test_a_commitment_line_cannot_name_a_project_of_another_entity(
    hub: Any, estate: Any, sample: Any, buyer: dict[str, str]
) -> None:
    body = sample("commitment", "c9", estate.ids)
    body["lines"][0]["project_id"] = estate["p_b"]

    answer = hub.client.post("/v1/commitments", json=body, headers=buyer)

    _refused(answer, "lines[0].project_id", "belongs to another legal entity")


@pytest.mark.parametrize(
    ("kind", "segment", "field"),
    [
        ("commitment", "commitments", "project_id"),
        ("commitment", "commitments", "supplier_id"),
        ("commitment", "commitments", "legal_entity_id"),
        ("change_order", "change-orders", "commitment_id"),
        ("goods_receipt", "receipts", "commitment_id"),
        ("progress_claim", "progress-claims", "commitment_id"),
        ("supplier_invoice", "invoices", "supplier_id"),
        ("supplier_invoice", "invoices", "commitment_id"),
        ("payment", "payments", "supplier_id"),
        ("budget", "budgets", "project_id"),
        ("budget_revision", "budget-revisions", "project_id"),
        ("cost_code", "cost-codes", "project_id"),
        ("project", "projects", "legal_entity_id"),
    ],
)
def test_a_reference_to_nothing_is_refused_naming_its_field(
    hub: Any,
    estate: Any,
    sample: Any,
    operator: dict[str, str],
    kind: str,
    segment: str,
    field: str,
) -> None:
    body = sample(kind, "x9", estate.ids)
    body[field] = MISSING

    answer = hub.client.post(f"/v1/{segment}", json=body, headers=operator)

    _refused(answer, field, f"no {field.removesuffix('_id').replace('_', ' ')}")


def test_a_payment_allocation_names_an_invoice_of_its_supplier(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    body = sample("payment", "pay9", estate.ids)
    body["allocations"] = [
        {"invoice_id": estate["i1"], "amount": "10.00"},
        {"invoice_id": estate["i2"], "amount": "10.00"},
    ]
    missing = dict(body, allocations=[{"invoice_id": MISSING, "amount": "1.00"}])

    other_supplier = hub.client.post("/v1/payments", json=body, headers=operator)
    nothing = hub.client.post("/v1/payments", json=missing, headers=operator)

    _refused(other_supplier, "allocations[1].invoice_id", "another supplier")
    _refused(nothing, "allocations[0].invoice_id", "no supplier invoice")


def test_an_invoice_agrees_with_its_commitment(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    # Invoice of supplier s2 on c1, which is s1's; and in entity B on c1 (A)
    wrong_supplier = sample("supplier_invoice", "inv9", estate.ids, supplier="s2")
    wrong_entity = sample("supplier_invoice", "inv8", estate.ids)
    wrong_entity["legal_entity_id"] = estate["le_b"]

    supplier = hub.client.post("/v1/invoices", json=wrong_supplier, headers=operator)
    entity = hub.client.post("/v1/invoices", json=wrong_entity, headers=operator)

    _refused(supplier, "supplier_id", "commitment is with another supplier")
    _refused(entity, "commitment_id", "belongs to another legal entity")


def test_a_claim_names_lines_its_commitment_has(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    body = sample("progress_claim", "k9", estate.ids)
    body["lines"] = [{"commitment_line_key": "77", "claimed_to_date": "1.00"}]

    answer = hub.client.post("/v1/progress-claims", json=body, headers=operator)

    _refused(answer, "lines[0].commitment_line_key", "has no line '77'")


def test_an_update_is_checked_too(hub: Any, estate: Any, buyer: dict[str, str]) -> None:
    current = hub.client.get(f"/v1/commitments/{estate['c2']}", headers=buyer)
    body = dict(_body(current.json()), project_id=estate["p_b"])

    answer = hub.client.put(
        f"/v1/commitments/{estate['c2']}",
        json=body,
        headers={**buyer, "If-Match": current.headers["etag"]},
    )

    _refused(answer, "project_id", "belongs to another legal entity")
