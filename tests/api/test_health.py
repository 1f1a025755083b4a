"""The API answers /health and publishes its OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tieline.api import create_app
from tieline.store import Store


def test_health_reports_ok_and_echoes_the_correlation_id(store: Store) -> None:
    client = TestClient(create_app(store))

    response = client.get("/health", headers={"X-Correlation-ID": "req-42"})

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["x-correlation-id"] == "req-42"


def test_a_malformed_correlation_id_is_replaced(store: Store) -> None:
    client = TestClient(create_app(store))

    response = client.get("/health", headers={"X-Correlation-ID": "bad id\twith tabs"})

    assert response.headers["x-correlation-id"] != "bad id\twith tabs"
    assert len(response.headers["x-correlation-id"]) == 36


def test_openapi_is_published(store: Store) -> None:
    document = TestClient(create_app(store)).get("/openapi.json").json()

    assert document["openapi"].startswith("3.")
    assert "/health" in document["paths"]
