"""Workflow actions over the API: tasks, approve, reject, history, by role.

People sign in with their identity provider's token; their tieline identity
is named after their workflow identity (`pm.pat`), which is how the API maps
a caller to a workflow person. The estate and policy are the workflow tests'
(site.sam requests from Procore, pm.pat approves small requisitions).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tieline.api import create_app
from tieline.governance import IdentityKind, Role, create_identity, grant_role
from tieline.governance._schema import audit_log
from tieline.governance.identities import issue_api_key
from tieline.governance.roles import ALL_SCOPES
from tieline.model import LegalEntity
from tieline.settings import Settings
from tieline.store import Store
from tieline.workflows import DutiesNotSegregated, Hub, parse_policies
from tieline.workflows.people import approve, history, reject, tasks_for

from ..workflows.conftest import POLICY, Flow, build_estate
from ..workflows.helpers import award, invoice
from .test_authentication import AUDIENCE, ISSUER, _person_token, idp

__all__ = ["idp"]

APPROVE = "/v1/documents/requisition/REQ-5/approve"
HISTORY = "/v1/documents/requisition/REQ-5/history"


class People:
    """An API with people and services made on demand."""

    def __init__(self, store: Store, client: TestClient, idp: dict[str, Any]) -> None:
        self.store = store
        self.client = client
        self.idp = idp

    def person(
        self,
        name: str,
        *roles: Role,
        supplier: str | None = None,
        entity: str = "*",
    ) -> dict[str, str]:
        """Bearer headers of a person named `name` holding `roles` in `entity`."""
        with self.store.transaction() as tx:
            identity = create_identity(
                tx.connection,
                IdentityKind.HUMAN,
                name,
                issuer=ISSUER,
                subject=f"sub-{name}",
            )
            for role in roles:
                grant_role(
                    tx.connection,
                    identity,
                    role,
                    legal_entity_id=entity,
                    supplier_id=supplier,
                    granted_by="tests",
                )
        token = _person_token(self.idp, f"sub-{name}")
        return {"Authorization": f"Bearer {token}"}

    def service(self, name: str, *roles: Role) -> dict[str, str]:
        """API-key headers of a service identity holding `roles` everywhere."""
        with self.store.transaction() as tx:
            identity = create_identity(tx.connection, IdentityKind.SERVICE, name)
            for role in roles:
                grant_role(
                    tx.connection,
                    identity,
                    role,
                    legal_entity_id="*",
                    granted_by="tests",
                )
            key = issue_api_key(
                tx.connection, identity, scopes=[s.value for s in ALL_SCOPES]
            )
        return {"X-API-Key": key.token}

    def refusals(self) -> list[str]:
        """The targets of audited permission refusals, in order."""
        with self.store.engine.connect() as connection:
            rows = connection.execute(
                select(audit_log.c.target, audit_log.c.details)
                .where(audit_log.c.action == "permission.refused")
                .order_by(audit_log.c.seq)
            )
            return [row.target for row in rows]


def serve_people(
    store: Store, flow: Flow, tmp_path: Path, idp: dict[str, Any]
) -> Iterator[People]:
    """The API over `store` with the flow's workflows, taking the test
    provider's tokens; the body of each module's `people` fixture."""
    settings = Settings(
        data_dir=tmp_path / "var",
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks=str(idp["jwks"]),
    )
    app = create_app(store, settings=settings)
    app.state.workflow_hub = flow.hub
    with TestClient(app) as client:
        yield People(store, client, idp)


@pytest.fixture
def flow(store: Store) -> Flow:
    """The workflow estate, with REQ-5 (450.00) waiting for pm.pat."""
    built = build_estate(store)
    built.save(built.requisition("REQ-5", ("1", "03 30 00", "10", "45.00")))
    built.save(built.requisition("REQ-6", ("1", "03 30 00", "2", "45.00")))
    built.drive()
    return built


@pytest.fixture
def people(
    store: Store, flow: Flow, tmp_path: Path, idp: dict[str, Any]
) -> Iterator[People]:
    """The API over the flow's store, accepting the test provider's tokens."""
    yield from serve_people(store, flow, tmp_path, idp)


def test_the_assigned_person_sees_the_task_and_approves_it(people: People) -> None:
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)

    tasks = people.client.get("/v1/tasks", headers=pat)
    assert tasks.status_code == 200
    assert tasks.json()["person"] == "pm.pat"
    # Both arrived at the same instant on the test's clock, so in either order.
    assert sorted(t["document_ref"] for t in tasks.json()["items"]) == [
        "REQ-5",
        "REQ-6",
    ]

    answer = people.client.post(APPROVE, headers=pat, json={"comment": "fine"})
    assert answer.status_code == 200
    assert answer.json() == {"result": "REQ-5: approved"}
    history = people.client.get(HISTORY, headers=pat).json()["items"]
    assert [(h["to_state"], h["actor"], h["comment"]) for h in history] == [
        ("submitted", "site.sam", None),
        ("approved", "pm.pat", "fine"),
        # Approval raises the purchase order in the same step, as tieline's.
        ("ordered", "system:order_from_requisition", "PO-REQ-5"),
    ]
    left = people.client.get("/v1/tasks", headers=pat).json()["items"]
    assert [t["document_ref"] for t in left] == ["REQ-6"]
    # and the order it raised has a history of its own, which no one decides
    order = "/v1/documents/order/PO-REQ-5"
    steps = people.client.get(f"{order}/history", headers=pat)
    assert steps.status_code == 200, steps.text
    assert [h["to_state"] for h in steps.json()["items"]][:1] == ["awaiting_dispatch"]
    undecidable = people.client.post(f"{order}/approve", headers=pat, json={})
    assert undecidable.status_code == 409, undecidable.text


def test_a_service_identity_can_never_approve(people: People) -> None:
    bot = people.service("svc.procore", Role.ADMIN)
    answer = people.client.post(APPROVE, headers=bot)
    assert answer.status_code == 403
    body = answer.json()
    assert body["type"] == "urn:tieline:problem:segregation-of-duties"
    assert body["detail"] == (
        "segregation of duties: service:svc.procore is a service identity; only "
        "a person can decide a workflow document"
    )
    assert people.refusals() == ["requisition:REQ-5"]


def test_the_requester_cannot_approve_their_own_requisition(people: People) -> None:
    sam = people.person("site.sam", Role.BUYER)
    answer = people.client.post(APPROVE, headers=sam)
    assert answer.status_code == 403
    assert "requester cannot approve" in answer.json()["detail"]
    assert people.refusals() == ["requisition:REQ-5"]


def test_a_person_the_policy_did_not_assign_is_refused(people: People) -> None:
    fay = people.person("fin.fay", Role.FINANCE_APPROVER)
    answer = people.client.post(APPROVE, headers=fay)
    assert answer.status_code == 403
    assert "fin.fay" in answer.json()["detail"]


def test_a_person_unknown_to_the_workflow_policy_is_refused(people: People) -> None:
    stranger = people.person("mallory", Role.FINANCE_APPROVER)
    answer = people.client.get("/v1/tasks", headers=stranger)
    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        "human:mallory is no person in the workflow policy's identities"
    )


def test_reject_needs_a_comment_naming_the_field(people: People) -> None:
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    path = "/v1/documents/requisition/REQ-6/reject"
    missing = people.client.post(path, headers=pat, json={})
    assert missing.status_code == 422
    assert [e["field"] for e in missing.json()["errors"]] == ["comment"]
    done = people.client.post(path, headers=pat, json={"comment": "wrong code"})
    assert done.json() == {"result": "REQ-6: rejected"}


@pytest.mark.parametrize(
    ("role", "read", "decide"),
    [
        (Role.AUDITOR, 200, 403),
        (Role.INTEGRATION_OPERATOR, 200, 403),
        (Role.PARTNER, 403, 403),
        (None, 403, 403),
    ],
    ids=lambda value: str(value),
)
def test_roles_that_may_only_read_or_nothing(
    people: People, flow: Flow, role: Role | None, read: int, decide: int
) -> None:
    supplier = flow.supplier.id if role is Role.PARTNER else None
    # Named pm.pat, so that only the role stands between them and a decision.
    headers = people.person("pm.pat", *([role] if role else []), supplier=supplier)
    answers = [
        people.client.get(HISTORY, headers=headers).status_code,
        people.client.get("/v1/tasks", headers=headers).status_code,
        people.client.post(APPROVE, headers=headers).status_code,
        people.client.post(
            "/v1/documents/requisition/REQ-6/reject",
            headers=headers,
            json={"comment": "no"},
        ).status_code,
    ]
    assert answers == [read, decide, decide, decide]
    assert len(people.refusals()) == answers.count(403)


def test_an_unknown_document_or_the_wrong_workflow_is_not_found(
    people: People,
) -> None:
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    missing = people.client.post(
        "/v1/documents/requisition/REQ-404/approve", headers=pat
    )
    wrong = people.client.get("/v1/documents/invoice/REQ-5/history", headers=pat)
    assert (missing.status_code, wrong.status_code) == (404, 404)


def test_a_document_of_another_legal_entity_is_not_found(people: People) -> None:
    # pm.pat is assigned by the policy, but holds their role in another entity
    other = LegalEntity.model_validate(
        {
            "origin": {"system": "t", "key": "OTHER"},
            "code": "OTHER",
            "name": "Other",
            "base_currency": "USD",
        }
    )
    with people.store.transaction() as tx:
        entity = tx.save(other, actor="t").record.id
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER, entity=entity)
    approve = people.client.post(APPROVE, headers=pat)
    history = people.client.get(HISTORY, headers=pat)
    assert (approve.status_code, history.status_code) == (404, 404)
    assert people.refusals() == ["requisition:REQ-5", "requisition:REQ-5"]


def _approvers_too(policy: str, document: str) -> str:
    """The policy with pm.pat also approving `document` (as in the review)."""
    rule = f'document = "{document}"\napprovers = ["dir.dan"]'
    assert rule in policy
    return policy.replace(
        rule, f'document = "{document}"\napprovers = ["dir.dan", "pm.pat"]'
    )


@pytest.fixture
def changes(people: People, flow: Flow) -> Flow:
    """pm.pat approves change orders and budget revisions too; SC-T1 is awarded."""
    policy = _approvers_too(_approvers_too(POLICY, "change_order"), "budget_revision")
    flow.hub = Hub(parse_policies(policy), clock=flow.clock)
    people.client.app.state.workflow_hub = flow.hub  # type: ignore[attr-defined]
    flow.save(flow.subcontract("SC-T1", ("A", "03 30 00", "20000.00")))
    return flow


def _change_order(flow: Flow, number: str) -> dict[str, Any]:
    commitment = flow.subcontract("SC-T1", ("A", "03 30 00", "20000.00"))
    return {
        "origin": {"system": "tieline", "key": number},
        "commitment_id": commitment.id,
        "number": number,
        "reason": "extra pour",
        "currency": "USD",
        "status": "submitted",
        "lines": [{"line_key": "A", "cost_code": "03 30 00", "amount": "4321.09"}],
    }


def _revision(flow: Flow, number: str) -> dict[str, Any]:
    return {
        "origin": {"system": "tieline", "key": number},
        "project_id": flow.project.id,
        "number": number,
        "reason": "thicker slab",
        "currency": "USD",
        "status": "submitted",
        "lines": [{"cost_code": "03 30 00", "amount": "5000.00"}],
    }


@pytest.mark.parametrize(
    ("segment", "workflow", "body"),
    [
        ("change-orders", "change_order", _change_order),
        ("budget-revisions", "budget_revision", _revision),
    ],
)
def test_whoever_wrote_a_change_over_the_api_cannot_approve_it(
    people: People, changes: Flow, segment: str, workflow: str, body: Any
) -> None:
    # Given pm.pat (also one of its approvers) submits a change over the API
    pat = people.person("pm.pat", Role.BUYER, Role.PROJECT_CONTROLLER)
    dan = people.person("dir.dan", Role.FINANCE_APPROVER)
    made = people.client.post(f"/v1/{segment}", headers=pat, json=body(changes, "X-02"))
    assert made.status_code == 201, made.text
    changes.drive()

    # Then it waits for dir.dan only: pm.pat's own request is no task of theirs
    mine = people.client.get("/v1/tasks", headers=pat).json()["items"]
    assert "X-02" not in [t["document_ref"] for t in mine]
    waiting = people.client.get("/v1/tasks", headers=dan).json()["items"]
    assert "X-02" in [t["document_ref"] for t in waiting]

    # When pm.pat approves it under his Odoo login (as `tieline approve --as`
    # does), or over the API, each is refused, naming both logins
    with pytest.raises(DutiesNotSegregated) as refused:
        approve(changes.store, changes.hub, "X-02", "odoo:ppat")
    assert str(refused.value) == (
        "X-02: pm.pat requested it (as tieline:pm.pat) and cannot approve it "
        "(as odoo:ppat) (requester cannot approve)"
    )
    path = f"/v1/documents/{workflow}/X-02/approve"
    own = people.client.post(path, headers=pat, json={})
    assert own.status_code == 403
    assert own.json()["detail"].endswith(
        "(as tieline:pm.pat) (requester cannot approve)"
    )

    # Then another approver decides it, and the history names the requester
    assert people.client.post(path, headers=dan, json={}).json() == {
        "result": "X-02: approved"
    }
    steps = history(changes.store, "X-02")
    assert [(h.to_state, h.actor, h.actor_kind, h.system, h.login) for h in steps] == [
        ("submitted", "pm.pat", "person", "tieline", "pm.pat"),
        ("approved", "dir.dan", "person", "tieline", "dir.dan"),
    ]


def test_a_person_the_policy_does_not_know_blocks_decisions_on_their_change(
    people: People, changes: Flow
) -> None:
    # Given a buyer with no identity in the workflow policy submits a change
    mallory = people.person("mallory", Role.BUYER)
    made = people.client.post(
        "/v1/change-orders", headers=mallory, json=_change_order(changes, "X-03")
    )
    assert made.status_code == 201, made.text
    changes.drive()

    # When an approver decides it, it is refused: nobody can be told from them
    with pytest.raises(DutiesNotSegregated) as refused:
        approve(changes.store, changes.hub, "X-03", "odoo:ddan")
    assert str(refused.value) == (
        "X-03: dir.dan cannot decide it: it was requested as tieline:mallory, a "
        "login the workflow policy maps to no identity, so its requester cannot "
        "be told apart from its approver; map that login in the policy's "
        "identities (requester unknown to the policy)"
    )

    # Then, once the policy maps mallory, her approvers decide as usual
    mapped = POLICY + '\n[[identity]]\nid = "mallory"\nlogins = { odoo = "mal" }\n'
    hub = Hub(parse_policies(mapped), clock=changes.clock)
    with pytest.raises(DutiesNotSegregated, match="requester cannot approve"):
        approve(changes.store, hub, "X-03", "odoo:mal")
    assert approve(changes.store, hub, "X-03", "odoo:ddan") == "X-03: approved"


def _put_status(people: People, headers: dict[str, str], path: str, status: str) -> Any:
    current = people.client.get(path, headers=headers)
    body = {
        k: v
        for k, v in current.json().items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }
    return people.client.put(
        path,
        json=dict(body, status=status),
        headers={**headers, "If-Match": current.headers["etag"]},
    )


def test_a_decision_of_the_records_own_system_is_in_its_workflow_history(
    people: People, changes: Flow
) -> None:
    # Given two change orders Procore's integration sent, waiting for dir.dan
    procore = people.service("procore", Role.INTEGRATION_OPERATOR)
    paths = []
    for number in ("X-04", "X-05"):
        body = dict(
            _change_order(changes, number), origin={"system": "procore", "key": number}
        )
        made = people.client.post("/v1/change-orders", headers=procore, json=body)
        assert made.status_code == 201, made.text
        paths.append(made.headers["Location"])
    changes.drive()
    reject(changes.store, changes.hub, "X-05", "odoo:ddan", "not agreed")

    # When Procore approves both in Procore and its integration writes that
    answers = [_put_status(people, procore, path, "approved") for path in paths]
    changes.drive()

    # Then the first is approved in its workflow by Procore, no longer a task
    assert [a.status_code for a in answers] == [200, 200]
    last = history(changes.store, "X-04")[-1]
    assert (last.to_state, last.actor, last.actor_kind, last.system, last.login) == (
        "approved",
        "system:procore",
        "system",
        "procore",
        "procore",
    )
    dan = [t.document_ref for t in tasks_for(changes.store, changes.hub, "dir.dan")]
    assert "X-04" not in dan

    # And the one rejected here is not forced: it goes to the exception queue
    assert history(changes.store, "X-05")[-1].to_state == "rejected"
    (flagged,) = [
        t
        for t in tasks_for(changes.store, changes.hub, "ctrl.cy")
        if t.document_ref == "X-05"
    ]
    assert flagged.reason == (
        "X-05: procore wrote it approved, which its change_order workflow cannot "
        "follow (rejected is final); settle it with that system"
    )


def test_whoever_keyed_an_invoice_in_cannot_approve_it(
    people: People, flow: Flow
) -> None:
    # Given pm.pat keys in an invoice billing goods not yet received
    order = award(flow, "PO-2", "25", "45.00")
    keyed = invoice(order, "INV-2", ("1", "25", "45.00", "1125.00"), system="mail")
    body = {
        k: v
        for k, v in keyed.model_dump(mode="json").items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }
    pat = people.person("pm.pat", Role.ACCOUNTS_PAYABLE)
    made = people.client.post("/v1/invoices", headers=pat, json=body)
    assert made.status_code == 201, made.text
    flow.drive()

    # Then it waits for its approver, who is pm.pat, and he may not approve it
    with pytest.raises(DutiesNotSegregated, match="requester cannot approve"):
        approve(flow.store, flow.hub, "INV-2", "odoo:ppat")
    assert "INV-2" not in [
        t.document_ref for t in tasks_for(flow.store, flow.hub, "pm.pat")
    ]
