"""The API's edge: bodies refused before any route parses them."""

from __future__ import annotations

from typing import Any

import pytest

from tieline.governance import Role


@pytest.mark.parametrize("depth", [100_000, 500, 65])
def test_a_deeply_nested_body_is_a_400_problem(hub: Any, depth: int) -> None:
    operator = hub.caller("operator", (Role.INTEGRATION_OPERATOR, "*", None))
    body = b'{"origin": ' + b"[" * depth + b"]" * depth + b"}"

    answers = [
        hub.client.post(
            "/v1/projects",
            content=body,
            headers={**headers, "Content-Type": "application/json"},
        )
        for headers in (operator, {})
    ]

    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "nested deeper than 64 levels" in answer.json()["detail"]


def test_a_body_nested_as_deep_as_allowed_reaches_validation(hub: Any) -> None:
    operator = hub.caller("operator", (Role.INTEGRATION_OPERATOR, "*", None))
    body = b'{"origin": ' + b"[" * 63 + b"]" * 63 + b"}"

    answer = hub.client.post(
        "/v1/projects",
        content=body,
        headers={**operator, "Content-Type": "application/json"},
    )

    assert answer.status_code == 422
