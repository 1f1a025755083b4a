"""Submitting a requisition over the API, through approval to a commitment.

The estate and policy are the workflow tests' (pm.pat approves requisitions
of ACME-US under 10,000); callers are made as in test_workflow_routes.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tieline.governance import Role
from tieline.model import Commitment, CommitmentStatus, LegalEntity

from ..workflows.conftest import Flow
from .test_workflow_routes import People, flow, idp, people

__all__ = ["flow", "idp", "people"]

D = Decimal
CENT = D("0.01")
SUBMIT = "/v1/requisitions"


def _body(flow: Flow, number: str = "REQ-77", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": number,
        "project_id": flow.project.id,
        "supplier_id": flow.supplier.id,
        "description": "Formwork and ties for the east wall",
        "lines": [
            {"cost_code": "03 30 00", "quantity": "12.5", "unit_price": "45.10"},
            {
                "cost_code": "03 20 00",
                "quantity": "40",
                "unit": "bar",
                "unit_price": "12.37",
                "amount": "494.80",
            },
        ],
    }
    body.update(changes)
    return body


def _commitment(flow: Flow, number: str) -> Commitment | None:
    with flow.store.transaction() as tx:
        found = [c for c in tx.list(Commitment) if c.number == number]
    return found[0] if found else None


def test_a_submitted_requisition_is_approved_into_a_commitment(
    people: People, flow: Flow
) -> None:
    sam = people.person("site.sam", Role.BUYER, entity=flow.entity.id)
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)

    # When site.sam submits a requisition of two lines
    key = {"Idempotency-Key": "sam-req-77"}
    answer = people.client.post(SUBMIT, headers=sam | key, json=_body(flow))

    # Then it is stored as theirs, amounts worked out to the cent
    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert (made["number"], made["status"], made["requested_by"]) == (
        "REQ-77",
        "submitted",
        "site.sam",
    )
    assert [(line["line_key"], line["amount"]) for line in made["lines"]] == [
        ("1", str((D("12.5") * D("45.10")).quantize(CENT, ROUND_HALF_UP))),
        ("2", "494.80"),
    ]
    assert made["currency"] == "USD"
    assert answer.headers["ETag"] == '"v1"'
    assert answer.headers["Location"] == f"/v1/requisitions/{made['id']}"

    # And a retry with the same key answers the same, once; without, 409
    again = people.client.post(SUBMIT, headers=sam | key, json=_body(flow))
    assert (again.status_code, again.json()) == (201, made)
    twice = people.client.post(SUBMIT, headers=sam, json=_body(flow))
    assert twice.status_code == 409
    assert [e["field"] for e in twice.json()["errors"]] == ["number"]

    # When the workflow has taken it, it waits for pm.pat, and site.sam
    # (who requested it) cannot approve it
    flow.drive()
    tasks = people.client.get("/v1/tasks", headers=pat).json()["items"]
    assert "REQ-77" in [t["document_ref"] for t in tasks]
    own = people.client.post("/v1/documents/requisition/REQ-77/approve", headers=sam)
    assert own.status_code == 403
    assert "requester cannot approve" in own.json()["detail"]

    # When pm.pat approves it
    approved = people.client.post(
        "/v1/documents/requisition/REQ-77/approve", headers=pat, json={}
    )
    assert approved.json() == {"result": "REQ-77: approved"}
    flow.drive()

    # Then it is an approved commitment, line for line
    order = _commitment(flow, "PO-REQ-77")
    assert order is not None
    assert order.status is CommitmentStatus.APPROVED
    assert [(li.cost_code, li.quantity, li.amount) for li in order.lines] == [
        ("03 30 00", D("12.5"), D("563.75")),
        ("03 20 00", D("40"), D("494.80")),
    ]
    history = people.client.get(
        "/v1/documents/requisition/REQ-77/history", headers=pat
    ).json()["items"]
    assert [(h["to_state"], h["actor"], h["system"]) for h in history] == [
        ("submitted", "site.sam", "tieline"),
        ("approved", "pm.pat", "tieline"),
        # Raising the order is tieline's own step, not a second act of pm.pat.
        ("ordered", "system:order_from_requisition", "tieline"),
    ]

    # And the requisition reads back with its new ETag
    path = answer.headers["Location"]
    read = people.client.get(path, headers=pat | {"If-None-Match": '"v1"'})
    assert (read.status_code, read.json()["status"]) == (200, "ordered")
    unchanged = people.client.get(
        path, headers=pat | {"If-None-Match": read.headers["ETag"]}
    )
    assert unchanged.status_code == 304


def test_each_refusal_names_the_field_and_the_line(people: People, flow: Flow) -> None:
    sam = people.person("site.sam", Role.BUYER)
    lines = _body(flow)["lines"]

    def refused(**changes: Any) -> tuple[int, list[str], str]:
        answer = people.client.post(SUBMIT, headers=sam, json=_body(flow, **changes))
        body = answer.json()
        return answer.status_code, [e["field"] for e in body["errors"]], body["detail"]

    unknown_code = [lines[0], {**lines[1], "cost_code": "03 99 99"}]
    assert refused(lines=unknown_code) == (
        422,
        ["lines[1].cost_code"],
        "record requisition REQ-77 field lines[1].cost_code: line 2: no cost "
        "code '03 99 99' in masterformat or project P-1's own codes",
    )
    wrong_amount = [{**lines[0], "amount": "563.70"}]
    assert refused(lines=wrong_amount)[:2] == (422, ["lines[0].amount"])
    assert "12.5 x 45.10 = 563.75, not 563.70" in refused(lines=wrong_amount)[2]
    floated = [{**lines[0], "quantity": 12.5}]
    assert refused(lines=floated)[:2] == (422, ["lines[0].quantity"])
    no_price = [lines[0], {"cost_code": "03 20 00", "quantity": "1"}]
    assert refused(lines=no_price)[:2] == (422, ["lines[1].unit_price"])
    zero = [{**lines[0], "quantity": "0"}]
    assert refused(lines=zero)[:2] == (422, ["lines[0].quantity"])
    twice = [lines[0], {**lines[1], "line_key": "1"}]
    assert refused(lines=twice)[:2] == (422, ["lines[1].line_key"])
    assert refused(project_id="nowhere")[:2] == (422, ["project_id"])
    assert refused(supplier_id="nobody")[:2] == (422, ["supplier_id"])
    assert refused(requested_by="pm.pat")[:2] == (422, ["requested_by"])
    assert refused(lines=[])[:2] == (422, ["lines"])

    # Nothing was stored by any of them
    flow.drive()
    assert "REQ-77" not in [
        t["document_ref"]
        for t in people.client.get(
            "/v1/tasks", headers=people.person("pm.pat", Role.PROJECT_CONTROLLER)
        ).json()["items"]
    ]


def test_a_service_may_submit_but_never_approve(people: People, flow: Flow) -> None:
    # An integration's account, listed in the policy as a service, granted
    # every role it could hold (admin included)
    bot = people.service("svc.procore", Role.INTEGRATION_OPERATOR, Role.ADMIN)

    answer = people.client.post(SUBMIT, headers=bot, json=_body(flow, "REQ-78"))
    assert answer.status_code == 201, answer.text
    assert answer.json()["requested_by"] == "svc.procore"
    flow.drive()

    decided = people.client.post(
        "/v1/documents/requisition/REQ-78/approve", headers=bot
    )
    assert decided.status_code == 403
    assert decided.json()["type"] == "urn:tieline:problem:segregation-of-duties"


def test_who_may_not_submit_is_refused_and_audited(people: People, flow: Flow) -> None:
    other = LegalEntity.model_validate(
        {
            "origin": {"system": "t", "key": "OTHER"},
            "code": "OTHER",
            "name": "Other",
            "base_currency": "USD",
        }
    )
    with people.store.transaction() as tx:
        elsewhere = tx.save(other, actor="t").record.id
    callers = {
        "auditor": people.person("site.sam", Role.AUDITOR),
        "unknown to the policy": people.person("mallory", Role.BUYER),
        "buyer of another entity": people.person(
            "pm.pat", Role.BUYER, entity=elsewhere
        ),
    }

    answers = {
        who: people.client.post(SUBMIT, headers=headers, json=_body(flow))
        for who, headers in callers.items()
    }

    assert {who: a.status_code for who, a in answers.items()} == dict.fromkeys(
        callers, 403
    )
    assert answers["unknown to the policy"].json()["detail"] == (
        "human:mallory is no identity in the workflow policy's identities"
    )
    assert "project P-1" in answers["buyer of another entity"].json()["detail"]
    assert people.refusals() == [
        "requisitions",
        "requisitions",
        "requisition:REQ-77",
    ]
