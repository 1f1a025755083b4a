"""Identity administration over the API: grants name what exists."""

from __future__ import annotations

from typing import Any

import pytest

from tieline.governance import Role


@pytest.mark.parametrize(
    ("grant", "field"),
    [
        ({"role": "buyer", "legal_entity_id": "DOESNOTEXIST"}, "legal_entity_id"),
        (
            {"role": "partner", "legal_entity_id": "*", "supplier_id": "nosuch"},
            "supplier_id",
        ),
    ],
)
def test_a_grant_on_an_entity_or_supplier_that_does_not_exist_is_refused(
    hub: Any, estate: Any, grant: dict[str, str], field: str
) -> None:
    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    created = hub.client.post(
        "/v1/identities", json={"kind": "service", "name": "x"}, headers=admin
    )

    answer = hub.client.post(
        f"/v1/identities/{created.json()['id']}/grants", json=grant, headers=admin
    )
    me = hub.client.get("/v1/identities", headers=admin)

    assert answer.status_code == 422, answer.text
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert [i["name"] for i in me.json()] == ["admin", "x"]


def test_a_second_person_with_the_same_subject_is_a_422_not_a_500(
    hub: Any,
) -> None:
    admin = hub.caller("admin", (Role.ADMIN, "*", None))
    person = {"kind": "human", "issuer": "https://idp.test", "subject": "ana-1"}

    first = hub.client.post(
        "/v1/identities", json={**person, "name": "ana"}, headers=admin
    )
    second = hub.client.post(
        "/v1/identities", json={**person, "name": "ana2"}, headers=admin
    )

    assert first.status_code == 201
    assert second.status_code == 422, second.text
    assert second.json()["errors"][0]["field"] == "subject"
