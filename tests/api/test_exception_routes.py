"""The exception queue over the API: list, show, assign, comment, resolve.

Two requisitions go a day past their approval SLA: REQ-1 (small) escalates
to dir.dan, REQ-2 (large) names no escalation, so the queue's supervisor
ctrl.cy owns it (the workflow tests' policy).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tieline.governance import Role
from tieline.model import LegalEntity
from tieline.store import Store
from tieline.workflows import sweep

from ..workflows.conftest import Flow, build_estate
from .test_authentication import idp
from .test_workflow_routes import People, serve_people

__all__ = ["idp"]


@pytest.fixture
def flow(store: Store) -> Flow:
    built = build_estate(store)
    built.save(
        built.requisition("REQ-1", ("1", "03 30 00", "10", "45.00")),
        built.requisition("REQ-2", ("1", "03 30 00", "1000", "45.00")),
    )
    built.drive()
    built.clock.advance(hours=25)
    opened = sweep(built.store, built.hub)
    assert sorted((e.document_ref, e.owner) for e in opened) == [
        ("REQ-1", "dir.dan"),
        ("REQ-2", "ctrl.cy"),
    ]
    return built


@pytest.fixture
def people(
    store: Store, flow: Flow, tmp_path: Path, idp: dict[str, Any]
) -> Iterator[People]:
    yield from serve_people(store, flow, tmp_path, idp)


def _ids(people: People, headers: dict[str, str], query: str = "") -> dict[str, int]:
    answer = people.client.get(f"/v1/exceptions{query}", headers=headers)
    assert answer.status_code == 200, answer.text
    return {e["document_ref"]: e["id"] for e in answer.json()["items"]}


def test_an_owner_sees_comments_hands_over_and_the_new_owner_resolves(
    people: People,
) -> None:
    dan = people.person("dir.dan", Role.FINANCE_APPROVER)
    fay = people.person("fin.fay", Role.FINANCE_APPROVER)
    assert list(_ids(people, dan, "?owner=dir.dan")) == ["REQ-1"]
    ident = _ids(people, dan)["REQ-1"]

    shown = people.client.get(f"/v1/exceptions/{ident}", headers=dan).json()
    assert (shown["workflow"], shown["document_state"], shown["owner"]) == (
        "requisition",
        "submitted",
        "dir.dan",
    )

    noted = people.client.post(
        f"/v1/exceptions/{ident}/comments",
        headers=fay,
        json={"text": "supplier confirmed the price"},
    )
    assert noted.status_code == 200, noted.text
    handed = people.client.post(
        f"/v1/exceptions/{ident}/assign", headers=dan, json={"to": "fin.fay"}
    )
    assert handed.json()["owner"] == "fin.fay"
    done = people.client.post(
        f"/v1/exceptions/{ident}/resolve", headers=fay, json={"note": "approved late"}
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["status"], body["resolved_by"]) == ("resolved", "fin.fay")
    assert [(n["author"], n["text"]) for n in body["notes"]] == [
        ("fin.fay", "supplier confirmed the price"),
        ("dir.dan", "assigned to fin.fay"),
        ("fin.fay", "approved late"),
    ]
    assert list(_ids(people, dan)) == ["REQ-2"]
    assert list(_ids(people, dan, "?status=resolved")) == ["REQ-1"]

    again = people.client.post(
        f"/v1/exceptions/{ident}/comments", headers=dan, json={"text": "late note"}
    )
    assert again.status_code == 409


def test_only_the_owner_or_the_supervisor_may_assign_or_resolve(
    people: People,
) -> None:
    pat = people.person("pm.pat", Role.PROJECT_CONTROLLER)
    cy = people.person("ctrl.cy", Role.FINANCE_APPROVER)
    ident = _ids(people, cy)["REQ-1"]
    refused = people.client.post(
        f"/v1/exceptions/{ident}/resolve", headers=pat, json={"note": "mine now"}
    )
    assert refused.status_code == 403
    assert refused.json()["detail"] == (
        f"exception {ident} (REQ-1): pm.pat may not resolve it; its owner "
        "dir.dan or the queue's supervisor ctrl.cy may"
    )
    assert people.refusals() == [f"exception:{ident}"]
    # The supervisor may.
    done = people.client.post(
        f"/v1/exceptions/{ident}/resolve", headers=cy, json={"note": "chased"}
    )
    assert done.json()["status"] == "resolved"


def test_bad_input_names_the_field(people: People) -> None:
    dan = people.person("dir.dan", Role.FINANCE_APPROVER)
    ident = _ids(people, dan)["REQ-1"]
    blank = people.client.post(
        f"/v1/exceptions/{ident}/resolve", headers=dan, json={"note": "  "}
    )
    assert blank.status_code == 422
    assert "needs a note" in blank.json()["detail"]
    nobody = people.client.post(
        f"/v1/exceptions/{ident}/assign", headers=dan, json={"to": "odoo:ghost"}
    )
    assert nobody.status_code == 422
    assert [e["field"] for e in nobody.json()["errors"]] == ["to"]
    unknown_owner = people.client.get("/v1/exceptions?owner=odoo:ghost", headers=dan)
    assert unknown_owner.status_code == 422
    missing = people.client.get("/v1/exceptions/999999", headers=dan)
    assert missing.status_code == 404


def test_a_service_reads_but_never_acts_and_a_partner_sees_nothing(
    people: People, flow: Flow
) -> None:
    bot = people.service("svc.procore", Role.INTEGRATION_OPERATOR)
    assert sorted(_ids(people, bot)) == ["REQ-1", "REQ-2"]
    ident = _ids(people, bot)["REQ-1"]
    acted = people.client.post(
        f"/v1/exceptions/{ident}/comments", headers=bot, json={"text": "x"}
    )
    assert acted.status_code == 403
    partner = people.person("pm.pat", Role.PARTNER, supplier=flow.supplier.id)
    assert people.client.get("/v1/exceptions", headers=partner).status_code == 403


def test_exceptions_of_another_legal_entity_are_hidden(people: People) -> None:
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
    dan = people.person("dir.dan", Role.FINANCE_APPROVER, entity=entity)
    assert _ids(people, dan) == {}
    cy = people.person("ctrl.cy", Role.FINANCE_APPROVER)
    ident = _ids(people, cy)["REQ-1"]
    hidden = people.client.get(f"/v1/exceptions/{ident}", headers=dan)
    resolve = people.client.post(
        f"/v1/exceptions/{ident}/resolve", headers=dan, json={"note": "x"}
    )
    assert (hidden.status_code, resolve.status_code) == (404, 404)
