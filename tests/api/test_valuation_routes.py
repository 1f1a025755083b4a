"""Certifying claims with figures, closing projects, releasing retention, by API.

The estate and policy are the workflow tests' (pm.pat certifies subcontract
claims, fin.fay releases retention, dir.dan closes projects); people sign in
with their identity provider's token, as in `test_workflow_routes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tieline.governance import Role
from tieline.governance._schema import audit_log
from tieline.model import ClaimLine, Commitment, ProgressClaim, Project
from tieline.store import Store

from ..workflows.conftest import Flow, build_estate, origin
from .test_authentication import idp
from .test_workflow_routes import People, serve_people

__all__ = ["idp"]

D = Decimal


def _claim(sc: Commitment, period: int, a: str, b: str) -> ProgressClaim:
    return ProgressClaim(
        origin=origin(f"{sc.number}-{period}"),
        commitment_id=sc.id,
        period=period,
        period_end=date(2026, 3, 31),
        currency="USD",
        lines=[
            ClaimLine(commitment_line_key="A", claimed_to_date=D(a)),
            ClaimLine(commitment_line_key="B", claimed_to_date=D(b)),
        ],
    )


@pytest.fixture
def flow(store: Store) -> Flow:
    """SC-1 (A 100 000.00, B 50 000.00, 5 %) with claim 1 waiting for pm.pat."""
    built = build_estate(store)
    sc = built.subcontract(
        "SC-1", ("A", "03 30 00", "100000.00"), ("B", "05 12 00", "50000.00")
    )
    built.save(sc, _claim(sc, 1, "40000.00", "10000.00"))
    built.drive()
    return built


@pytest.fixture
def people(
    store: Store, flow: Flow, tmp_path: Path, idp: dict[str, Any]
) -> Iterator[People]:
    """The API over the flow's store, accepting the test provider's tokens."""
    yield from serve_people(store, flow, tmp_path, idp)


def _ids(flow: Flow) -> tuple[str, str]:
    """SC-1's id and its first claim's id."""
    with flow.store.transaction() as tx:
        (sc,) = tx.list(Commitment)
        (claim,) = tx.list(ProgressClaim)
    return sc.id, claim.id


def _certify(people: People, flow: Flow, headers: dict[str, str], body: Any) -> Any:
    _, claim = _ids(flow)
    return people.client.post(
        f"/v1/documents/claim/{claim}/approve", headers=headers, json=body
    )


def _audited(people: People, action: str) -> list[str]:
    with people.store.engine.connect() as connection:
        rows = connection.execute(
            select(audit_log.c.target).where(audit_log.c.action == action)
        )
        return [row.target for row in rows]


def test_a_certifier_certifies_less_than_claimed_through_the_api(
    people: People, flow: Flow
) -> None:
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    body = {
        "comment": "A short",
        "lines": [{"line_key": "A", "certified_to_date": "38000.00"}],
    }

    answer = _certify(people, flow, pat, body)

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "result": "SC-1 claim 1: certified 48000.00 to date, retention held "
        "2400.00, amount due 45600.00"
    }
    _, claim_id = _ids(flow)
    claim = people.client.get(f"/v1/progress-claims/{claim_id}", headers=pat).json()
    assert [line["certified_to_date"] for line in claim["lines"]] == [
        "38000.00",
        "10000.00",
    ]


@pytest.mark.parametrize(
    ("lines", "field", "detail"),
    [
        (
            [{"line_key": "A", "certified_to_date": "40000.01"}],
            "lines[0].certified_to_date",
            "line A: 40000.01 certified is more than 40000.00 claimed",
        ),
        (
            [
                {"line_key": "B", "certified_to_date": "1.00"},
                {"line_key": "C", "certified_to_date": "1.00"},
            ],
            "lines[1].certified_to_date",
            "line C is not claimed in this claim",
        ),
        (
            [{"line_key": "A", "certified_to_date": "1.001"}],
            "lines[0].certified_to_date",
            "line A: 1.001 has more decimals than USD allows",
        ),
        (
            [{"line_key": "A", "certified_to_date": "1", "amount": "2"}],
            "lines[0].amount",
            None,
        ),
        (
            [{"line_key": "A", "certified_to_date": "-1.00"}],
            "lines[0].certified_to_date",
            None,
        ),
    ],
    ids=["over-claim", "unknown-line", "decimals", "unknown-field", "negative"],
)
def test_a_certified_figure_is_refused_naming_the_line_and_field(
    people: People,
    flow: Flow,
    lines: list[dict[str, str]],
    field: str,
    detail: str | None,
) -> None:
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    answer = _certify(people, flow, pat, {"lines": lines})
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    if detail is not None:
        assert answer.json()["detail"] == detail
    # Nothing was certified: the claim still waits for pm.pat
    tasks = people.client.get("/v1/tasks", headers=pat).json()["items"]
    assert [t["document_ref"] for t in tasks] == ["SC-1 claim 1"]


def test_certified_lines_are_refused_on_other_workflows(
    people: People, flow: Flow
) -> None:
    flow.save(flow.requisition("REQ-7", ("1", "03 30 00", "2", "10.00")))
    flow.drive()
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    path = "/v1/documents/requisition/REQ-7/approve"
    lines = people.client.post(
        path,
        headers=pat,
        json={"lines": [{"line_key": "1", "certified_to_date": "1.00"}]},
    )
    reduction = people.client.post(path, headers=pat, json={"allow_reduction": True})
    assert (lines.status_code, reduction.status_code) == (422, 422)
    assert [e["field"] for e in lines.json()["errors"]] == ["lines"]
    assert [e["field"] for e in reduction.json()["errors"]] == ["allow_reduction"]
    # Nothing was decided
    history = people.client.get(
        "/v1/documents/requisition/REQ-7/history", headers=pat
    ).json()["items"]
    assert [h["to_state"] for h in history] == ["submitted"]


def _checklist(people: People, flow: Flow, headers: dict[str, str]) -> Any:
    return people.client.get(
        f"/v1/projects/{flow.project.id}/closeout", headers=headers
    )


def test_the_closeout_checklist_names_what_blocks_and_closing_is_refused(
    people: People, flow: Flow
) -> None:
    dan = people.person("dir.dan", Role.ADMIN)
    auditor = people.person("aud.al", Role.AUDITOR)

    # The checklist: SC-1 open, its claim not certified
    answer = _checklist(people, flow, auditor)
    assert answer.status_code == 200, answer.text
    checklist = answer.json()
    assert (checklist["project"], checklist["ready"]) == ("P-1", False)
    assert [
        (c["check"], c["clear"], [b["document"] for b in c["blockers"]])
        for c in checklist["checks"]
    ] == [
        ("commitments_closed", False, ["SC-1"]),
        ("receipts_invoiced", True, []),
        ("claims_certified", False, ["SC-1 claim 1"]),
        ("retention_released", True, []),
    ]

    # Closing through the closeout action is refused, naming each blocker
    closed = people.client.post(
        f"/v1/projects/{flow.project.id}/closeout", headers=dan, json={}
    )
    assert closed.status_code == 409
    assert closed.json()["detail"] == (
        "P-1 cannot close: commitment SC-1 is still approved; SC-1 claim 1 is "
        "not certified"
    )
    assert [e["field"] for e in closed.json()["errors"]] == [
        "checklist.commitments_closed",
        "checklist.claims_certified",
    ]

    # And so is a plain update of the project to closed
    project = people.client.get(f"/v1/projects/{flow.project.id}", headers=dan)
    body = {
        k: v
        for k, v in project.json().items()
        if k not in {"id", "version", "changed_by", "changed_at"}
    }
    put = people.client.put(
        f"/v1/projects/{flow.project.id}",
        headers={**dan, "If-Match": project.headers["etag"]},
        json=dict(body, status="closed"),
    )
    assert put.status_code == 409, put.text
    assert put.json()["detail"] == closed.json()["detail"]
    with flow.store.transaction() as tx:
        stored = tx.get(Project, flow.project.id)
    assert stored is not None
    assert stored.status.value == "active"


def test_a_project_with_nothing_open_is_closed_by_the_closeout_person(
    people: People, flow: Flow
) -> None:
    empty = Project(
        origin=origin("P-2"),
        code="P-2",
        name="Harbour Shed",
        legal_entity_id=flow.entity.id,
        currency="USD",
        cost_code_system="masterformat",
    )
    flow.save(empty)
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    dan = people.person("dir.dan", Role.PROJECT_CONTROLLER)
    bot = people.service("svc.procore", Role.ADMIN)
    path = f"/v1/projects/{empty.id}/closeout"

    assert people.client.get(path, headers=pat).json()["ready"] is True
    by_pat = people.client.post(path, headers=pat)
    by_bot = people.client.post(path, headers=bot)
    by_dan = people.client.post(path, headers=dan, json={"comment": "handed over"})

    assert (by_pat.status_code, by_bot.status_code) == (403, 403)
    assert "assigned: dir.dan" in by_pat.json()["detail"]
    assert by_bot.json()["type"] == "urn:tieline:problem:segregation-of-duties"
    assert by_dan.status_code == 200, by_dan.text
    assert by_dan.json() == {"result": "P-2: closed"}
    project = people.client.get(f"/v1/projects/{empty.id}", headers=dan).json()
    assert project["status"] == "closed"
    history = people.client.get(
        f"/v1/documents/closeout/{empty.id}/history", headers=dan
    ).json()["items"]
    assert [(h["to_state"], h["actor"], h["comment"]) for h in history] == [
        ("open", "dir.dan", None),
        ("closed", "dir.dan", "handed over"),
    ]
    assert _audited(people, "workflow.closed") == [f"project:{empty.id}"]
    assert people.refusals() == [f"project:{empty.id}", f"project:{empty.id}"]


def test_retention_is_released_at_completion_by_the_retention_person(
    people: People, flow: Flow
) -> None:
    sc_id, _ = _ids(flow)
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    fay = people.person("fin.fay", Role.FINANCE_APPROVER)
    path = f"/v1/commitments/{sc_id}/retention/release"
    assert _certify(people, flow, pat, {}).status_code == 200

    # Before completion: refused, naming what is short
    early = people.client.post(path, headers=fay)
    assert early.status_code == 409
    assert early.json()["detail"] == (
        "SC-1: line A is certified 40000.00 of 100000.00; "
        "line B is certified 10000.00 of 50000.00"
    )

    # At completion: only fin.fay releases it, once
    with flow.store.transaction() as tx:
        (sc,) = tx.list(Commitment)
    flow.save(_claim(sc, 2, "100000.00", "50000.00"))
    flow.drive()
    with flow.store.transaction() as tx:
        second = next(c for c in tx.list(ProgressClaim) if c.period == 2)
    assert (
        people.client.post(
            f"/v1/documents/claim/{second.id}/approve", headers=pat
        ).status_code
        == 200
    )
    by_pat = people.client.post(path, headers=pat)
    done = people.client.post(path, headers=fay, json={"comment": "completion"})
    again = people.client.post(path, headers=fay)

    assert by_pat.status_code == 403
    assert done.status_code == 200, done.text
    assert done.json() == {"result": "SC-1: retention 7500.00 released"}
    assert again.status_code == 409
    assert "released already" in again.json()["detail"]
    assert _audited(people, "workflow.retention_released") == [f"commitment:{sc_id}"]
    history = people.client.get(
        f"/v1/documents/subcontract/{sc_id}/history", headers=fay
    ).json()["items"]
    assert [(h["to_state"], h["actor"], h["comment"]) for h in history][-1] == (
        "retention_released",
        "fin.fay",
        "completion",
    )
    with flow.store.transaction() as tx:
        released = tx.get(Commitment, sc_id)
    assert released is not None
    assert released.retention_released_on is not None


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
def test_roles_that_may_only_read_the_checklist_or_nothing(
    people: People, flow: Flow, role: Role | None, read: int, decide: int
) -> None:
    sc_id, _ = _ids(flow)
    supplier = flow.supplier.id if role is Role.PARTNER else None
    # Named as the deciders, so that only the role stands between them
    dan = people.person("dir.dan", *([role] if role else []), supplier=supplier)
    answers = [
        _checklist(people, flow, dan).status_code,
        people.client.post(
            f"/v1/projects/{flow.project.id}/closeout", headers=dan
        ).status_code,
        people.client.post(
            f"/v1/commitments/{sc_id}/retention/release", headers=dan
        ).status_code,
    ]
    assert answers == [read, decide, decide]
    assert len(people.refusals()) == answers.count(403)


def test_a_project_of_another_legal_entity_is_not_found(
    people: People, flow: Flow
) -> None:
    from tieline.model import LegalEntity

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
    dan = people.person("dir.dan", Role.PROJECT_CONTROLLER, entity=entity)
    sc_id, _ = _ids(flow)
    answers = [
        _checklist(people, flow, dan).status_code,
        people.client.post(
            f"/v1/projects/{flow.project.id}/closeout", headers=dan
        ).status_code,
        people.client.post(
            f"/v1/commitments/{sc_id}/retention/release", headers=dan
        ).status_code,
        people.client.get("/v1/projects/nope/closeout", headers=dan).status_code,
    ]
    assert answers == [404, 404, 404, 404]
    assert len(people.refusals()) == 3


def _requisition(flow: Flow, number: str, kind: str, **retention: str) -> Any:
    return {
        "number": number,
        "project_id": flow.project.id,
        "supplier_id": flow.supplier.id,
        "commitment_type": kind,
        "lines": [{"cost_code": "03 30 00", "quantity": "1", "unit_price": "8000.00"}],
        **retention,
    }


def test_a_subcontract_requisition_carries_its_retention_to_the_commitment(
    people: People, flow: Flow
) -> None:
    sam = people.person("site.sam", Role.BUYER, entity=flow.entity.id)
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    terms = "in full at practical completion"

    # When site.sam asks for a subcontract holding 5 % up to 300.00
    body = _requisition(
        flow,
        "REQ-80",
        "subcontract",
        retention_percent="5",
        retention_cap="300.00",
        retention_terms=terms,
    )
    answer = people.client.post("/v1/requisitions", headers=sam, json=body)
    assert answer.status_code == 201, answer.text
    flow.drive()
    approved = people.client.post(
        "/v1/documents/requisition/REQ-80/approve", headers=pat
    )
    assert approved.status_code == 200, approved.text

    # Then the subcontract it became holds the same retention and terms
    with flow.store.transaction() as tx:
        (made,) = [c for c in tx.list(Commitment) if c.number == "PO-REQ-80"]
    assert (made.retention_percent, made.retention_cap, made.retention_terms) == (
        D("5"),
        D("300.00"),
        terms,
    )


@pytest.mark.parametrize(
    ("retention", "field"),
    [
        ({"retention_percent": "5"}, "retention_percent"),
        ({"retention_terms": "at completion"}, "retention_terms"),
    ],
)
def test_an_order_requisition_with_retention_is_refused_naming_the_field(
    people: People, flow: Flow, retention: dict[str, str], field: str
) -> None:
    sam = people.person("site.sam", Role.BUYER, entity=flow.entity.id)
    body = _requisition(flow, "REQ-81", "purchase_order", **retention)
    answer = people.client.post("/v1/requisitions", headers=sam, json=body)
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert "subcontracts only" in answer.json()["detail"]
