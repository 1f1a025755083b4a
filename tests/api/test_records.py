"""Writes and reads: ETags, idempotency keys, cursors, problem details, events."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from tieline.governance import Role
from tieline.governance._schema import audit_log
from tieline.store._schema import outbox


@pytest.fixture
def operator(hub: Any) -> dict[str, str]:
    """An integration operator on every entity."""
    return hub.caller("operator", (Role.INTEGRATION_OPERATOR, "*", None))


def _project(estate: Any, key: str, **changes: Any) -> dict[str, Any]:
    body = {
        "origin": {"system": "pm", "key": key},
        "code": key,
        "name": f"Project {key}",
        "legal_entity_id": estate["le_a"],
        "currency": "EUR",
        "cost_code_system": "masterformat",
    }
    body.update(changes)
    return body


def _count(hub: Any, table: Any) -> int:
    with hub.store.transaction() as tx:
        return int(
            tx.connection.execute(select(func.count()).select_from(table)).scalar_one()
        )


def test_a_create_writes_one_event_and_one_audit_entry(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    events, entries = _count(hub, outbox), _count(hub, audit_log)

    created = hub.client.post(
        "/v1/projects", json=_project(estate, "P9"), headers=operator
    )

    assert created.status_code == 201
    assert created.headers["etag"] == '"v1"'
    assert created.headers["location"] == f"/v1/projects/{created.json()['id']}"
    assert _count(hub, outbox) == events + 1
    assert _count(hub, audit_log) == entries + 1
    with hub.store.transaction() as tx:
        entry = tx.connection.execute(
            select(audit_log).order_by(audit_log.c.seq.desc()).limit(1)
        ).one()
    assert (entry.actor, entry.action) == ("service:operator", "record.created")
    assert entry.target == f"project/{created.json()['id']}"
    assert entry.correlation_id == created.headers["x-correlation-id"]
    assert entry.source == "testclient"


def test_a_second_create_for_one_origin_is_a_conflict(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    hub.client.post("/v1/projects", json=_project(estate, "P9"), headers=operator)

    again = hub.client.post(
        "/v1/projects", json=_project(estate, "P9", name="Other"), headers=operator
    )

    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "origin"


def test_an_update_needs_the_current_etag(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    created = hub.client.post(
        "/v1/projects", json=_project(estate, "P9"), headers=operator
    )
    path = f"/v1/projects/{created.json()['id']}"

    missing = hub.client.put(
        path, json=_project(estate, "P9", name="A"), headers=operator
    )
    first = hub.client.put(
        path,
        json=_project(estate, "P9", name="A"),
        headers={**operator, "If-Match": '"v1"'},
    )
    stale = hub.client.put(
        path,
        json=_project(estate, "P9", name="B"),
        headers={**operator, "If-Match": '"v1"'},
    )

    assert missing.status_code == 428
    assert missing.headers["content-type"] == "application/problem+json"
    assert first.status_code == 200
    assert first.headers["etag"] == '"v2"'
    assert stale.status_code == 412
    assert hub.client.get(path, headers=operator).json()["name"] == "A"


def test_two_updates_with_one_etag_cannot_both_win(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    created = hub.client.post(
        "/v1/projects", json=_project(estate, "P9"), headers=operator
    )
    path = f"/v1/projects/{created.json()['id']}"
    answers: list[int] = []

    def update(name: str) -> None:
        answer = hub.client.put(
            path,
            json=_project(estate, "P9", name=name),
            headers={**operator, "If-Match": '"v1"'},
        )
        answers.append(answer.status_code)

    threads = [threading.Thread(target=update, args=(f"N{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200, 412, 412, 412]


def test_an_update_cannot_change_the_origin(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    created = hub.client.post(
        "/v1/projects", json=_project(estate, "P9"), headers=operator
    )

    moved = hub.client.put(
        f"/v1/projects/{created.json()['id']}",
        json=_project(estate, "P10"),
        headers={**operator, "If-Match": '"v1"'},
    )

    assert moved.status_code == 422
    assert moved.json()["errors"][0]["field"] == "origin"


def test_the_same_idempotency_key_and_body_return_the_first_answer(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    headers = {**operator, "Idempotency-Key": "req-1"}
    events = _count(hub, outbox)

    first = hub.client.post(
        "/v1/projects", json=_project(estate, "P9"), headers=headers
    )
    again = hub.client.post(
        "/v1/projects", json=_project(estate, "P9"), headers=headers
    )

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    assert _count(hub, outbox) == events + 1


def test_the_same_idempotency_key_with_another_body_is_refused(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    headers = {**operator, "Idempotency-Key": "req-1"}
    hub.client.post("/v1/projects", json=_project(estate, "P9"), headers=headers)

    other = hub.client.post(
        "/v1/projects", json=_project(estate, "P9", name="Other"), headers=headers
    )

    assert other.status_code == 422
    assert other.json()["type"] == "urn:tieline:problem:idempotency-key-reused"


def test_idempotency_keys_belong_to_their_caller(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    other = hub.caller("other", (Role.INTEGRATION_OPERATOR, "*", None))
    hub.client.post(
        "/v1/projects",
        json=_project(estate, "P9"),
        headers={**operator, "Idempotency-Key": "same"},
    )

    mine = hub.client.post(
        "/v1/projects",
        json=_project(estate, "P8"),
        headers={**other, "Idempotency-Key": "same"},
    )

    assert mine.status_code == 201
    assert mine.json()["code"] == "P8"


def test_concurrent_retries_with_one_key_write_once(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    headers = {**operator, "Idempotency-Key": "burst"}
    events = _count(hub, outbox)
    answers: list[Any] = []

    def post() -> None:
        answers.append(
            hub.client.post(
                "/v1/projects", json=_project(estate, "P9"), headers=headers
            )
        )

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["id"] for a in answers}) == 1
    assert _count(hub, outbox) == events + 1


def test_pages_follow_opaque_cursors_in_both_orders(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    for number in range(7):
        hub.client.post(
            "/v1/cost-codes",
            json={
                "origin": {"system": "wbs", "key": f"w{number}"},
                "system": "wbs",
                "code": f"w{number}",
                "name": "n",
            },
            headers=operator,
        )

    def walk(sort: str) -> tuple[list[str], int]:
        codes: list[str] = []
        cursor, pages = None, 0
        while True:
            params = {"limit": 3, "sort": sort, "source_system": "wbs"}
            if cursor:
                params["cursor"] = cursor
            page = hub.client.get("/v1/cost-codes", params=params, headers=operator)
            assert page.status_code == 200, page.text
            codes += [item["code"] for item in page.json()["items"]]
            pages += 1
            cursor = page.json()["next_cursor"]
            if cursor is None:
                return codes, pages

    forward, pages = walk("created_at")
    backward, _ = walk("-created_at")

    assert forward == [f"w{n}" for n in range(7)]
    assert backward == forward[::-1]
    assert pages == 3


def test_a_cursor_for_another_sort_or_forged_is_refused(
    hub: Any, operator: dict[str, str]
) -> None:
    for key in ("a", "b"):
        hub.client.post(
            "/v1/cost-codes",
            json={
                "origin": {"system": "wbs", "key": key},
                "system": "wbs",
                "code": key,
                "name": "n",
            },
            headers=operator,
        )
    page = hub.client.get("/v1/cost-codes", params={"limit": 1}, headers=operator)
    cursor = page.json()["next_cursor"]

    other_sort = hub.client.get(
        "/v1/cost-codes",
        params={"cursor": cursor, "sort": "-changed_at"},
        headers=operator,
    )
    forged = hub.client.get("/v1/cost-codes", params={"cursor": "!!"}, headers=operator)

    assert other_sort.status_code == 400
    assert forged.status_code == 400
    assert forged.json()["errors"][0]["field"] == "cursor"


def test_filters_narrow_a_list(hub: Any, estate: Any, operator: dict[str, str]) -> None:
    by_project = hub.client.get(
        "/v1/budgets", params={"project_id": estate["p_a"]}, headers=operator
    )
    by_status = hub.client.get(
        "/v1/commitments", params={"status": "approved"}, headers=operator
    )

    assert [item["id"] for item in by_project.json()["items"]] == [estate["budget1"]]
    assert {item["id"] for item in by_status.json()["items"]} == {
        estate["c1"],
        estate["c3"],
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"unexpected": 1}, "unexpected"),
        ({"id": "chosen-by-client"}, "id"),
        ({"version": 7}, "version"),
        ({"currency": "XXQ"}, "currency"),
        ({"code": ""}, "code"),
    ],
)
def test_problems_name_the_field_at_fault(
    hub: Any, estate: Any, operator: dict[str, str], change: dict[str, Any], field: str
) -> None:
    answer = hub.client.post(
        "/v1/projects", json=_project(estate, "P9", **change), headers=operator
    )

    body = answer.json()
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert body["status"] == 422
    assert field in [error["field"] for error in body["errors"]]
    assert body["correlation_id"] == answer.headers["x-correlation-id"]


def test_a_float_amount_is_refused_naming_its_line(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    body = sample("commitment", "c9", estate.ids)
    body["lines"][0]["amount"] = 10.5

    answer = hub.client.post("/v1/commitments", json=body, headers=operator)

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "lines[0].amount"


def test_an_amount_too_precise_for_its_currency_names_the_field(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    body = sample("payment", "pay9", estate.ids)
    body["amount"] = "10.005"

    answer = hub.client.post("/v1/payments", json=body, headers=operator)

    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "amount"


def test_an_unknown_route_is_a_problem_too(hub: Any, operator: dict[str, str]) -> None:
    answer = hub.client.get("/v1/nothing-here", headers=operator)

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_rule_across_fields_of_the_record_is_a_422_not_a_500(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str]
) -> None:
    # A merged supplier must say what it merged into: the body's shape is
    # fine, the record's own rule refuses it.
    body = sample("supplier", "s9", estate.ids)
    body["status"] = "merged"

    answer = hub.client.post("/v1/suppliers", json=body, headers=operator)

    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert "merged_into" in answer.json()["detail"]


def test_if_match_star_matches_the_current_record(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    # RFC 9110 section 13.1.1: "*" matches any current representation.
    created = hub.client.post(
        "/v1/projects", json=_project(estate, "P9"), headers=operator
    )
    path = f"/v1/projects/{created.json()['id']}"

    answer = hub.client.put(
        path,
        json=_project(estate, "P9", name="A"),
        headers={**operator, "If-Match": "*"},
    )

    assert answer.status_code == 200, answer.text
    assert answer.headers["etag"] == '"v2"'


def test_a_read_with_the_current_etag_is_not_modified(
    hub: Any, estate: Any, operator: dict[str, str]
) -> None:
    path = f"/v1/projects/{estate['p_a']}"
    first = hub.client.get(path, headers=operator)

    again = hub.client.get(
        path, headers={**operator, "If-None-Match": first.headers["etag"]}
    )
    star = hub.client.get(path, headers={**operator, "If-None-Match": "*"})
    stale = hub.client.get(path, headers={**operator, "If-None-Match": '"v0"'})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert star.status_code == 304
    assert stale.status_code == 200
    assert stale.json() == first.json()


@pytest.mark.parametrize("value", [[], {"n": 1}, True])
def test_a_wrong_type_in_a_line_names_the_lines_field(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str], value: Any
) -> None:
    body = sample("commitment", "c9", estate.ids)
    body["lines"][0]["quantity"] = value

    answer = hub.client.post("/v1/commitments", json=body, headers=operator)

    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["lines[0].quantity"]


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "XDR"])
def test_a_code_that_is_no_currency_is_refused(
    hub: Any, estate: Any, sample: Any, operator: dict[str, str], code: str
) -> None:
    body = dict(sample("commitment", "c9", estate.ids), currency=code)

    answer = hub.client.post("/v1/commitments", json=body, headers=operator)

    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == ["currency"]
