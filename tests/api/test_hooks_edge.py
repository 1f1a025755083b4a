"""The `/hooks` edge: inbound webhooks skip the route stack but keep its duties."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tieline.api import create_app
from tieline.delivery import Scheme, add_source
from tieline.delivery.inbound import GroupCommitter
from tieline.settings import Settings
from tieline.store import Store
from tieline.store._delivery_schema import inbound_messages
from tieline.store._schema import outbox


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    """The API over `store`, with a small request size limit."""
    settings = Settings(data_dir=tmp_path / "var", max_request_bytes=2048)
    with TestClient(create_app(store, settings=settings)) as running:
        yield running


def _count(store: Store, table: object) -> int:
    with store.engine.connect() as connection:
        query = select(func.count()).select_from(table)  # type: ignore[arg-type]
        return int(connection.execute(query).scalar_one())


def test_an_answer_carries_the_security_headers_and_the_correlation_id(
    store: Store, client: TestClient
) -> None:
    source = add_source(store, "field", Scheme.TOKEN)

    answer = client.post(
        f"/hooks/field/{source.secret}",
        content=b'{"n": 1}',
        headers={"x-correlation-id": "site-7.push-1"},
    )

    assert answer.status_code == 202
    assert answer.headers["x-correlation-id"] == "site-7.push-1"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    with store.engine.connect() as connection:
        (envelope,) = connection.execute(select(outbox.c.envelope)).scalars()
    assert json.loads(envelope)["correlationid"] == "site-7.push-1"


def test_an_untame_correlation_id_is_replaced(store: Store, client: TestClient) -> None:
    source = add_source(store, "field", Scheme.TOKEN)

    answer = client.post(
        f"/hooks/field/{source.secret}",
        content=b'{"n": 1}',
        headers={"x-correlation-id": "bad id\twith tabs"},
    )

    assert answer.status_code == 202
    assert len(answer.headers["x-correlation-id"]) == 36


def test_an_unexpected_error_is_a_bare_500_with_the_correlation_id(
    store: Store, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = add_source(store, "field", Scheme.TOKEN)

    def explode(self: object, group: object) -> None:
        raise RuntimeError("secret internals at /srv/app/module.py line 42")

    monkeypatch.setattr(GroupCommitter, "_write", explode)

    answer = client.post(f"/hooks/field/{source.secret}", content=b'{"n": 1}')

    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "internals" not in answer.text
    assert answer.json()["correlation_id"] == answer.headers["x-correlation-id"]
    assert _count(store, inbound_messages) == 0


def test_the_request_size_limit_holds_on_hooks_too(
    store: Store, client: TestClient
) -> None:
    source = add_source(store, "field", Scheme.TOKEN)

    answer = client.post(
        f"/hooks/field/{source.secret}", content=b"[" + b"1," * 2000 + b"1]"
    )

    assert answer.status_code == 413
    assert _count(store, inbound_messages) == 0


def test_only_the_hooks_prefix_goes_to_the_receiver(client: TestClient) -> None:
    answer = client.post("/hooksfield/x", content=b"{}")

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
